import Foundation
import LatheTestSupport
import LatheResults
@testable import LatheReport

/// A real results database in a temp folder, written through `ResultsStore` like the sweep runner
/// does: 3 seeds × (baseline + 3 methods), plus a method with one done and one failed seed.
struct Fixture {
    static let sweepName = "fixture-sweep"
    static let seeds: [Int64] = [1, 2, 3]
    static let layers = ["conv1", "conv2", "fc1"]
    /// The failed trial's error: a comma, quotes and a line break (CSV and HTML escaping).
    static let failure = "plugin crashed: SIGSEGV, in \"lowbit/q2\" <conv1>\nsecond line"

    let directory: URL
    let path: String
    let db: SQLiteDatabase

    /// One configuration of the fixture: group, method, and per seed the metrics.
    struct Config: Sendable {
        var group: String
        var method: String
        var metrics: @Sendable (Int64) -> [String: Double]
        var layerStats: (@Sendable (Int64) -> [String: [String: Double]])? = nil
    }

    static let fp32Size = 246_824.0

    static func baseAccuracy(_ seed: Int64) -> Double { [1: 0.912, 2: 0.9075, 3: 0.915][seed] ?? 0.91 }

    /// The baseline's latency medians of a seed (batch 1, batch 256).
    static func baseLatency(_ seed: Int64) -> (b1: Double, b256: Double) { (0.21 + 0.01 * Double(seed), 30.0 + Double(seed) * 0.1) }

    /// The latency phase's speedups with a ±2 % per-round interval.
    static func speedups(b1: Double, b256: Double) -> [String: Double] {
        ["speedup_b1": b1, "speedup_b1_lower": b1 * 0.98, "speedup_b1_upper": b1 * 1.02,
         "speedup_b256": b256, "speedup_b256_lower": b256 * 0.98, "speedup_b256_upper": b256 * 1.02]
    }

    static func common(_ seed: Int64, accuracy: Double, size: Double, latency: Double, latency256: Double) -> [String: Double] {
        let base = baseAccuracy(seed), baseLatency = baseLatency(seed)
        return [
            "accuracy": accuracy, "baseline_accuracy": base, "accuracy_delta": (accuracy - base) * 100,
            "flip_rate": accuracy == base ? 0 : abs(accuracy - base) + 0.01, "kl_to_baseline": accuracy == base ? 0 : 0.02 + abs(accuracy - base),
            "size_bytes": size, "fp32_size_bytes": fp32Size, "compression_ratio": fp32Size / size,
            "params": 61_706, "macs": 416_520, "latency_b1_ms": latency, "latency_b256_ms": latency256,
            "latency_b1_noise": 0.01 + 0.001 * Double(seed), "latency_b256_noise": 0.008,
            "train_seconds": 12.5 + Double(seed), "peak_rss_bytes": 300e6 + Double(seed) * 1e6,
        ].merging(speedups(b1: baseLatency.b1 / latency, b256: baseLatency.b256 / latency256)) { a, _ in a }
    }

    /// uniform int4's batch-256 speedups over the seeds: within noise over seeds.
    static let int4Speedup256: [Int64: Double] = [1: 0.95, 2: 1.06, 3: 1.0]

    static let configs: [Config] = [
        // The control: the baseline timed against a copy of itself reads 1.00 within its interval.
        Config(group: "baseline", method: "dense fp32") { s in
            common(s, accuracy: baseAccuracy(s), size: fp32Size, latency: baseLatency(s).b1, latency256: baseLatency(s).b256)
                .merging(speedups(b1: 1 + 0.002 * Double(s - 2), b256: 1 - 0.001 * Double(s - 2))) { _, control in control }
        },
        // Accuracy exactly [0.90, 0.91, 0.92] over the seeds (the CI test's numbers).
        Config(group: "quant", method: "uniform int8", metrics: { s in
            common(s, accuracy: [1: 0.90, 2: 0.91, 3: 0.92][s] ?? 0, size: 62_114, latency: 0.15 + 0.003 * Double(s), latency256: 12.0 + Double(s) * 0.2)
        }, layerStats: { s in
            Dictionary(uniqueKeysWithValues: layers.enumerated().map { i, l in
                (l, ["bits": 8, "bytes": Double(1000 * (i + 1)), "sensitivity_drop": 0.1 * Double(i + 1) + 0.01 * Double(s)])
            })
        }),
        Config(group: "quant", method: "uniform int4", metrics: { s in
            common(s, accuracy: 0.861 + 0.004 * Double(s), size: 31_400, latency: 0.16 + 0.002 * Double(s),
                   latency256: baseLatency(s).b256 / (int4Speedup256[s] ?? 1))
        }, layerStats: { s in
            Dictionary(uniqueKeysWithValues: layers.enumerated().map { i, l in
                (l, ["bits": 4, "bytes": Double(500 * (i + 1)), "sensitivity_drop": 1.5 * Double(3 - i) + 0.2 * Double(s)])
            })
        }),
        // Dominated on size (bigger than int8, less accurate) but the fastest: on the latency front only.
        Config(group: "prune", method: "magnitude 50%") { s in
            var m = common(s, accuracy: 0.887 + 0.002 * Double(s), size: 123_412, latency: 0.09 + 0.001 * Double(s), latency256: 20.0 + Double(s) * 0.3)
            m["sparsity_masked"] = 0.5
            m["params_removed"] = 0
            return m
        },
    ]

