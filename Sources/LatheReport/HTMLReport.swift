import Foundation

/// HTML text helpers.
enum HTML {
    /// Escapes text for element content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// The charts of a report, built from its model.
public enum ReportCharts {
    /// Group names in legend order: the baseline first, then in order of first appearance.
    public static func groups(_ model: ReportModel) -> [String] {
        var seen: [String] = []
        for a in model.aggregates where !seen.contains(a.group) { seen.append(a.group) }
        return seen
    }

    /// A method label for a chart: without a leading "group: " (the color shows the group).
    static func shortLabel(_ method: String, group: String) -> String {
        let prefix = "\(group): "
        guard method.hasPrefix(prefix), method.count > prefix.count else { return method }
        return String(method.dropFirst(prefix.count))
    }

    /// Accuracy vs size (log x) or vs latency at batch 1, one point per method mean.
    public static func chart(_ model: ReportModel, front pareto: ReportModel.ParetoFront, id: String) -> ScatterChart {
        let isSize = pareto.costMetric == ReportMetric.sizeBytes
        let points = pareto.points.map { p -> ScatterChart.Point in
            let a = model.aggregate(group: p.group, method: p.method)
            let acc = a?[pareto.qualityMetric], cost = a?[pareto.costMetric]
            var tip = "\(p.method) (\(p.group)): accuracy \(ReportFormat.statistic(acc, metric: pareto.qualityMetric)) %, "
            tip += "\(isSize ? "size" : "latency b1") \(ReportFormat.statistic(cost, metric: pareto.costMetric))\(isSize ? "" : " ms")"
            tip += "; trials \(ReportFormat.trialIDs(a?.trialIDs ?? []))\(p.onFront ? "; on the Pareto front" : "")"
            var xInterval: ClosedRange<Double>?
            if let cost, cost.ciHalfWidth != nil { xInterval = cost.lower...cost.upper }
            var yInterval: ClosedRange<Double>?
            if let acc, acc.ciHalfWidth != nil { yInterval = (acc.lower * 100)...(acc.upper * 100) }
            return ScatterChart.Point(label: shortLabel(p.method, group: p.group), group: p.group, x: p.cost, xInterval: xInterval,
                                      y: p.quality * 100, yInterval: yInterval, onFront: p.onFront, tooltip: tip)
        }
        let formatX: @Sendable (Double) -> String
        if isSize { formatX = ReportFormat.bytesTick } else { formatX = ReportFormat.plain }
        var chart = ScatterChart(
            id: id,
            title: isSize ? "Accuracy vs model size" : "Accuracy vs latency (batch 1)",
            xLabel: isSize ? "model size (bytes at real bit widths, log scale)" : "median latency at batch 1 (ms)",
            yLabel: model.qualityLabel,
            logX: isSize, points: points, front: pareto.front, groups: groups(model),
            formatX: formatX, formatY: ReportFormat.plain)
        chart.binaryTicks = isSize
        chart.yBounds = 0...100
        if !isSize { chart.xBounds = 0...Double.greatestFiniteMagnitude }
        return chart
    }

