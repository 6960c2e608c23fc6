import Foundation

/// The report's section on the layers' input activations (`activation_stats` stages): per
/// configuration, a table of the per-layer summaries and, in HTML, the channel abs-max of its
/// most outlying layer and the per-layer outlier ratio and kurtosis as bar charts.
enum ActivationSection {
    static let note = "Per Linear and Conv2d layer, over its input channels (features of a linear layer, over the batch and the "
        + "tokens; channels of a convolution, over the batch and the positions), on the stage's calibration images; mean over seeds "
        + "(± 95% CI). Outlier ratio: largest channel abs-max / median channel abs-max (per-tensor activation quantization spends "
        + "its range on the largest). Kurtosis: Pearson, E[(x−μ)⁴]/σ⁴, 3 for a normal distribution; the largest over the channels. "
        + "Top channels: largest mean abs-max first."

    static func title(_ name: String) -> String {
        switch name {
        case ReportMetric.activationAbsMaxMax: "Max |x|"
        case ReportMetric.activationAbsMaxMedian: "Median |x|"
        case ReportMetric.activationOutlierRatio: "Outlier ratio"
        case ReportMetric.activationKurtosisMax: "Max kurtosis"
        default: name
        }
    }

    static func number(_ v: Double) -> String { String(format: Swift.abs(v) >= 100 ? "%.0f" : Swift.abs(v) >= 10 ? "%.1f" : "%.3g", v) }

    static func cells(_ row: ReportModel.ActivationTable.Row) -> [String] {
        ReportMetric.activationSummaries.map { name in
            guard let s = row.stats[name] else { return "–" }
            guard let h = s.ciHalfWidth else { return number(s.mean) + (s.n == 1 ? " (n=1)" : "") }
            // Equal over the seeds up to float64 rounding: no interval.
            return h <= 1e-9 * Swift.abs(s.mean) ? number(s.mean) : "\(number(s.mean)) ± \(number(h))"
        } + [row.topChannels.map(String.init).joined(separator: ", ")]
    }

    static var header: [String] { ["layer"] + ReportMetric.activationSummaries.map(title) + ["top channels"] }

    static func html(_ model: ReportModel) -> String {
        guard !model.activationTables.isEmpty else { return "" }
        var h = "<h2>Activation outliers (layer inputs)</h2>\n<p class=\"note\">\(HTML.escape(note))</p>\n"
        for (index, t) in model.activationTables.enumerated() {
            h += "<h3>\(HTML.escape(t.method)) <span class=\"note\">(\(HTML.escape(t.group)))</span></h3>\n<div class=\"charts\">\n"
            if let worst = t.mostOutlying {
                let chart = BarChart(id: "chart-act-\(index)-channels", title: "Input channel abs-max: \(ScatterChart.clip(worst.layer, 28))",
                                     xLabel: "input channel", yLabel: "abs-max", values: worst.channelAbsMax,
                                     highlighted: Set(worst.topChannels), formatY: { number($0) })
                h += "<figure>\n\(chart.render())\n<figcaption>The layer with the largest outlier ratio "
                    + "(\(number(worst.outlierRatio ?? 0))×): each input channel's abs-max, mean over seeds; red: the top channels "
                    + "\(HTML.escape(worst.topChannels.map(String.init).joined(separator: ", "))).</figcaption>\n</figure>\n"
            }
            for (name, what) in [(ReportMetric.activationOutlierRatio, "max / median channel abs-max"),
                                 (ReportMetric.activationKurtosisMax, "largest channel kurtosis")] {
                let values = t.rows.map { $0.stats[name]?.mean ?? .nan }
                let worst = values.indices.filter { values[$0].isFinite }.max { values[$0] < values[$1] }
                let chart = BarChart(id: "chart-act-\(index)-\(name)", title: "\(title(name)) per layer", xLabel: "layer",
                                     yLabel: title(name), values: values, labels: t.rows.map(\.layer),
                                     highlighted: worst.map { [$0] } ?? [], formatY: { number($0) })
                h += "<figure>\n\(chart.render())\n<figcaption>\(title(name)) (\(what)) of each layer's input, in network order, "
                    + "mean over seeds; red: the largest.</figcaption>\n</figure>\n"
            }
            h += "</div>\n<table class=\"layers\"><thead><tr>" + header.map { "<th>\(HTML.escape($0))</th>" }.joined() + "<th>trials</th></tr></thead><tbody>\n"
            for r in t.rows {
                h += "<tr><td class=\"mono\">\(HTML.escape(r.layer))</td>" + cells(r).map { "<td class=\"num\">\(HTML.escape($0))</td>" }.joined()
                h += "<td class=\"ids\">\(HTMLReport.idLinks(Set(r.stats.values.flatMap(\.trialIDs)).sorted()))</td></tr>\n"
            }
            h += "</tbody></table>\n"
        }
        return h
    }

    static func markdown(_ model: ReportModel) -> String {
        guard !model.activationTables.isEmpty else { return "" }
        var s = "## Activation outliers (layer inputs)\n\n\(note)\n\n"
        for t in model.activationTables {
            s += "### \(t.method) (\(t.group))\n\n"
            let rows = t.rows.map { r in [r.layer] + cells(r) + [ReportFormat.trialIDs(Set(r.stats.values.flatMap(\.trialIDs)).sorted())] }
            s += MarkdownReport.table(header + ["trials"], rows, numeric: Set(1...ReportMetric.activationSummaries.count)) + "\n"
        }
        return s
    }
}
