import Foundation
import LatheResults
import Testing
@testable import LatheReport

/// Counts non-overlapping occurrences of `needle`.
func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

/// The text of each `<svg …>…</svg>` element.
func svgElements(_ html: String) -> [String] {
    var out: [String] = []
    var rest = html[...]
    while let start = rest.range(of: "<svg"), let end = rest[start.lowerBound...].range(of: "</svg>") {
        out.append(String(rest[start.lowerBound..<end.upperBound]))
        rest = rest[end.upperBound...]
    }
    return out
}

@Suite("report outputs")
struct ReportOutputTests {
    @Test func htmlIsSelfContainedWithOneCirclePerMethodInEachChart() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let html = HTMLReport.render(model)
        let all = svgElements(html)
        #expect(all.count == 3)
        #expect(all.map { $0.contains("id=\"chart-size\"") } == [true, false, false])
        #expect(all.last?.contains("id=\"chart-flips\"") == true)
        let svgs = all.filter { !$0.contains("chart-flips") }
        for svg in svgs {
            #expect(occurrences(of: "<circle", in: svg) == model.aggregates.count)
            #expect(occurrences(of: "class=\"point on-front\"", in: svg) == (svg.contains("chart-size") ? 4 : 3))
            #expect(svg.contains("class=\"pareto-front\""))
            #expect(svg.contains("class=\"legend\"") && svg.contains(">baseline</text>") && svg.contains(">quant</text>"))
            #expect(svg.contains("top-1 accuracy (%)"))
        }
        // Self-contained: no scripts, no external resources (the SVG namespace is not fetched).
        let withoutNamespace = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        for banned in ["<script", "http://", "https://", "src=", "url(", "@import", "<link"] {
            #expect(!withoutNamespace.contains(banned), "found \(banned)")
        }
        // Text from the database is escaped.
        #expect(html.contains("&lt;b&gt;not html&lt;/b&gt; &amp; co"))
        #expect(html.contains("&quot;lowbit/q2&quot; &lt;conv1&gt;"))
        #expect(!html.contains("<conv1>"))
        // The table's numbers are the database's: the int8 accuracy, its CI and its trials.
        let rows = try fx.db.query("""
            SELECT AVG(m.value) AS mean, GROUP_CONCAT(t.id) AS ids FROM metrics m JOIN trials t ON t.id = m.trial_id
            WHERE t.method = 'uniform int8' AND m.name = 'accuracy' AND t.status = 'done'
            """)
        let mean = try #require(rows.first?["mean"]?.double)
        #expect(html.contains(">\(ReportFormat.percent(mean)) ± 2.48<"))
        let ids = (rows.first?["ids"]?.string ?? "").split(separator: ",").map { "<a href=\"#trial-\($0)\">#\($0)</a>" }
        #expect(html.contains(ids.joined(separator: " ")))
        for id in try fx.db.query("SELECT id FROM trials").compactMap({ $0["id"]?.int }) {
            #expect(html.contains("<tr id=\"trial-\(id)\">"))
        }
        #expect(html.contains("80.10 (n=1)"))
        #expect(html.contains("<details><summary>Sweep spec"))
        #expect(html.contains("Failures (1)"))
    }

    @Test func everyNumberInTrialsCSVEqualsTheDatabase() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let (header, rows) = CSV.records(CSVReport.trials(model))
        #expect(header.first == "trial_id")
        let trials = try fx.db.query("SELECT id, grp, method, seed, status, error, seconds FROM trials ORDER BY id")
        #expect(rows.count == trials.count)
        let metricNames = Set(try fx.db.query("SELECT DISTINCT name FROM metrics").compactMap { $0["name"]?.string })
        #expect(Set(header).isSuperset(of: metricNames))
        var compared = 0
        for (row, t) in zip(rows, trials) {
            let id = try #require(t["id"]?.int)
            #expect(row["trial_id"] == "\(id)")
            #expect(row["group"] == t["grp"]?.string && row["method"] == t["method"]?.string && row["status"] == t["status"]?.string)
            #expect(row["seed"] == "\(t["seed"]?.int ?? -1)")
            #expect(row["error"] == (t["error"]?.string ?? ""))
            #expect(Double(row["seconds"] ?? "") == t["seconds"]?.double)
            var stored: [String: Double] = [:]
            for m in try fx.db.query("SELECT name, value FROM metrics WHERE trial_id = ?", [.integer(id)]) {
                stored[m["name"]?.string ?? ""] = m["value"]?.double
            }
            for name in metricNames {
                let cell = row[name] ?? ""
                if let value = stored[name] {
                    #expect(Double(cell) == value, "trial \(id) \(name): \(cell) vs \(value)")
                    compared += 1
                } else {
                    #expect(cell.isEmpty, "trial \(id) \(name) should be empty")
                }
            }
        }
        let total = try fx.db.query("SELECT COUNT(*) AS n FROM metrics").first?["n"]?.int
        #expect(Int64(compared) == total)
    }

    @Test func aggregatesCSVAndJSONCarryTheModel() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let (_, rows) = CSV.records(CSVReport.aggregates(model))
        #expect(rows.count == model.aggregates.count)
        for (row, a) in zip(rows, model.aggregates) {
            #expect(row["method"] == a.method && row["n"] == "\(a.n)")
            #expect(row["trial_ids"] == a.trialIDs.map(String.init).joined(separator: " "))
            #expect(Double(row["accuracy_mean"] ?? "") == a["accuracy"]?.mean)
            #expect(Double(row["accuracy_ci95"] ?? "") == a["accuracy"]?.ciHalfWidth)
        }
        let decoded = try JSONDecoder().decode(ReportModel.self, from: try JSONReport.render(model))
        #expect(decoded == model)
    }

    @Test func markdownHasTheTables() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let md = MarkdownReport.render(model)
        // The paired comparisons with the same seed's baseline first, then the absolute means.
        #expect(md.contains("| method | group | n | Paired Δ accuracy (pts, 95% CI) | Paired size ratio (95% CI) | "
                            + "Speedup b1 (95% CI) | Speedup b256 (95% CI) | Accuracy (%) |"))
        #expect(md.contains("| uniform int8 | quant | 3 | -0.15 [-2.43, +2.13] (n=3) | 0.252× [0.252, 0.252] (n=3) | "))
        #expect(md.contains(" (n=3) | 91.00 ± 2.48 | "))
        #expect(md.contains("| lowbit int2 | quant | 1 | -10.65 (n=1) | "))
        // Flips and KL to the baseline beside accuracy: 0 for the baseline itself.
        #expect(md.contains(" | Accuracy (%) | Δ vs baseline (pts) | Flips vs baseline | KL(baseline ‖ trial) | Size | "))
        // int8's flips 2.2, 1.25, 1.5 % and KL 0.032, 0.0225, 0.025 over the three seeds (Fixture.common).
        #expect(md.contains(" | 91.15 ± 0.94 | 0.00 | 0.00 % | 0.0000 | 241.0 KiB | "))
        #expect(md.contains(" | 91.00 ± 2.48 | -0.15 ± 2.28 | 1.65 ± 1.22 % | 0.0265 ± 0.0122 | 60.7 KiB | "))
        // lowbit's one seed: its speedups with the trial's per-round interval (b1 as fast as the baseline).
        #expect(md.contains(" | 1.00× [0.98, 1.02] within noise | 2.01× [1.97, 2.05] | 80.10 (n=1) | "))
        #expect(md.contains("### uniform int8 (quant)"))
        #expect(md.contains("accuracy vs size: lowbit int2"))
        // The multi-line error stays one table row.
        #expect(md.contains("plugin crashed: SIGSEGV, in \"lowbit/q2\" <conv1> second line |"))
    }

    @Test func writerReplacesFilesAndLeavesNoTemporaries() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let out = fx.directory.appendingPathComponent("nested/report")
        let html = try ReportWriter.write(model, to: out.path)
        #expect(html == out.appendingPathComponent("report.html").path)
        for name in ReportWriter.fileNames {
            let size = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent(name).path)[.size] as? Int
            #expect((size ?? 0) > 100, "\(name)")
        }
        // Again into the existing folder: files replaced, other files kept, no temp folder left.
        try Data("keep".utf8).write(to: out.appendingPathComponent("notes.txt"))
        try Data("stale".utf8).write(to: out.appendingPathComponent("report.md"))
        try ReportWriter.write(model, to: out.path)
        #expect(try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8).hasPrefix("# Sweep"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("notes.txt").path))
        let siblings = try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path)
        #expect(siblings == ["report"])
        // A file where the folder should be.
        let file = fx.directory.appendingPathComponent("afile")
        try Data().write(to: file)
        #expect(throws: ReportError.self) { try ReportWriter.write(model, to: file.path) }
    }

    @Test func emptySweepStillRenders() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("r.db").path
        let store = try ResultsStore(path: path)
        _ = try store.createSweep(name: "empty", specPath: "s.toml", specText: "", latheVersion: "0", host: "h", workers: 1, threads: 1,
                                  trials: [.init(key: "k", group: "g", method: "m", configJSON: "{}", seed: 1)])
        let model = try ReportModel.load(databasePath: path, sweep: "empty")
        #expect(model.aggregates.isEmpty && model.statusCounts == ["pending": 1])
        let html = HTMLReport.render(model)
        // Nothing measured yet: the size chart says so; no latency or flip chart.
        #expect(svgElements(html).count == 1 && !html.contains("<circle"))
        #expect(html.contains("no data"))
    }
}