    /// Accuracy vs flip rate (both in %, inside 0…100), one point per method mean, no front.
    public static func flipChart(_ model: ReportModel, id: String) -> ScatterChart {
        let acc = ReportMetric.accuracy, flips = ReportMetric.flipRate
        let points = model.aggregates.compactMap { a -> ScatterChart.Point? in
            guard let y = a[acc], let x = a[flips] else { return nil }
            let tip = "\(a.method) (\(a.group)): accuracy \(ReportFormat.statistic(y, metric: acc)) %, "
                + "flips \(ReportFormat.statistic(x, metric: flips)); trials \(ReportFormat.trialIDs(a.trialIDs))"
            return ScatterChart.Point(label: shortLabel(a.method, group: a.group), group: a.group,
                                      x: x.mean * 100, xInterval: x.ciHalfWidth.map { _ in (x.lower * 100)...(x.upper * 100) },
                                      y: y.mean * 100, yInterval: y.ciHalfWidth.map { _ in (y.lower * 100)...(y.upper * 100) },
                                      onFront: false, tooltip: tip)
        }
        var chart = ScatterChart(
            id: id, title: "Accuracy vs flip rate", xLabel: "\(model.flipUnit) from the same seed's baseline (%)",
            yLabel: model.qualityLabel, logX: false, points: points, front: [], groups: groups(model),
            formatX: ReportFormat.plain, formatY: ReportFormat.plain)
        chart.xBounds = 0...100
        chart.yBounds = 0...100
        return chart
    }
}

/// The rows of the methods table: the configurations in aggregate order, each teacher right
/// after the last configuration of the groups that used it.
enum MethodRows {
    static func rows(_ model: ReportModel) -> [(aggregate: ReportModel.MethodAggregate, isTeacher: Bool)] {
        var rows: [(aggregate: ReportModel.MethodAggregate, isTeacher: Bool)] = []
        for (i, a) in model.aggregates.enumerated() {
            rows.append((a, false))
            let later = Set(model.aggregates[(i + 1)...].map(\.group))
            for t in model.teachers where t.groups.contains(a.group) && later.isDisjoint(with: t.groups) {
                rows.append((t.aggregate, true))
            }
        }
        return rows
    }
}

/// Renders a report as one self-contained HTML page: inline CSS and SVG, no scripts, no external URLs.
public enum HTMLReport {
    static let css = """
    body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 20px 24px; color: #1b1b1b; max-width: 1600px; }
    h1 { font-size: 1.6em; margin-bottom: 0.2em; }
    h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
    h3 { font-size: 1.05em; margin-top: 1.2em; }
    .meta { color: #555; margin: 0.2em 0; }
    table { border-collapse: collapse; margin: 8px 0 4px; font-size: 0.9em; }
    th, td { border: 1px solid #d6d6d6; padding: 4px 8px; text-align: left; vertical-align: top; }
    th { background: #f3f3f3; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    tr.front td.method { font-weight: bold; }
    tr.baseline { background: #fafafa; }
    tr.teacher td { background: #f5f8fc; font-style: italic; }
    .meta.warning { color: #a00; font-weight: bold; }
    td.ids, td.mono, code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
    td.ids a { color: #1f5fa8; text-decoration: none; }
    td.error { color: #a00; white-space: pre-wrap; max-width: 60em; }
    pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 10px; overflow-x: auto; }
    details { margin: 8px 0; }
    summary { cursor: pointer; color: #333; }
    .charts { display: flex; flex-wrap: wrap; gap: 16px; }
    figure { margin: 0; border: 1px solid #e2e2e2; padding: 8px; background: #fff; }
    figcaption { font-size: 0.85em; color: #444; max-width: 640px; margin-top: 4px; }
    svg.chart { max-width: 100%; height: auto; }
    .note { color: #555; font-size: 0.88em; }
    .status-failed { color: #a00; }
    """

    /// The page.
    public static func render(_ model: ReportModel) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Lathe sweep report: \(HTML.escape(model.sweep.name))</title>
        <style>
        \(css)
        </style>
        </head>
        <body>

        """
        h += header(model)
        h += methodsTable(model)
        h += charts(model)
        h += layerTables(model)
        h += ActivationSection.html(model)
        h += CalibrationVariance.html(model.calibrationVariance)
        h += failures(model)
        h += trialsTable(model)
        h += """
        <p class="note">\(HTML.escape(model.qualityNote))Accuracy is the task's primary metric on the test set (top-1 for classification), in % with 2 decimals. “±” is the half-width of the 95% confidence \
        interval of the mean over seeds (Student's t with n−1 degrees of freedom); a configuration with one seed shows “(n=1)” \
        and no interval. Δ vs baseline is in accuracy points. Every aggregate lists the ids of the trials it comes from; each \
        trial's raw values are in <code>trials.csv</code> and <code>report.json</code> beside this page.</p>
        </body>
        </html>