    /// The method with a single done seed (2) and a failed seed (1); as fast as the baseline at
    /// batch 1 (a speedup of 1.00 within its per-round interval).
    static let lowbit = Config(group: "quant", method: "lowbit int2") { s in
        common(s, accuracy: 0.801, size: 15_900, latency: baseLatency(s).b1, latency256: 15.0)
    }

    static func make() throws -> Fixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("results.db").path
        let store = try ResultsStore(path: path)
        var records: [ResultsStore.TrialRecord] = []
        for seed in seeds {
            for c in configs {
                records.append(.init(key: "\(c.group)/\(c.method)/seed\(seed)", group: c.group, method: c.method,
                                     configJSON: "{\"method\":\"\(c.method)\"}", seed: seed))
            }
        }
        records.append(.init(key: "quant/lowbit int2/seed1", group: "quant", method: "lowbit int2", configJSON: "{}", seed: 1))
        records.append(.init(key: "quant/lowbit int2/seed2", group: "quant", method: "lowbit int2", configJSON: "{}", seed: 2))
        let spec = "name = \"\(sweepName)\"\nseeds = [1, 2, 3]\n# <b>not html</b> & co\n"
        let sweepID = try store.createSweep(name: sweepName, specPath: "sweeps/fixture.toml", specText: spec, latheVersion: "0.1.0",
                                            host: "test-host", workers: 2, threads: 1, trials: records)
        for trial in try store.trials(sweep: sweepID) {
            try store.markRunning(trial.id)
            let r = trial.record
            if r.method == "lowbit int2" && r.seed == 1 {
                try store.fail(trial.id, error: failure, seconds: 1.5)
                continue
            }
            let config = r.method == "lowbit int2" ? lowbit : configs.first { $0.method == r.method }
            guard let config else { continue }
            let provenance = ["seed": "\(r.seed)", "abi": "1.0", "plugin.uniform.sha256": "ab12cd34", "host": "test-host"]
            try store.finish(trial.id, outcome: .init(metrics: config.metrics(r.seed), layerStats: config.layerStats?(r.seed) ?? [:],
                                                      provenance: provenance), seconds: 10 + Double(trial.id))
        }
        return Fixture(directory: directory, path: path, db: try SQLiteDatabase(path: path, readOnly: true))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// The repository root (holds Package.swift).
    static let root = SourceTree.root
}

/// A minimal CSV reader (RFC 4180 quoting) to read the report's CSV back.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var inQuotes = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { inQuotes = false }
                } else { field.append(c) }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r\n" {
                row.append(field); field = ""
                rows.append(row); row = []
            } else if c != "\r" {
                field.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// Rows as dictionaries keyed by the header.
    static func records(_ text: String) -> (header: [String], rows: [[String: String]]) {
        let all = parse(text)
        guard let header = all.first else { return ([], []) }
        return (header, all.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) })
    }
}

/// A small sweep written through `ResultsStore`: one done trial per entry, in order.
struct MiniSweep {
    struct Trial {
        var group: String
        var method: String
        var seed: Int64
        var metrics: [String: Double]
        var provenance: [String: String] = [:]
    }

    let directory: URL
    let model: ReportModel

    static func make(_ trials: [Trial], name: String = "mini") throws -> MiniSweep {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-mini-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("results.db").path
        let store = try ResultsStore(path: path)
        let records = trials.enumerated().map { i, t in
            ResultsStore.TrialRecord(key: "\(i)", group: t.group, method: t.method, configJSON: "{}", seed: t.seed)
        }
        let id = try store.createSweep(name: name, specPath: "mini.toml", specText: "", latheVersion: "0", host: "h",
                                       workers: 1, threads: 1, trials: records)
        for (row, t) in zip(try store.trials(sweep: id), trials) {
            try store.markRunning(row.id)
            try store.finish(row.id, outcome: .init(metrics: t.metrics, provenance: t.provenance), seconds: 1)
        }
        return MiniSweep(directory: directory, model: try ReportModel.load(databasePath: path, sweep: name))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