@Suite("fixture export")
struct FixtureExport {
    /// `LATHE_REPORT_FIXTURE_COPY=PATH swift test --filter FixtureExport` keeps a copy of the test
    /// database, e.g. to render and screenshot a report (scripts/screenshot-report.sh). Without
    /// the variable the copy goes to the fixture's temp folder; either way it must hold every row.
    @Test func copiesTheFixtureDatabaseWhenAsked() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let asked = ProcessInfo.processInfo.environment["LATHE_REPORT_FIXTURE_COPY"].flatMap { $0.isEmpty ? nil : $0 }
        let target = asked ?? fx.directory.appendingPathComponent("copy.db").path
        try? FileManager.default.removeItem(atPath: target)
        try fx.db.query("VACUUM INTO ?", [.text(target)])
        let copy = try SQLiteDatabase(path: target, readOnly: true)
        for table in ["sweeps", "trials", "metrics", "layer_stats", "provenance"] {
            let sql = "SELECT * FROM \(table) ORDER BY 1, 2, 3"
            let rows = try fx.db.query(sql)
            #expect(!rows.isEmpty, "the fixture's \(table) table is empty")
            #expect(try copy.query(sql) == rows, "table \(table) differs in the copy")
        }
        #expect(try ReportModel.sweepNames(databasePath: target) == [Fixture.sweepName])
    }
}
