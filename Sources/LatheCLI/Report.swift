import ArgumentParser
import Foundation
import LatheReport

/// `lathe report`: writes the comparison report of one sweep (HTML, Markdown, CSV, JSON).
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a sweep's comparison report: self-contained HTML, Markdown, CSV and JSON.",
        discussion: """
        Reads the results database (read-only) and writes report.html (tables, SVG charts of accuracy vs size and \
        vs latency with Pareto fronts, mean ± 95% CI over seeds, per-layer sensitivity, failures), report.md, \
        trials.csv (one row per trial), aggregates.csv (one row per configuration) and report.json into the output folder.
        """)

    @Argument(help: "The results database (SQLite) written by `lathe sweep`.")
    var database: String

    @Option(help: "The sweep to report (default: the database's only sweep).")
    var sweep: String?

    @Option(name: [.short, .customLong("out")], help: "Output folder (default: report-<sweep> beside the database).")
    var outputDirectory: String?

    func validate() throws {
        guard !database.isEmpty else { throw ValidationError("the results database path is empty") }
        if let sweep, sweep.isEmpty { throw ValidationError("--sweep: expected a sweep name, got an empty string") }
        if let outputDirectory, outputDirectory.isEmpty { throw ValidationError("--out: expected a folder, got an empty string") }
    }

    func run() throws {
        // Everything is read and rendered before anything is written: a bad database or sweep
        // fails with a message (exit 1) and creates no output folder.
        let name = try chooseSweep()
        let model = try ReportModel.load(databasePath: database, sweep: name)
        let out = outputDirectory
            ?? URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("report-\(Self.safeName(name))").path
        let html = try ReportWriter.write(model, to: out)
        let done = model.statusCounts["done"] ?? 0, failed = model.statusCounts["failed"] ?? 0
        print("sweep '\(name)': \(model.trials.count) trials (\(done) done, \(failed) failed), \(model.aggregates.count) configurations")
        print("wrote \(ReportWriter.fileNames.joined(separator: ", ")) in \(URL(fileURLWithPath: html).deletingLastPathComponent().path)")
        print(html)
    }

    /// The sweep to report: `--sweep`, or the only sweep of the database.
    func chooseSweep() throws -> String {
        if let sweep { return sweep }
        let names = try ReportModel.sweepNames(databasePath: database)
        switch names.count {
        case 1: return names[0]
        case 0: throw ReportError("\(database) has no sweeps yet")
        default: throw ReportError("\(database) holds \(names.count) sweeps: \(names.joined(separator: ", ")); choose one with --sweep NAME")
        }
    }

    /// A sweep name as a folder-name component.
    static func safeName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }
}
