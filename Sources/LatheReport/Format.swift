import Foundation

/// How reports print numbers, the same way in HTML and Markdown.
///
/// Accuracy in % with 2 decimals; accuracy deltas in points with a sign and 2 decimals; sizes
/// in B / KiB / MiB; latency in ms with 3 significant digits; "±" is the 95% CI half-width;
/// a single value (n = 1) has no CI and prints "(n=1)". CSV and JSON carry the raw values.
public enum ReportFormat {
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "–" }
        let s = String(format: "%.\(decimals)f", value)
        // No "-0.00".
        if s.hasPrefix("-"), s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(s.dropFirst()) }
        return s
    }

    /// An accuracy (0…1) in percent with 2 decimals, e.g. "91.23".
    public static func percent(_ accuracy: Double) -> String { fixed(accuracy * 100, 2) }

    /// A signed value with 2 decimals, e.g. "+0.12" / "-1.50" (points).
    public static func signed(_ value: Double) -> String {
        let s = fixed(value, 2)
        return s.hasPrefix("-") || s == fixed(0, 2) ? s : "+" + s
    }

    /// A byte count: "512 B", "61.7 KiB", "1.23 MiB".
    public static func bytes(_ value: Double) -> String {
        let a = abs(value)
        if a < 1024 { return fixed(value, 0) + " B" }
        if a < 1024 * 1024 { return fixed(value / 1024, 1) + " KiB" }
        if a < 1024 * 1024 * 1024 { return fixed(value / (1024 * 1024), 2) + " MiB" }
        return fixed(value / (1024 * 1024 * 1024), 2) + " GiB"
    }

    /// A byte count for an axis tick, without trailing zeros: "512 B", "16 KiB", "1.5 MiB".
    public static func bytesTick(_ value: Double) -> String {
        let a = abs(value)
        if a < 1024 { return plain(value) + " B" }
        if a < 1024 * 1024 { return plain(value / 1024) + " KiB" }
        if a < 1024 * 1024 * 1024 { return plain(value / (1024 * 1024)) + " MiB" }
        return plain(value / (1024 * 1024 * 1024)) + " GiB"
    }

    /// A duration in milliseconds with 3 significant digits: "0.412", "4.12", "41.2", "412".
    public static func milliseconds(_ value: Double) -> String {
        let a = abs(value)
        if a >= 100 { return fixed(value, 0) }
        if a >= 10 { return fixed(value, 1) }
        if a >= 1 { return fixed(value, 2) }
        return fixed(value, 3)
    }

    /// A ratio: "7.92×".
    public static func ratio(_ value: Double) -> String { fixed(value, 2) + "×" }

    /// A plain number with up to 3 decimals, trailing zeros removed: "8", "6.5", "0.125".
    public static func plain(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var s = fixed(value, 3)
        while s.contains("."), s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// A count with thousands separators: "61,706".
    public static func count(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return plain(value) }
        let digits = String(Int64(value.rounded()).magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// How a metric's numbers print: a scale, a number of decimals (or another style) and a unit
    /// suffix, chosen from the metric's name and the magnitude of a representative value (the
    /// mean), so that a mean and its CI half-width print with the same decimals and unit.
    struct Style {
        enum Kind { case fixed(Int), signed(Int), count, plain }
        var scale: Double = 1
        var kind: Kind
        var suffix: String = ""

        func number(_ v: Double, signedAllowed: Bool = true) -> String {
            let x = v * scale
            switch kind {
            case .fixed(let d): return ReportFormat.fixed(x, d)
            case .signed(let d): return signedAllowed ? ReportFormat.signed(x) : ReportFormat.fixed(x, d)
            case .count: return ReportFormat.count(x)
            case .plain: return ReportFormat.plain(x)
            }
        }
    }

    static func style(metric name: String, magnitude m: Double) -> Style {
        let a = abs(m)
        switch name {
        case ReportMetric.accuracy, ReportMetric.baselineAccuracy: return Style(scale: 100, kind: .fixed(2))
        case ReportMetric.accuracyDelta, ReportMetric.sensitivityDrop: return Style(kind: .signed(2))
        case ReportMetric.flipRate: return Style(scale: 100, kind: .fixed(2), suffix: " %")
        case ReportMetric.klToBaseline: return Style(kind: .fixed(a >= 0.01 || a == 0 ? 4 : 6))
        case _ where name.hasSuffix("bytes"):
            if a < 1024 { return Style(kind: .fixed(0), suffix: " B") }
            if a < 1024 * 1024 { return Style(scale: 1.0 / 1024, kind: .fixed(1), suffix: " KiB") }
            if a < 1024 * 1024 * 1024 { return Style(scale: 1.0 / (1024 * 1024), kind: .fixed(2), suffix: " MiB") }
            return Style(scale: 1.0 / (1024 * 1024 * 1024), kind: .fixed(2), suffix: " GiB")
        case _ where name.hasSuffix("_ms"): return Style(kind: .fixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3))
        case ReportMetric.compressionRatio: return Style(kind: .fixed(2), suffix: "×")
        case ReportMetric.bitsPerWeight: return Style(kind: .fixed(3))
        case _ where name.hasPrefix("speedup_"): return Style(kind: .fixed(2), suffix: "×")
        case _ where name.hasSuffix("_noise"): return Style(scale: 100, kind: .fixed(1), suffix: " %")
        case _ where name.hasPrefix("sparsity"): return Style(scale: 100, kind: .fixed(1), suffix: " %")
        case ReportMetric.params, ReportMetric.macs, ReportMetric.paramsRemoved: return Style(kind: .count)
        case _ where name.hasSuffix("seconds"): return Style(kind: .fixed(1), suffix: " s")
        default: return Style(kind: .plain)
        }
    }

    /// Formats one value of metric (or layer stat) `name` in the unit suited to it.
    public static func value(_ value: Double, metric name: String) -> String {
        let st = style(metric: name, magnitude: value)
        return st.number(value) + st.suffix
    }

    /// "mean ± half-width" (same decimals and unit), "mean (n=1)" for a single value, just the
    /// mean when all values are equal or `withCI` is false, "–" for no values.
    public static func statistic(_ s: Statistic?, metric name: String, withCI: Bool = true) -> String {
        guard let s else { return "–" }
        let st = style(metric: name, magnitude: s.mean)
        let mean = st.number(s.mean)
        guard withCI else { return mean + st.suffix }
        guard let h = s.ciHalfWidth else { return "\(mean)\(st.suffix) (n=1)" }
        if h == 0 { return mean + st.suffix }
        return "\(mean) ± \(st.number(h, signedAllowed: false))\(st.suffix)"
    }

    /// A paired comparison: "mean [lower, upper] (n=3)" with the paired-t 95% interval, then
    /// "boot [lower, upper]" from 5 pairs on, and how many trials had no baseline of their seed;
    /// differences in signed points ("+0.12"), ratios as "0.25×"; "–" for none.
    public static func paired(_ p: PairedStatistic?) -> String {
        guard let p else { return "–" }
        func num(_ v: Double) -> String { p.kind == .ratio ? fixed(v, p.estimate < 10 ? 3 : 1) : signed(v) }
        let unit = p.kind == .ratio ? "×" : ""
        var s = num(p.estimate) + unit
        if p.statistic.ciHalfWidth != nil { s += " [\(num(p.lower)), \(num(p.upper))]" }
        if let lo = p.bootstrapLower, let hi = p.bootstrapUpper { s += " boot [\(num(lo)), \(num(hi))]" }
        s += " (n=\(p.n)"
        if !p.unpairedTrialIDs.isEmpty { s += ", \(p.unpairedTrialIDs.count) without baseline" }
        return s + ")"
    }

    /// A speedup: "1.52× [1.48, 1.56]", "(n=3)" when over seeds, then "within noise" (when
    /// `mark`) if its interval contains 1.00; "–" for none.
    public static func speedup(_ f: SpeedupFigure?, mark: Bool = true) -> String {
        guard let f else { return "–" }
        var s = fixed(f.estimate, 2) + "×"
        if let lo = f.lower, let hi = f.upper { s += " [\(fixed(lo, 2)), \(fixed(hi, 2))]" }
        if f.interval == .seeds { s += " (n=\(f.n))" }
        return mark && f.withinNoise ? s + " within noise" : s
    }

    /// Title of the paired comparison of `metric`.
    public static func pairedTitle(_ metric: String) -> String {
        switch metric {
        case ReportMetric.accuracy: return "Paired Δ accuracy (pts, 95% CI)"
        case ReportMetric.sizeBytes: return "Paired size ratio (95% CI)"
        case ReportMetric.speedupB1, ReportMetric.speedupB256: return title(metric) + " (95% CI)"
        default: return "Paired " + title(metric)
        }
    }

    /// Human title of a metric or layer stat.
    public static func title(_ name: String) -> String {
        switch name {
        case ReportMetric.accuracy: return "Accuracy (%)"
        case ReportMetric.baselineAccuracy: return "Baseline accuracy (%)"
        case ReportMetric.accuracyDelta: return "Δ vs baseline (pts)"
        case ReportMetric.flipRate: return "Flips vs baseline"
        case ReportMetric.klToBaseline: return "KL(baseline ‖ trial)"
        case ReportMetric.sizeBytes: return "Size"
        case ReportMetric.fp32SizeBytes: return "fp32 size"
        case ReportMetric.compressionRatio: return "Compression"
        case ReportMetric.bitsPerWeight: return "Bits/weight"
        case ReportMetric.params: return "Params"
        case ReportMetric.macs: return "MACs"
        case ReportMetric.latencyB1: return "Latency b1 (ms)"
        case ReportMetric.latencyB256: return "Latency b256 (ms)"
        case ReportMetric.speedupB1: return "Speedup b1"
        case ReportMetric.speedupB256: return "Speedup b256"
        case ReportMetric.ortLatencyB1: return "ORT latency b1 (ms)"
        case ReportMetric.ortLatencyB256: return "ORT latency b256 (ms)"
        case ReportMetric.ortSpeedupB1: return "ORT speedup b1"
        case ReportMetric.ortSpeedupB256: return "ORT speedup b256"
        case ReportMetric.sensitivityDrop: return "Sensitivity drop (pts)"
        default: return name.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// "#3 #7 #11".
    public static func trialIDs(_ ids: [Int64]) -> String { ids.map { "#\($0)" }.joined(separator: " ") }
}
