import Foundation

/// A speedup over the same seed's baseline with its 95% interval, as the report shows it.
public struct SpeedupFigure: Sendable, Equatable {
    /// Where the interval comes from.
    public enum Interval: String, Sendable {
        /// Over seeds: the paired ratio (geometric mean, exp(mean log ± t·s/√n)).
        case seeds
        /// One trial: the latency phase's interval from its per-round paired ratios.
        case rounds
    }

    public var estimate: Double
    public var lower: Double?
    public var upper: Double?
    public var interval: Interval?
    /// Trials behind it.
    public var n: Int
    /// The latency's own noise (relative half-width of a median's 95% interval), when known.
    public var noise: Double?

    /// The speedup cannot be told from timing noise: its interval contains 1.00, or it is closer
    /// to 1.00 than a median is known to (a 0.3 % "speedup" measured to ±0.1 % is still no
    /// speedup a reader should act on). False without an interval.
    public var withinNoise: Bool {
        guard let lower, let upper else { return false }
        if lower <= 1 && 1 <= upper { return true }
        if let noise, abs(estimate - 1) <= noise { return true }
        return false
    }

    /// A trial's speedup `metric` with its per-round interval (`metric_lower`, `metric_upper`).
    public static func of(_ trial: ReportModel.Trial, _ metric: String) -> SpeedupFigure? {
        guard let value = trial.metrics[metric] else { return nil }
        let lower = trial.metrics[ReportMetric.lower(metric)], upper = trial.metrics[ReportMetric.upper(metric)]
        return SpeedupFigure(estimate: value, lower: lower, upper: upper, interval: lower != nil && upper != nil ? .rounds : nil, n: 1,
                             noise: ReportMetric.noise[metric].flatMap { trial.metrics[$0] })
    }

    /// A configuration's speedup `metric`: over two or more seeds the paired ratio and its
    /// interval; with one seed that trial's per-round interval.
    public static func of(_ aggregate: ReportModel.MethodAggregate, _ metric: String, in model: ReportModel) -> SpeedupFigure? {
        if let p = aggregate.paired[metric], p.n >= 2 {
            return SpeedupFigure(estimate: p.estimate, lower: p.lower, upper: p.upper, interval: .seeds, n: p.n,
                                 noise: ReportMetric.noise[metric].flatMap { LatencySummary.median(model, $0) })
        }
        guard let id = aggregate[metric]?.trialIDs.first, let trial = model.trial(id) else { return nil }
        return of(trial, metric)
    }
}

/// The latency lines of a report's header: how latency was measured, the control (the baseline
/// timed against a copy of itself) and the noise figure; the same text in HTML and Markdown.
public enum LatencySummary {
    /// Text for sweeps without latency figures (`--no-latency`, or a failed phase).
    public static let notMeasured = "latency not measured (the sweep ran with --no-latency, or its latency phase failed: the sweep's log and <out>/logs/latency.log say which)"

    /// "b1" for `speedup_b1`.
    static func batch(_ metric: String) -> String { metric.replacingOccurrences(of: "speedup_", with: "") }

    /// The baseline trials' control speedups `metric` (done baseline trials that recorded it).
    static func controls(_ model: ReportModel, _ metric: String) -> [(id: Int64, figure: SpeedupFigure)] {
        model.trials.filter { $0.status == "done" && $0.group == ReportModel.baselineGroup }
            .compactMap { t in SpeedupFigure.of(t, metric).map { (id: t.id, figure: $0) } }
    }

    /// The median of the done trials' `name` values, if any has it.
    static func median(_ model: ReportModel, _ name: String) -> Double? {
        let values = model.trials.filter { $0.status == "done" }.compactMap { $0.metrics[name] }.sorted()
        return values.isEmpty ? nil : PairedStatistic.percentile(values, 0.5)
    }

    /// The sentences (plain text): what was measured, the control per batch size with each
    /// baseline trial's interval, the noise, and a warning when a control misses 1.00.
    public static func lines(_ model: ReportModel) -> [String] {
        guard model.hasLatency else { return ["Latency: \(notMeasured)."] }
        let phase = [ReportMetric.latencyB1Noise, ReportMetric.latencyB256Noise].contains(where: model.metricNames.contains)
            || ReportMetric.speedups.map(ReportMetric.lower).contains(where: model.metricNames.contains)
        guard phase else {
            return ["Latency: measured inside each trial while other trials ran (a sweep from before the latency phase): "
                + "no intervals and no control, so speedups cannot be told from noise."]
        }
        var lines = ["Latency: median ms per forward pass; all models timed after the trials in one process, interleaved. "
            + "Speedup = the same seed's baseline median / the trial's median, with a 95% interval (one trial: from the per-round "
            + "paired ratios; a configuration: the paired ratio over seeds); “within noise” marks an interval that contains 1.00 "
            + "or a speedup closer to 1.00 than the latency's own noise (below)."]
        var control: [String] = [], failing: [String] = []
        for metric in ReportMetric.speedups {
            let trials = controls(model, metric)
            guard !trials.isEmpty else { continue }
            let perTrial = trials.map { "#\($0.id) \(ReportFormat.speedup($0.figure, mark: false))" }.joined(separator: ", ")
            control.append("\(batch(metric)) \(perTrial)")
            failing += trials.filter { $0.figure.interval != nil && !$0.figure.withinNoise }.map { "\(batch(metric)) #\($0.id)" }
        }
        lines.append(control.isEmpty ? "Control (baseline vs itself): not recorded."
            : "Control (baseline vs itself, must read 1.00 within its interval): \(control.joined(separator: "; ")).")
        let noise = ReportMetric.speedups.compactMap { m in
            ReportMetric.noise[m].flatMap { median(model, $0) }.map { "\(batch(m)) ±\(ReportFormat.fixed($0 * 100, 1)) %" }
        }
        if !noise.isEmpty {
            lines.append("Noise (median over trials of a median's 95% CI half-width): \(noise.joined(separator: ", ")).")
        }
        if model.metricNames.contains(ReportMetric.ortLatencyB1) {
            lines.append("ONNX Runtime (--backend ort): every trial's model exported to ONNX (QDQ int8 where its quantization has a QDQ "
                + "form, else fp32) and timed in ONNX Runtime after libtorch's phase, interleaved; ORT speedup = the same seed's "
                + "baseline median / the trial's median in ONNX Runtime, over seeds by the paired ratio.")
        }
        if !failing.isEmpty {
            lines.append("Warning: the control misses 1.00 (\(failing.joined(separator: ", "))): the machine was not quiet enough "
                + "for these speedups to be trusted.")
        }
        return lines
    }
}
