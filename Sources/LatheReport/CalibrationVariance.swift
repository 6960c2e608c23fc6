import Foundation

/// How much a result depends on the calibration sample, beside how much it depends on the
/// training seed (LLMC's observation that calibration data moves post-training methods): for
/// every configuration whose grid varies a stage's `calibration_seed`, the accuracy's standard
/// deviation over calibration seeds at a fixed training seed and over training seeds at a fixed
/// calibration seed.
public struct CalibrationVariance: Codable, Sendable, Equatable {
    public var group: String
    /// The configuration label without its `calibration_seed`.
    public var configuration: String
    public var trainingSeeds: Int
    public var calibrationSeeds: Int
    /// Mean accuracy over every (training seed, calibration seed) trial.
    public var mean: Double
    /// Sample standard deviation over calibration seeds, averaged over the training seeds.
    public var calibrationSD: Double
    /// Sample standard deviation over training seeds, averaged over the calibration seeds.
    public var trainingSD: Double

    static let key = "calibration_seed"

    /// The label `label` without its `calibration_seed=` item, and that seed; nil when it has none.
    static func split(_ label: String) -> (configuration: String, seed: String)? {
        guard let colon = label.range(of: ": ") else { return nil }
        let items = label[colon.upperBound...].components(separatedBy: ", ")
        guard let item = items.first(where: { $0.hasPrefix(key + "=") }) else { return nil }
        let rest = items.filter { $0 != item }
        let head = String(label[..<colon.lowerBound])
        return (rest.isEmpty ? head : head + ": " + rest.joined(separator: ", "), String(item.dropFirst(key.count + 1)))
    }

    /// One row per configuration with at least two calibration seeds and two training seeds.
    static func rows(_ done: [ReportModel.Trial], metric: String = ReportMetric.accuracy) -> [CalibrationVariance] {
        var order: [[String]] = []
        var cells: [[String]: [Int64: [String: Double]]] = [:]  // (group, configuration) -> training seed -> calibration seed -> value
        for t in done {
            guard let (configuration, seed) = split(t.method), let value = t.metrics[metric] else { continue }
            let key = [t.group, configuration]
            if cells[key] == nil { order.append(key) }
            cells[key, default: [:]][t.seed, default: [:]][seed] = value
        }
        return order.compactMap { key in
            guard let bySeed = cells[key] else { return nil }
            let calibrationSeeds = Set(bySeed.values.flatMap(\.keys))
            guard bySeed.count >= 2, calibrationSeeds.count >= 2 else { return nil }
            let overCalibration = bySeed.values.compactMap { sd(Array($0.values)) }
            let overTraining = calibrationSeeds.sorted().compactMap { c in sd(bySeed.values.compactMap { $0[c] }) }
            let all = bySeed.values.flatMap(\.values)
            return CalibrationVariance(
                group: key[0], configuration: key[1], trainingSeeds: bySeed.count, calibrationSeeds: calibrationSeeds.count,
                mean: all.reduce(0, +) / Double(all.count), calibrationSD: mean(overCalibration), trainingSD: mean(overTraining))
        }
    }

    private static func sd(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        let m = values.reduce(0, +) / Double(values.count)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    private static func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }

    static let note = "Configurations whose grid varies calibration_seed: the accuracy's standard deviation (points) over "
        + "calibration samples at a fixed training seed, and over training seeds at a fixed calibration sample, each averaged."

    static func header() -> [String] { ["group", "configuration", "training seeds", "calibration seeds", "mean accuracy %", "SD over calibration", "SD over training seeds"] }

    var cells: [String] {
        [group, configuration, "\(trainingSeeds)", "\(calibrationSeeds)", String(format: "%.2f", 100 * mean),
         String(format: "%.3f", 100 * calibrationSD), String(format: "%.3f", 100 * trainingSD)]
    }

    static func markdown(_ rows: [CalibrationVariance]) -> String {
        guard !rows.isEmpty else { return "" }
        return "## Calibration-sample variance\n\n\(note)\n\n" + MarkdownReport.table(header(), rows.map(\.cells), numeric: Set(2...6)) + "\n"
    }

    static func html(_ rows: [CalibrationVariance]) -> String {
        guard !rows.isEmpty else { return "" }
        var h = "<h2>Calibration-sample variance</h2>\n<p class=\"note\">\(HTML.escape(note))</p>\n<table><thead><tr>"
        h += header().map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for r in rows { h += "<tr>" + r.cells.map { "<td>\(HTML.escape($0))</td>" }.joined() + "</tr>\n" }
        return h + "</tbody></table>\n"
    }
}