        """
        return h
    }

    static func header(_ model: ReportModel) -> String {
        let s = model.sweep
        let counts = ["done", "failed", "running", "pending"].compactMap { k in model.statusCounts[k].map { "\($0) \(k)" } }
        var h = "<h1>Sweep “\(HTML.escape(s.name))”</h1>\n"
        h += "<p class=\"meta\">\(model.trials.count) trials: \(HTML.escape(counts.joined(separator: ", "))) · "
            + "\(model.aggregates.count) configurations · created \(HTML.escape(s.createdAt)) on \(HTML.escape(s.host)) · "
            + "Lathe \(HTML.escape(s.latheVersion)) · \(s.workers) worker(s) × \(s.threads) thread(s)</p>\n"
        h += "<p class=\"meta\">Database: <code>\(HTML.escape(model.database))</code> (sweep id \(s.id))</p>\n"
        for line in LatencySummary.lines(model) {
            h += "<p class=\"meta latency\(line.hasPrefix("Warning") ? " warning" : "")\">\(HTML.escape(line))</p>\n"
        }
        h += "<details><summary>Sweep spec: <code>\(HTML.escape(s.specPath))</code></summary>\n<pre>\(HTML.escape(s.specText))</pre>\n</details>\n"
        if !model.provenance.isEmpty {
            h += "<details><summary>Provenance (\(model.provenance.count) keys over the trials)</summary>\n"
            h += "<table class=\"provenance\"><thead><tr><th>key</th><th>value (trials)</th></tr></thead><tbody>\n"
            for e in model.provenance {
                let shown = e.values.prefix(4).map { "\(HTML.escape($0.value)) (\($0.trials))" }
                let more = e.values.count > 4 ? "<br>… \(e.values.count - 4) more values (see report.json)" : ""
                h += "<tr><td class=\"mono\">\(HTML.escape(e.key))</td><td class=\"mono\">\(shown.joined(separator: "<br>"))\(more)</td></tr>\n"
            }
            h += "</tbody></table>\n</details>\n"
        }
        return h
    }

    /// Anchored links to the trials table.
    static func idLinks(_ ids: [Int64]) -> String {
        ids.map { "<a href=\"#trial-\($0)\">#\($0)</a>" }.joined(separator: " ")
    }

    static func methodsTable(_ model: ReportModel) -> String {
        var h = "<h2>Methods: mean ± 95% CI over seeds</h2>\n"
        guard !model.aggregates.isEmpty else { return h + "<p>No trial of this sweep is done yet.</p>\n" }
        let onSizeFront = Set(model.paretoSize.front.map { model.paretoSize.points[$0] }.map { "\($0.group)\u{1F}\($0.method)" })
        let onLatencyFront = Set(model.paretoLatency.front.map { model.paretoLatency.points[$0] }.map { "\($0.group)\u{1F}\($0.method)" })
        let columns = AggregateColumns.all(model)
        h += "<table class=\"methods\"><thead><tr><th>method</th><th>group</th><th>n</th>"
        for c in columns { h += "<th>\(HTML.escape(c.title))</th>" }
        h += "<th>Pareto</th><th>trials</th></tr></thead><tbody>\n"
        for (a, isTeacher) in MethodRows.rows(model) {
            let key = "\(a.group)\u{1F}\(a.method)"
            var fronts: [String] = []
            if !isTeacher, onSizeFront.contains(key) { fronts.append("size") }
            if !isTeacher, onLatencyFront.contains(key) { fronts.append("latency") }
            let cls = [a.group == ReportModel.baselineGroup ? "baseline" : nil, isTeacher ? "teacher" : nil,
                       fronts.isEmpty ? nil : "front"].compactMap { $0 }
            h += "<tr\(cls.isEmpty ? "" : " class=\"\(cls.joined(separator: " "))\"")><td class=\"method\">"
                + "\(isTeacher ? "↳ " : "")\(HTML.escape(a.method))</td>"
            h += "<td>\(HTML.escape(a.group))</td><td class=\"num\">\(a.n)</td>"
            for c in columns { h += "<td class=\"num\">\(HTML.escape(c.cell(a)))</td>" }
            h += "<td>\(fronts.joined(separator: ", "))</td><td class=\"ids\">\(idLinks(a.trialIDs))</td></tr>\n"
        }
        h += "</tbody></table>\n"
        h += "<p class=\"note\">Pareto: on the front of accuracy vs size and/or accuracy vs latency at batch 1 (method means; bold)."
        if !model.teachers.isEmpty { h += " ↳ teacher: the distillation groups' teacher, its accuracy, size and latency over the trials that used it." }
        if !model.hasLatency { h += " No latency columns: \(LatencySummary.notMeasured)." }
        h += "</p>\n"
        return h
    }

    static func charts(_ model: ReportModel) -> String {
        var h = "<h2>Trade-offs</h2>\n<div class=\"charts\">\n"
        let fronts = [(model.paretoSize, "chart-size")] + (model.hasLatency ? [(model.paretoLatency, "chart-latency")] : [])
        for (front, id) in fronts {
            let chart = ReportCharts.chart(model, front: front, id: id)
            let names = front.front.map { front.points[$0].method }
            h += "<figure>\n\(chart.render())\n<figcaption>One point per configuration (mean over seeds) with 95% CI bars; the dashed "
                + "step line is the Pareto front (higher accuracy, lower \(front.costMetric == ReportMetric.sizeBytes ? "size" : "latency")). "
                + "On the front: \(names.isEmpty ? "–" : HTML.escape(names.joined(separator: ", "))).</figcaption>\n</figure>\n"
        }
        if model.aggregates.contains(where: { $0[ReportMetric.flipRate] != nil }) {
            h += "<figure>\n\(ReportCharts.flipChart(model, id: "chart-flips").render())\n<figcaption>One point per configuration (mean "
                + "over seeds) with 95% CI bars: \(model.qualityLabel.dropLast(4)) against the share of \(model.flipUnit) from the same "
                + "seed's baseline. Equal accuracy with more flips is more damage.</figcaption>\n</figure>\n"
        }
        if !model.hasLatency { h += "<p class=\"note\">No latency chart: \(LatencySummary.notMeasured).</p>\n" }
        return h + "</div>\n"
    }

    static func layerTables(_ model: ReportModel) -> String {
        guard !model.layerTables.isEmpty else { return "" }
        var h = "<h2>Per-layer sensitivity and statistics</h2>\n"
        h += "<p class=\"note\">Mean over seeds (± 95% CI). Sensitivity drop: accuracy points lost when only that layer is compressed.</p>\n"
        for t in model.layerTables {
            h += "<h3>\(HTML.escape(t.method)) <span class=\"note\">(\(HTML.escape(t.group)))</span></h3>\n"
            h += "<table class=\"layers\"><thead><tr><th>layer</th>"
            for n in t.statNames { h += "<th>\(HTML.escape(ReportFormat.title(n)))</th>" }
            h += "<th>trials</th></tr></thead><tbody>\n"
            for r in t.rows {
                h += "<tr><td class=\"mono\">\(HTML.escape(r.layer))</td>"
                for n in t.statNames { h += "<td class=\"num\">\(HTML.escape(ReportFormat.statistic(r.stats[n], metric: n)))</td>" }
                let ids = Set(r.stats.values.flatMap(\.trialIDs)).sorted()
                h += "<td class=\"ids\">\(idLinks(ids))</td></tr>\n"
            }
            h += "</tbody></table>\n"
        }
        return h
    }

    static func failures(_ model: ReportModel) -> String {
        guard !model.failures.isEmpty else { return "<h2>Failures</h2>\n<p>None.</p>\n" }
        var h = "<h2>Failures (\(model.failures.count))</h2>\n<table class=\"failures\"><thead><tr><th>trial</th><th>method</th>"
            + "<th>group</th><th>seed</th><th>attempts</th><th>error</th></tr></thead><tbody>\n"
        for t in model.failures {
            h += "<tr><td class=\"ids\">\(idLinks([t.id]))</td><td>\(HTML.escape(t.method))</td><td>\(HTML.escape(t.group))</td>"
                + "<td class=\"num\">\(t.seed)</td><td class=\"num\">\(t.attempts)</td><td class=\"error\">\(HTML.escape(t.error ?? ""))</td></tr>\n"
        }
        return h + "</tbody></table>\n"
    }

    static func trialsTable(_ model: ReportModel) -> String {
        let columns = TrialColumns.shown(model)
        var h = "<h2>Trials</h2>\n<details open><summary>\(model.trials.count) trials (all metrics in trials.csv)</summary>\n"
        h += "<table class=\"trials\"><thead><tr><th>trial</th><th>method</th><th>group</th><th>seed</th><th>status</th>"
        for c in columns { h += "<th>\(HTML.escape(c.title))</th>" }
        h += "<th>key</th></tr></thead><tbody>\n"
        for t in model.trials {
            h += "<tr id=\"trial-\(t.id)\"><td class=\"num\">#\(t.id)</td><td>\(HTML.escape(t.method))</td><td>\(HTML.escape(t.group))</td>"
            h += "<td class=\"num\">\(t.seed)</td><td class=\"status-\(HTML.escape(t.status))\">\(HTML.escape(t.status))</td>"
            for c in columns { h += "<td class=\"num\">\(HTML.escape(c.cell(t)))</td>" }
            h += "<td class=\"mono\">\(HTML.escape(t.key))</td></tr>\n"
        }
        return h + "</tbody></table>\n</details>\n"
    }
}

/// The metric columns of the methods table (shared by HTML and Markdown).
struct AggregateColumns: Sendable {
    var title: String
    var cell: @Sendable (ReportModel.MethodAggregate) -> String

    static func stat(_ name: String, withCI: Bool = true) -> AggregateColumns {
        AggregateColumns(title: ReportFormat.title(name)) { ReportFormat.statistic($0[name], metric: name, withCI: withCI) }
    }

    static func paired(_ name: String) -> AggregateColumns {
        AggregateColumns(title: ReportFormat.pairedTitle(name)) { ReportFormat.paired($0.paired[name]) }
    }

    static func speedup(_ name: String, _ model: ReportModel) -> AggregateColumns {
        AggregateColumns(title: ReportFormat.pairedTitle(name)) { ReportFormat.speedup(SpeedupFigure.of($0, name, in: model)) }
    }

    /// The paired comparisons first (the primary figures), then the absolute means; latency
    /// and speedups only when the sweep measured latency.
    static func all(_ model: ReportModel) -> [AggregateColumns] {
        let latency = model.hasLatency
        return [paired(ReportMetric.accuracy), paired(ReportMetric.sizeBytes)]
            + (latency ? ReportMetric.speedups.map { speedup($0, model) } : [])
            + [
                stat(ReportMetric.accuracy),
                stat(ReportMetric.accuracyDelta),
            ]
            // Detectors record no agreement figures: no columns of dashes.
            + (model.metricNames.contains(ReportMetric.flipRate) ? [stat(ReportMetric.flipRate), stat(ReportMetric.klToBaseline)] : [])
            + [
                stat(ReportMetric.sizeBytes, withCI: false),
                stat(ReportMetric.compressionRatio, withCI: false),
            ]
            + (model.metricNames.contains(ReportMetric.bitsPerWeight) ? [stat(ReportMetric.bitsPerWeight, withCI: false)] : [])
            + (latency ? [stat(ReportMetric.latencyB1), stat(ReportMetric.latencyB256)] : [])
            + (model.metricNames.contains(ReportMetric.ortLatencyB1)
                ? [paired(ReportMetric.ortSpeedupB1), paired(ReportMetric.ortSpeedupB256),
                   stat(ReportMetric.ortLatencyB1), stat(ReportMetric.ortLatencyB256)] : [])
    }
}

/// The metric columns of the trials table (shared by HTML and Markdown).
struct TrialColumns {
    var title: String
    var cell: (ReportModel.Trial) -> String

    static let preferred = [
        ReportMetric.accuracy, ReportMetric.accuracyDelta, ReportMetric.flipRate, ReportMetric.klToBaseline,
        ReportMetric.sizeBytes, ReportMetric.compressionRatio, ReportMetric.bitsPerWeight, ReportMetric.latencyB1, ReportMetric.latencyB256,
        ReportMetric.speedupB1, ReportMetric.speedupB256, ReportMetric.ortLatencyB1, ReportMetric.ortLatencyB256,
        ReportMetric.ortSpeedupB1, ReportMetric.ortSpeedupB256, ReportMetric.sparsityMasked,
    ]

    /// The preferred metrics the sweep has; speedups with their interval and noise mark.
    static func shown(_ model: ReportModel) -> [TrialColumns] {
        preferred.filter(model.metricNames.contains).map { name in
            guard ReportMetric.speedups.contains(name) else {
                return TrialColumns(title: ReportFormat.title(name)) { t in t.metrics[name].map { ReportFormat.value($0, metric: name) } ?? "" }
            }
            return TrialColumns(title: ReportFormat.title(name) + " (95% CI)") { t in
                SpeedupFigure.of(t, name).map { ReportFormat.speedup($0) } ?? ""
            }
        }
    }
}
