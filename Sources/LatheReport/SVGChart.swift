import Foundation

/// An inline SVG scatter chart of method means with 95% CI error bars and a Pareto step line.
///
/// One `<circle class="point">` per point (the legend uses rectangles and lines only), so the
/// number of circles equals the number of methods plotted.
public struct ScatterChart: Sendable {
    /// One plotted configuration.
    public struct Point: Sendable {
        public var label: String
        public var group: String
        public var x: Double
        /// CI of x (nil: none drawn).
        public var xInterval: ClosedRange<Double>?
        public var y: Double
        /// CI of y (nil: none drawn).
        public var yInterval: ClosedRange<Double>?
        public var onFront: Bool
        /// Tooltip text (trial ids and values).
        public var tooltip: String
        public init(label: String, group: String, x: Double, xInterval: ClosedRange<Double>?, y: Double,
                    yInterval: ClosedRange<Double>?, onFront: Bool, tooltip: String) {
            self.label = label
            self.group = group
            self.x = x
            self.xInterval = xInterval
            self.y = y
            self.yInterval = yInterval
            self.onFront = onFront
            self.tooltip = tooltip
        }
    }

    public var id: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logX: Bool
    /// With `logX`: ticks at powers of two (byte sizes) instead of 1-2-5 × 10^k.
    public var binaryTicks: Bool = false
    /// The physically possible x values (e.g. latency ≥ 0); the axis never leaves them.
    public var xBounds: ClosedRange<Double>?
    /// The physically possible y values (e.g. accuracy 0…100 %); the axis never leaves them.
    public var yBounds: ClosedRange<Double>?
    public var points: [Point]
    /// Indices into `points` of the Pareto front, by increasing x.
    public var front: [Int]
    /// Group names in legend order (colors are assigned in this order).
    public var groups: [String]
    /// Formats an x tick value.
    public var formatX: @Sendable (Double) -> String
    /// Formats a y tick value.
    public var formatY: @Sendable (Double) -> String

    public init(id: String, title: String, xLabel: String, yLabel: String, logX: Bool, points: [Point], front: [Int],
                groups: [String], formatX: @escaping @Sendable (Double) -> String, formatY: @escaping @Sendable (Double) -> String) {
        self.id = id
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logX = logX
        self.points = points
        self.front = front
        self.groups = groups
        self.formatX = formatX
        self.formatY = formatY
    }

    // Geometry (SVG user units).
    static let width = 640.0, height = 440.0
    static let plotLeft = 64.0, plotRight = 452.0, plotTop = 44.0, plotBottom = 376.0
    static let legendX = 472.0

    /// Colors by group order; "baseline" is always dark gray.
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

    func color(of group: String) -> String {
        if group == ReportModel.baselineGroup { return "#333333" }
        let others = groups.filter { $0 != ReportModel.baselineGroup }
        let i = others.firstIndex(of: group) ?? 0
        return Self.palette[i % Self.palette.count]
    }

