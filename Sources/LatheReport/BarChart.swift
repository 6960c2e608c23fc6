import Foundation

/// An inline SVG bar chart of non-negative values from zero (per-channel abs-max, per-layer
/// outlier ratios), with some bars highlighted.
///
/// One `<rect class="bar">` per value. Labels are drawn under each bar (rotated) when there are
/// at most `maxLabelledBars`; otherwise the x axis is numbered by bar index.
public struct BarChart: Sendable {
    public var id: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Bar heights (negative values are drawn as zero; non-finite ones are left out).
    public var values: [Double]
    /// A label per bar (its tooltip too), or empty to number the bars from 0.
    public var labels: [String]
    /// Indices of the bars drawn in the highlight color.
    public var highlighted: Set<Int>
    /// Formats a y tick value.
    public var formatY: @Sendable (Double) -> String

    public init(id: String, title: String, xLabel: String, yLabel: String, values: [Double], labels: [String] = [],
                highlighted: Set<Int> = [], formatY: @escaping @Sendable (Double) -> String) {
        self.id = id
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.values = values
        self.labels = labels
        self.highlighted = highlighted
        self.formatY = formatY
    }

    static let width = 640.0, height = 440.0
    static let plotLeft = 64.0, plotRight = 620.0, plotTop = 44.0
    /// Up to this many bars get their own (rotated) label.
    static let maxLabelledBars = 40
    static let barColor = "#1f77b4", highlightColor = "#d62728"

    /// The SVG element.
    public func render() -> String {
        let labelled = !labels.isEmpty && labels.count == values.count && values.count <= Self.maxLabelledBars
        let W = Self.width, H = Self.height, L = Self.plotLeft, R = Self.plotRight, T = Self.plotTop
        let B = labelled ? H - 130 : H - 64
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" id="\(HTML.escape(id))" class="chart" viewBox="0 0 \(Int(W)) \(Int(H))" \
        width="\(Int(W))" height="\(Int(H))" role="img" aria-label="\(HTML.escape(title))" font-family="sans-serif" font-size="12">
        <title>\(HTML.escape(title))</title>
        <rect x="0" y="0" width="\(Int(W))" height="\(Int(H))" fill="#ffffff"/>
        <text x="\(f((L + R) / 2))" y="24" text-anchor="middle" font-size="15" font-weight="bold">\(HTML.escape(title))</text>

        """
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else {
            return s + "<text x=\"\(f((L + R) / 2))\" y=\"\(f((T + B) / 2))\" text-anchor=\"middle\" fill=\"#666\">no data</text>\n</svg>"
        }
        let axis = Axis.linear(min: 0, max: Swift.max(finite.max() ?? 0, 0), bounds: 0...Double.greatestFiniteMagnitude)
        func py(_ y: Double) -> Double { B - (B - T) * axis.fraction(y) }
        for t in axis.ticks {
            s += "<line x1=\"\(f(L))\" x2=\"\(f(R))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\" stroke=\"#e6e6e6\"/>"
                + "<text x=\"\(f(L - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(HTML.escape(formatY(t)))</text>\n"
        }
        let slot = (R - L) / Double(values.count)
        let gap = slot > 4 ? slot * 0.15 : 0
        for (i, v) in values.enumerated() where v.isFinite {
            let x = L + Double(i) * slot + gap / 2, top = py(Swift.max(v, 0))
            let name = labelled ? labels[i] : (labels.indices.contains(i) ? labels[i] : "\(i)")
            s += "<rect class=\"bar\" x=\"\(f(x))\" y=\"\(f(top))\" width=\"\(f(Swift.max(slot - gap, 0.5)))\" height=\"\(f(Swift.max(B - top, 0)))\" "
                + "fill=\"\(highlighted.contains(i) ? Self.highlightColor : Self.barColor)\"><title>\(HTML.escape(name)): \(HTML.escape(formatY(v)))</title></rect>\n"
        }
        if labelled {
            for (i, label) in labels.enumerated() {
                let x = L + (Double(i) + 0.5) * slot
                s += "<text x=\"\(f(x))\" y=\"\(f(B + 12))\" text-anchor=\"end\" font-size=\"10\" transform=\"rotate(-45 \(f(x)) \(f(B + 12)))\">"
                    + "\(HTML.escape(ScatterChart.clip(label, 24)))</text>\n"
            }
        } else {
            let step = Swift.max(1, Int(Axis.niceStep(Double(values.count), count: 8)))
            for i in stride(from: 0, to: values.count, by: step) {
                let x = L + (Double(i) + 0.5) * slot
                s += "<line x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(f(B))\" y2=\"\(f(B + 4))\" stroke=\"#333\"/>"
                    + "<text x=\"\(f(x))\" y=\"\(f(B + 16))\" text-anchor=\"middle\">\(i)</text>\n"
            }
        }
        s += "<line x1=\"\(f(L))\" x2=\"\(f(R))\" y1=\"\(f(B))\" y2=\"\(f(B))\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f((L + R) / 2))\" y=\"\(f(H - 10))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>\n"
        s += "<text x=\"16\" y=\"\(f((T + B) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f((T + B) / 2)))\">\(HTML.escape(yLabel))</text>\n"
        return s + "</svg>"
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