    /// The SVG element.
    public func render() -> String {
        let W = Self.width, H = Self.height
        let L = Self.plotLeft, R = Self.plotRight, T = Self.plotTop, B = Self.plotBottom
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" id="\(HTML.escape(id))" class="chart" viewBox="0 0 \(Int(W)) \(Int(H))" \
        width="\(Int(W))" height="\(Int(H))" role="img" aria-label="\(HTML.escape(title))" font-family="sans-serif" font-size="12">
        <title>\(HTML.escape(title))</title>
        <rect x="0" y="0" width="\(Int(W))" height="\(Int(H))" fill="#ffffff"/>
        <text x="\(f((L + R) / 2))" y="24" text-anchor="middle" font-size="15" font-weight="bold">\(HTML.escape(title))</text>

        """
        guard !points.isEmpty else {
            s += "<text x=\"\(f((L + R) / 2))\" y=\"\(f((T + B) / 2))\" text-anchor=\"middle\" fill=\"#666\">no data: no method has both metrics</text>\n</svg>"
            return s
        }

        // Scales: from the means, widened by the intervals only as far as the means' own spread
        // (huge intervals are clipped, not drawn to scale), never beyond the physical bounds.
        var xs = Self.domain(points.map(\.x), intervals: points.compactMap(\.xInterval), bounds: xBounds, log: logX)
        if logX { xs = xs.filter { $0 > 0 } }
        let xAxis = !logX ? Axis.linear(min: xs.min() ?? 0, max: xs.max() ?? 1, bounds: xBounds)
            : binaryTicks ? Axis.log2(min: xs.min() ?? 1, max: xs.max() ?? 2) : Axis.log(min: xs.min() ?? 1, max: xs.max() ?? 10)
        let ys = Self.domain(points.map(\.y), intervals: points.compactMap(\.yInterval), bounds: yBounds, log: false)
        let yAxis = Axis.linear(min: ys.min() ?? 0, max: ys.max() ?? 1, bounds: yBounds)
        func px(_ x: Double) -> Double { L + (R - L) * xAxis.fraction(x) }
        func py(_ y: Double) -> Double { B - (B - T) * yAxis.fraction(y) }

        // Grid, ticks and tick labels.
        s += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n"
        for t in yAxis.ticks { s += "<line x1=\"\(f(L))\" y1=\"\(f(py(t)))\" x2=\"\(f(R))\" y2=\"\(f(py(t)))\"/>\n" }
        for t in xAxis.ticks { s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(T))\" x2=\"\(f(px(t)))\" y2=\"\(f(B))\"/>\n" }
        s += "</g>\n<g class=\"axes\" stroke=\"#222\" stroke-width=\"1\">\n"
        s += "<line x1=\"\(f(L))\" y1=\"\(f(B))\" x2=\"\(f(R))\" y2=\"\(f(B))\"/>\n"
        s += "<line x1=\"\(f(L))\" y1=\"\(f(T))\" x2=\"\(f(L))\" y2=\"\(f(B))\"/>\n"
        for t in yAxis.ticks { s += "<line x1=\"\(f(L - 5))\" y1=\"\(f(py(t)))\" x2=\"\(f(L))\" y2=\"\(f(py(t)))\"/>\n" }
        for t in xAxis.ticks { s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(B))\" x2=\"\(f(px(t)))\" y2=\"\(f(B + 5))\"/>\n" }
        for t in xAxis.minorTicks { s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(B))\" x2=\"\(f(px(t)))\" y2=\"\(f(B + 3))\"/>\n" }
        s += "</g>\n<g class=\"tick-labels\" fill=\"#222\">\n"
        for t in yAxis.ticks {
            s += "<text class=\"y-tick\" x=\"\(f(L - 8))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(HTML.escape(formatY(t)))</text>\n"
        }
        for t in xAxis.ticks {
            s += "<text class=\"x-tick\" x=\"\(f(px(t)))\" y=\"\(f(B + 19))\" text-anchor=\"middle\">\(HTML.escape(formatX(t)))</text>\n"
        }
        s += "</g>\n"
        s += "<text class=\"x-label\" x=\"\(f((L + R) / 2))\" y=\"\(f(B + 44))\" text-anchor=\"middle\" font-size=\"13\">\(HTML.escape(xLabel))</text>\n"
        s += "<text class=\"y-label\" x=\"\(f(18))\" y=\"\(f((T + B) / 2))\" text-anchor=\"middle\" font-size=\"13\" "
            + "transform=\"rotate(-90 18 \(f((T + B) / 2)))\">\(HTML.escape(yLabel))</text>\n"

        // Pareto step line: hold each front point's accuracy until the next cheaper-or-equal-cost point.
        let frontPoints = front.filter { points.indices.contains($0) }.map { points[$0] }
        if let first = frontPoints.first {
            var d = "M \(f(px(first.x))) \(f(py(first.y)))"
            for b in frontPoints.dropFirst() { d += " H \(f(px(b.x))) V \(f(py(b.y)))" }
            d += " H \(f(R))"
            s += "<path class=\"pareto-front\" d=\"\(d)\" fill=\"none\" stroke=\"#111\" stroke-width=\"1.6\" stroke-dasharray=\"6 3\"/>\n"
        }

        // Error bars (clipped to the axes, an arrowhead where clipped), then points, then labels.
        s += "<g class=\"error-bars\" stroke-width=\"1.2\">\n"
        for p in points {
            let c = color(of: p.group)
            if let i = p.yInterval, i.upperBound > i.lowerBound {
                let lo = Swift.max(i.lowerBound, yAxis.lower), hi = Swift.min(i.upperBound, yAxis.upper)
                let x = px(p.x), y0 = py(lo), y1 = py(hi)
                s += "<path d=\"M \(f(x)) \(f(y0)) V \(f(y1))\" stroke=\"\(c)\"/>\n"
                s += end(x: x, y: y0, clipped: lo > i.lowerBound, direction: (0, 1), color: c)
                s += end(x: x, y: y1, clipped: hi < i.upperBound, direction: (0, -1), color: c)
            }
            if let i = p.xInterval, i.upperBound > i.lowerBound {
                let lo = Swift.max(i.lowerBound, xAxis.lower), hi = Swift.min(i.upperBound, xAxis.upper)
                let y = py(p.y), x0 = px(lo), x1 = px(hi)
                s += "<path d=\"M \(f(x0)) \(f(y)) H \(f(x1))\" stroke=\"\(c)\"/>\n"
                s += end(x: x0, y: y, clipped: lo > i.lowerBound, direction: (-1, 0), color: c)
                s += end(x: x1, y: y, clipped: hi < i.upperBound, direction: (1, 0), color: c)
            }
        }
        s += "</g>\n<g class=\"points\">\n"
        for p in points {
            let stroke = p.onFront ? "stroke=\"#000\" stroke-width=\"2.2\"" : "stroke=\"#fff\" stroke-width=\"1\""
            s += "<circle class=\"point\(p.onFront ? " on-front" : "")\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"5.5\" "
                + "fill=\"\(color(of: p.group))\" \(stroke)><title>\(HTML.escape(p.tooltip))</title></circle>\n"
        }
        s += "</g>\n<g class=\"point-labels\" font-size=\"11\" fill=\"#222\">\n"
        let (labels, unlabelled) = labelPlacement(px: px, py: py)
        for p in labels {
            let hover = p.text == p.full ? "" : "<title>\(HTML.escape(p.full))</title>"
            s += "<text x=\"\(f(p.x))\" y=\"\(f(p.y))\" text-anchor=\"\(p.anchor)\">\(hover)\(HTML.escape(p.text))</text>\n"
        }
        s += "</g>\n"

        // Legend: groups, then the front and the error bars.
        var ly = T + 6
        s += "<g class=\"legend\" font-size=\"12\" fill=\"#222\">\n"
        s += "<text x=\"\(f(Self.legendX))\" y=\"\(f(ly))\" font-weight=\"bold\">Group</text>\n"
        ly += 18
        for g in groups {
            s += "<rect x=\"\(f(Self.legendX))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" rx=\"3\" fill=\"\(color(of: g))\"/>"
            let name = Self.clip(g, 20), hover = name == g ? "" : "<title>\(HTML.escape(g))</title>"
            s += "<text x=\"\(f(Self.legendX + 18))\" y=\"\(f(ly))\">\(hover)\(HTML.escape(name))</text>\n"
            ly += 18
        }
        ly += 8
        if !front.isEmpty {
            s += "<line x1=\"\(f(Self.legendX))\" y1=\"\(f(ly - 4))\" x2=\"\(f(Self.legendX + 22))\" y2=\"\(f(ly - 4))\" stroke=\"#111\" stroke-width=\"1.6\" stroke-dasharray=\"6 3\"/>"
            s += "<text x=\"\(f(Self.legendX + 28))\" y=\"\(f(ly))\">Pareto front</text>\n"
            ly += 18
            s += "<rect x=\"\(f(Self.legendX + 5))\" y=\"\(f(ly - 10))\" width=\"11\" height=\"11\" rx=\"5.5\" fill=\"#bbb\" stroke=\"#000\" stroke-width=\"2.2\"/>"
            s += "<text x=\"\(f(Self.legendX + 28))\" y=\"\(f(ly))\">on the front</text>\n"
            ly += 18
        }
        s += "<path d=\"M \(f(Self.legendX + 10)) \(f(ly - 12)) V \(f(ly + 2)) M \(f(Self.legendX + 6)) \(f(ly - 12)) H \(f(Self.legendX + 14)) "
            + "M \(f(Self.legendX + 6)) \(f(ly + 2)) H \(f(Self.legendX + 14))\" stroke=\"#555\" stroke-width=\"1.2\"/>"
        s += "<text x=\"\(f(Self.legendX + 28))\" y=\"\(f(ly))\">95% CI over seeds</text>\n"
        ly += 18
        s += "<path class=\"clip-marker\" d=\"M \(f(Self.legendX + 5)) \(f(ly - 8)) L \(f(Self.legendX + 15)) \(f(ly - 8)) "
            + "L \(f(Self.legendX + 10)) \(f(ly - 1)) Z\" fill=\"#555\"/>"
        s += "<text x=\"\(f(Self.legendX + 28))\" y=\"\(f(ly))\">CI beyond the axis</text>\n"
        // Points whose label found no free spot beside them: named here instead (color, then name).
        if !unlabelled.isEmpty {
            ly += 26
            s += "<text x=\"\(f(Self.legendX))\" y=\"\(f(ly))\" font-weight=\"bold\">Also plotted</text>\n"
            // Room for the names, keeping one line for "+N more" when they do not all fit.
            let room = Swift.max(0, Int((H - 4 - ly) / 16))
            let listed = unlabelled.count <= room ? unlabelled : Array(unlabelled.prefix(Swift.max(0, room - 1)))
            for i in listed {
                ly += 16
                let p = points[i], short = Self.clip(p.label, 22)
                s += "<g class=\"unlabelled\"><title>\(HTML.escape(p.tooltip))</title>"
                s += "<rect x=\"\(f(Self.legendX + 2))\" y=\"\(f(ly - 9))\" width=\"9\" height=\"9\" rx=\"4.5\" fill=\"\(color(of: p.group))\"/>"
                s += "<text x=\"\(f(Self.legendX + 16))\" y=\"\(f(ly))\" font-size=\"11\">\(HTML.escape(short))</text></g>\n"
            }
            if listed.count < unlabelled.count, room > 0 {
                ly += 16
                s += "<text class=\"more\" x=\"\(f(Self.legendX + 2))\" y=\"\(f(ly))\" font-size=\"11\">+\(unlabelled.count - listed.count) more "
                    + "(hover the points)</text>\n"
            }
        }
        s += "</g>\n</svg>"
        return s
    }

    /// The end of an error bar at (x, y): a cap, or where the interval was clipped at the axis
    /// an arrowhead (`class="clipped"`) pointing outward along `direction`.
    func end(x: Double, y: Double, clipped: Bool, direction d: (Double, Double), color: String) -> String {
        guard clipped else {
            let cap = d.0 == 0 ? "M \(f(x - 4)) \(f(y)) H \(f(x + 4))" : "M \(f(x)) \(f(y - 4)) V \(f(y + 4))"
            return "<path d=\"\(cap)\" stroke=\"\(color)\"/>\n"
        }
        let tip = (x + 6 * d.0, y + 6 * d.1), side = (d.1 * 4, d.0 * 4)
        return "<path class=\"clipped\" d=\"M \(f(tip.0)) \(f(tip.1)) L \(f(x + side.0)) \(f(y + side.1)) "
            + "L \(f(x - side.0)) \(f(y - side.1)) Z\" fill=\"\(color)\" stroke=\"none\"/>\n"
    }

    /// The values an axis must show: the means, and the intervals cut to the means' range widened
    /// by its own width on each side (at least 5 % of the largest mean), all inside `bounds`.
    static func domain(_ means: [Double], intervals: [ClosedRange<Double>], bounds: ClosedRange<Double>?, log: Bool) -> [Double] {
        let finite = means.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return [] }
        var values = finite
        if log {
            // Multiplicative: at most the means' ratio (and 2×) either way.
            let factor = Swift.max(lo > 0 ? hi / lo : 1, 2)
            for i in intervals { values += [Swift.max(i.lowerBound, lo / factor), Swift.min(i.upperBound, hi * factor)] }
        } else {
            let reach = Swift.max(hi - lo, 0.05 * Swift.max(abs(lo), abs(hi)), 1e-9)
            for i in intervals { values += [Swift.max(i.lowerBound, lo - reach), Swift.min(i.upperBound, hi + reach)] }
        }
        guard let bounds else { return values }
        return values.map { Swift.min(Swift.max($0, bounds.lowerBound), bounds.upperBound) }
    }

    struct Label {
        var x: Double, y: Double, anchor: String, text: String
        /// The unshortened label (shown on hover when `text` is shortened).
        var full: String
    }

    /// Labels beside their point: the first of a few candidate spots (above right, below right,
    /// above left, below left, then further up or down) that overlaps neither an earlier label
    /// nor another point and stays inside the plot. Points with no such spot get no label on
    /// the plot; their indices are returned (the legend names them).
    func labelPlacement(px: (Double) -> Double, py: (Double) -> Double) -> (labels: [Label], unlabelled: [Int]) {
        var placed: [(x0: Double, x1: Double, y0: Double, y1: Double)] = []
        let dots = points.map { (x: px($0.x), y: py($0.y)) }
        var out: [Label] = [], unlabelled: [Int] = []
        let order = points.indices.sorted { (dots[$0].y, dots[$0].x) < (dots[$1].y, dots[$1].x) }
        for i in order {
            let text = Self.clip(points[i].label, 28)
            let w = Double(text.count) * 6.1, h = 11.0
            let (cx, cy) = dots[i]
            // (dx, baseline dy, right-aligned)
            var candidates: [(Double, Double, Bool)] = [(8, -6, false), (8, 15, false), (-8, -6, true), (-8, 15, true)]
            for k in 1...8 { candidates += [(8, -6 - 12 * Double(k), false), (8, 15 + 12 * Double(k), false)] }
            func box(_ c: (Double, Double, Bool)) -> (x0: Double, x1: Double, y0: Double, y1: Double) {
                let x0 = c.2 ? cx + c.0 - w : cx + c.0
                return (x0, x0 + w, cy + c.1 - h + 2, cy + c.1 + 2)
            }
            func fits(_ b: (x0: Double, x1: Double, y0: Double, y1: Double)) -> Bool {
                guard b.x0 >= Self.plotLeft + 2, b.x1 <= Self.plotRight + 16, b.y0 >= Self.plotTop - 4, b.y1 <= Self.plotBottom - 2 else { return false }
                if placed.contains(where: { $0.x0 < b.x1 && b.x0 < $0.x1 && $0.y0 < b.y1 && b.y0 < $0.y1 }) { return false }
                return !dots.enumerated().contains { j, d in
                    j != i && d.x + 6 > b.x0 && d.x - 6 < b.x1 && d.y + 6 > b.y0 && d.y - 6 < b.y1
                }
            }
            guard let chosen = candidates.first(where: { fits(box($0)) }) else {
                unlabelled.append(i)
                continue
            }
            placed.append(box(chosen))
            out.append(Label(x: cx + chosen.0, y: cy + chosen.1, anchor: chosen.2 ? "end" : "start", text: text, full: points[i].label))
        }
        return (out, unlabelled.sorted())
    }

    /// `s` shortened to `n` characters with an ellipsis in the middle (the ends tell labels apart).
    static func clip(_ s: String, _ n: Int) -> String {
        guard s.count > n else { return s }
        let head = (n - 1) / 2
        return String(s.prefix(head)) + "…" + String(s.suffix(n - 1 - head))
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// An axis: domain, ticks and the mapping to [0, 1].
struct Axis {
    var lower: Double
    var upper: Double
    var log: Bool
    var ticks: [Double]
    var minorTicks: [Double] = []

    func fraction(_ v: Double) -> Double {
        if log {
            let a = Foundation.log10(lower), b = Foundation.log10(upper)
            return b > a ? (Foundation.log10(Swift.max(v, lower * 1e-3)) - a) / (b - a) : 0.5
        }
        return upper > lower ? (v - lower) / (upper - lower) : 0.5
    }

    /// A 1-2-5 step giving about `count` intervals over `span`.
    static func niceStep(_ span: Double, count: Double = 5) -> Double {
        let raw = span / count
        let p = pow(10, floor(log10(raw)))
        let m = raw / p
        return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p
    }

    /// A linear axis covering [min, max] with a margin, ending on ticks, never leaving `bounds`
    /// (there it ends at the bound, and only ticks inside it are drawn).
    static func linear(min lo: Double, max hi: Double, bounds: ClosedRange<Double>? = nil) -> Axis {
        var lo = lo, hi = hi
        if !(hi > lo) {
            let pad = Swift.max(abs(lo) * 0.05, 1e-6)
            lo -= pad
            hi += pad
        }
        let margin = (hi - lo) * 0.06
        lo -= margin
        hi += margin
        let step = niceStep(hi - lo)
        var a = floor(lo / step) * step, b = ceil(hi / step) * step
        var ticks: [Double] = []
        var t = a
        while t <= b + step * 1e-6 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        if let bounds {
            a = Swift.max(a, bounds.lowerBound)
            b = Swift.min(b, bounds.upperBound)
            ticks = ticks.filter { $0 >= a - step * 1e-6 && $0 <= b + step * 1e-6 }
        }
        return Axis(lower: a, upper: b, log: false, ticks: ticks)
    }

    /// A positive domain around [lo, hi] for a log axis: a point widened to a factor of 2 either
    /// way, then a 25% margin.
    private static func logDomain(_ lo: Double, _ hi: Double) -> (Double, Double) {
        var lo = Swift.max(lo, 1e-12), hi = Swift.max(hi, lo)
        if !(hi > lo) {
            lo /= 2
            hi *= 2
        }
        return (lo / 1.25, hi * 1.25)
    }

    /// A log axis covering [min, max] (positive) with a margin, ticks at powers of two (every
    /// second or fourth power when the range is wide); the domain snaps to ticks when fewer
    /// than two would show.
    static func log2(min lo: Double, max hi: Double) -> Axis {
        let (lo, hi) = logDomain(lo, hi)
        let a = floor(Foundation.log2(lo)), b = ceil(Foundation.log2(hi))
        let step = Swift.max(1, ceil((b - a) / 7))
        let all = stride(from: a, through: b, by: step).map { pow(2, $0) }
        let inside = all.filter { $0 >= lo && $0 <= hi }
        if inside.count >= 2 { return Axis(lower: lo, upper: hi, log: true, ticks: inside) }
        return Axis(lower: pow(2, a), upper: pow(2, b), log: true, ticks: all)
    }

    /// A base-10 log axis covering [min, max] (positive) with a margin; ticks at 1-2-5 × 10^k
    /// (only powers of ten labelled when the range spans more than two decades).
    static func log(min lo: Double, max hi: Double) -> Axis {
        let (lo, hi) = logDomain(lo, hi)
        let decades = log10(hi) - log10(lo)
        let mantissas: [Double] = decades > 2.2 ? [1] : decades > 1.1 ? [1, 2, 5] : [1, 1.5, 2, 3, 5, 7]
        var ticks: [Double] = [], minor: [Double] = []
        var k = floor(log10(lo))
        while pow(10, k) <= hi * 10 {
            for m in 1...9 {
                let v = Double(m) * pow(10, k)
                guard v >= lo, v <= hi else { continue }
                if mantissas.contains(Double(m)) { ticks.append(v) } else { minor.append(v) }
            }
            if decades <= 1.1 {
                let v = 1.5 * pow(10, k)
                if v >= lo, v <= hi { ticks.append(v) }
            }
            k += 1
        }
        ticks.sort()
        if ticks.count < 2 { ticks = [lo * 1.25, hi / 1.25] }
        return Axis(lower: lo, upper: hi, log: true, ticks: ticks, minorTicks: minor)
    }
}
