import Foundation
import LatheResults

/// A failure to build or write a report, with a message naming the file, sweep or value.
public struct ReportError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Everything a report shows about one sweep, loaded from a results database.
///
/// Every aggregate carries the ids of the trials it was computed from, and `trials` holds each
/// trial's raw metrics, so every number in the HTML, Markdown, CSV and JSON outputs can be traced
/// back to rows of the database.
public struct ReportModel: Codable, Sendable, Equatable {
    /// The sweep row.
    public struct SweepInfo: Codable, Sendable, Equatable {
        public var id: Int64
        public var name: String
        public var specPath: String
        public var specText: String
        public var createdAt: String
        public var latheVersion: String
        public var host: String
        public var workers: Int
        public var threads: Int
    }

    /// One trial with its metrics (done trials) or its error (failed trials).
    public struct Trial: Codable, Sendable, Equatable {
        public var id: Int64
        public var key: String
        public var group: String
        public var method: String
        public var seed: Int64
        public var status: String
        public var error: String?
        public var attempts: Int
        public var seconds: Double?
        /// The trial's rows of `metrics`, by name.
        public var metrics: [String: Double]
    }

    /// Aggregates over the seeds of one configuration (group, method), from its done trials.
    public struct MethodAggregate: Codable, Sendable, Equatable {
        public var group: String
        public var method: String
        /// The done trials of this configuration (ascending ids).
        public var trialIDs: [Int64]
        /// Their seeds, in the order of `trialIDs`.
        public var seeds: [Int64]
        /// One statistic per metric name present in at least one of the trials.
        public var metrics: [String: Statistic]
        /// Per metric of `ReportMetric.paired`: the comparison with the same seed's baseline
        /// (for the baseline itself only its speedups, the control; none where no seed has a
        /// done baseline).
        public var paired: [String: PairedStatistic] = [:]

        /// Number of done trials (seeds).
        public var n: Int { trialIDs.count }
        /// The statistic of `name`, if any trial has that metric.
        public subscript(_ name: String) -> Statistic? { metrics[name] }
    }

    /// One point of a Pareto chart: the means of one configuration.
    public struct ParetoPoint: Codable, Sendable, Equatable {
        public var group: String
        public var method: String
        /// Mean cost (size in bytes or latency in ms).
        public var cost: Double
        /// Mean quality (accuracy, 0…1).
        public var quality: Double
        public var onFront: Bool
    }

    /// A Pareto front over the method means: maximize `qualityMetric`, minimize `costMetric`.
    public struct ParetoFront: Codable, Sendable, Equatable {
        public var costMetric: String
        public var qualityMetric: String
        /// Every configuration that has both means, in aggregate order.
        public var points: [ParetoPoint]
        /// Indices into `points` of the front, by increasing cost.
        public var front: [Int]
    }

    /// Per-layer statistics of one configuration over its seeds (from `layer_stats`).
    public struct LayerTable: Codable, Sendable, Equatable {
        public struct Row: Codable, Sendable, Equatable {
            public var layer: String
            /// One statistic per layer-stat name (sensitivity_drop, bits, bytes, sparsity, …).
            public var stats: [String: Statistic]
        }
        public var group: String
        public var method: String
        /// The layer-stat names present, `sensitivity_drop` first, then the others sorted.
        public var statNames: [String]
        public var rows: [Row]
        /// Whether the table has the per-layer sensitivity (`sensitivity_drop`).
        public var hasSensitivity: Bool { statNames.contains(ReportMetric.sensitivityDrop) }
    }

    /// One provenance key with its distinct values over the sweep's trials.
    public struct ProvenanceEntry: Codable, Sendable, Equatable {
        public struct Value: Codable, Sendable, Equatable {
            public var value: String
            /// How many trials recorded it.
            public var trials: Int
        }
        public var key: String
        public var values: [Value]
    }

    /// A distillation teacher: one row per distinct teacher over the done trials that used it.
    public struct TeacherRow: Codable, Sendable, Equatable {
        /// The teacher as recorded (provenance `teacher`, e.g. "convnet (width 1.0)"), else "teacher".
        public var name: String
        /// What tells two teachers apart: their checkpoint (provenance `teacher_checkpoint`), or
        /// the group when the trials recorded none.
        public var identity: String
        /// The groups whose done trials used it, in aggregate order.
        public var groups: [String]
        /// The trials' `teacher_*` metrics under the names they show as in the methods table
        /// (`accuracy`, `size_bytes`, `latency_b1_ms`, `latency_b256_ms`); method "teacher: NAME".
        public var aggregate: MethodAggregate
    }

    /// The database file the report was loaded from.
    public var database: String
    public var sweep: SweepInfo
    /// Every trial of the sweep (all statuses), by id.
    public var trials: [Trial]
    /// Every metric name present in the sweep's trials: the well-known ones first, then the rest sorted.
    public var metricNames: [String]
    /// Number of trials per status.
    public var statusCounts: [String: Int]
    /// Per configuration, baselines first, then by group and method in order of first trial.
    public var aggregates: [MethodAggregate]
    /// Accuracy vs size in bytes.
    public var paretoSize: ParetoFront
    /// Accuracy vs latency at batch 1.
    public var paretoLatency: ParetoFront
    /// Per-layer tables of the configurations that recorded layer stats (other than `act_*`).
    public var layerTables: [LayerTable]
    /// Input-activation statistics of the configurations with an `activation_stats` stage.
    public var activationTables: [ActivationTable]
    /// Failed trials.
    public var failures: [Trial]
    /// Provenance keys with their values over the sweep.
    public var provenance: [ProvenanceEntry]
    /// The teachers of the distillation trials.
    public var teachers: [TeacherRow]
    /// Configurations whose grid varies `calibration_seed`: that variance beside the training seeds'.
    public var calibrationVariance: [CalibrationVariance] = []

    /// Whether any trial has a latency (none after `lathe sweep --no-latency`).
    public var hasLatency: Bool { metricNames.contains(ReportMetric.latencyB1) || metricNames.contains(ReportMetric.latencyB256) }

    /// The trial with `id`.
    public func trial(_ id: Int64) -> Trial? { trials.first { $0.id == id } }
    /// The aggregate of configuration (`group`, `method`).
    public func aggregate(group: String, method: String) -> MethodAggregate? {
        aggregates.first { $0.group == group && $0.method == method }
    }
}

/// Metric names the sweep runner writes, and the order in which reports list them.
public enum ReportMetric {
    public static let accuracy = "accuracy"
    public static let baselineAccuracy = "baseline_accuracy"
    public static let accuracyDelta = "accuracy_delta"
    /// Share of test predictions that differ from the same seed's baseline model's.
    public static let flipRate = "flip_rate"
    /// Mean KL(baseline ‖ trial) of the softmax outputs over the test set (nats).
    public static let klToBaseline = "kl_to_baseline"
    public static let sizeBytes = "size_bytes"
    public static let fp32SizeBytes = "fp32_size_bytes"
    public static let compressionRatio = "compression_ratio"
    /// Storage bits per quantized weight, scales and zero points included (also a layer stat).
    public static let bitsPerWeight = "bits_per_weight"
    public static let params = "params"
    public static let macs = "macs"
    /// Median ms per forward pass at batch 1 and 256, from the latency phase after the trials.
    public static let latencyB1 = "latency_b1_ms"
    public static let latencyB256 = "latency_b256_ms"
    /// Relative half-width of the median's 95% CI (0.012 = ±1.2 %).
    public static let latencyB1Noise = "latency_b1_noise"
    public static let latencyB256Noise = "latency_b256_noise"
    /// Same-seed baseline median / this trial's median, with `lower(_:)`/`upper(_:)` the 95% CI
    /// from the per-round paired ratios. On a baseline trial: the control (the baseline timed
    /// against a second copy of itself), which must read 1.00 inside its interval.
    public static let speedupB1 = "speedup_b1"
    public static let speedupB256 = "speedup_b256"
    /// The speedups, batch 1 first.
    public static let speedups = [speedupB1, speedupB256]
    /// ONNX Runtime (`lathe sweep --backend ort`): the exported model's median ms, and the same
    /// seed's baseline median over it (1 on the baseline).
    public static let ortLatencyB1 = "ort_latency_b1_ms"
    public static let ortLatencyB256 = "ort_latency_b256_ms"
    public static let ortSpeedupB1 = "ort_speedup_b1"
    public static let ortSpeedupB256 = "ort_speedup_b256"
    /// The noise figure of each speedup's batch size.
    public static let noise = [speedupB1: latencyB1Noise, speedupB256: latencyB256Noise]
    /// Lower end of the 95% CI recorded with `metric` (`speedup_b1_lower`).
    public static func lower(_ metric: String) -> String { metric + "_lower" }
    /// Upper end of the 95% CI recorded with `metric` (`speedup_b1_upper`).
    public static func upper(_ metric: String) -> String { metric + "_upper" }
    /// Distillation trials: their teacher's accuracy, size as stored and latency.
    public static let teacherAccuracy = "teacher_accuracy"
    public static let teacherSizeBytes = "teacher_size_bytes"
    public static let teacherLatencyB1 = "teacher_latency_b1_ms"
    public static let teacherLatencyB256 = "teacher_latency_b256_ms"
    /// Each teacher metric with the metric it shows as in a teacher row.
    public static let teacherMetrics = [
        (teacherAccuracy, accuracy), (teacherSizeBytes, sizeBytes), (teacherLatencyB1, latencyB1), (teacherLatencyB256, latencyB256),
    ]
    public static let sparsityMasked = "sparsity_masked"
    public static let paramsRemoved = "params_removed"
    public static let trainSeconds = "train_seconds"
    public static let peakRSS = "peak_rss_bytes"
    /// Layer stat: points of accuracy lost when only that layer is compressed.
    public static let sensitivityDrop = "sensitivity_drop"

    /// The metrics compared with the same seed's baseline, and how (the speedups are already
    /// ratios to it: `PairedStatistic.recordedRatios`).
    public static let paired: [(metric: String, kind: PairedStatistic.Kind)] = [
        (accuracy, .differencePoints), (sizeBytes, .ratio), (speedupB1, .ratio), (speedupB256, .ratio),
        (ortSpeedupB1, .ratio), (ortSpeedupB256, .ratio),
    ]

    /// The well-known metrics, in report order.
    public static let preferredOrder = [
        accuracy, baselineAccuracy, accuracyDelta, flipRate, klToBaseline, sizeBytes, fp32SizeBytes, compressionRatio, bitsPerWeight, params, macs,
        latencyB1, latencyB256, latencyB1Noise, latencyB256Noise,
        speedupB1, lower(speedupB1), upper(speedupB1), speedupB256, lower(speedupB256), upper(speedupB256),
        ortLatencyB1, ortLatencyB256, ortSpeedupB1, ortSpeedupB256,
        teacherAccuracy, teacherSizeBytes, teacherLatencyB1, teacherLatencyB256,
        sparsityMasked, paramsRemoved, trainSeconds, peakRSS,
    ]

    /// `names` with the well-known ones first (in report order), then the others sorted.
    public static func ordered<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        let set = Set(names)
        return preferredOrder.filter(set.contains) + set.subtracting(preferredOrder).sorted()
    }
}

extension ReportModel {
    /// The group name of the dense fp32 reference trials.
    public static let baselineGroup = "baseline"

    /// Names of the sweeps recorded in the database at `path` (opened read-only), in creation order.
    public static func sweepNames(databasePath path: String) throws -> [String] {
        let db = try open(path)
        return try db.query("SELECT name FROM sweeps ORDER BY id").compactMap { $0["name"]?.string }
    }

    /// Loads the report of sweep `sweep` from the results database at `path` (opened read-only).
    public static func load(databasePath path: String, sweep: String) throws -> ReportModel {
        try load(from: try open(path), sweep: sweep)
    }

    /// Opens a results database read-only, checking that it exists and has Lathe's schema.
    static func open(_ path: String) throws -> SQLiteDatabase {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReportError("no results database at \(path)")
        }
        guard !isDirectory.boolValue else { throw ReportError("\(path) is a directory, not a results database") }
        let db: SQLiteDatabase
        do { db = try SQLiteDatabase(path: path, readOnly: true) } catch {
            throw ReportError("cannot open results database \(path): \(error)")
        }
        let tables: Set<String>
        do {
            tables = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0["name"]?.string })
        } catch {
            throw ReportError("\(path) is not a readable SQLite database: \(error)")
        }
        let missing = ["sweeps", "trials", "metrics", "layer_stats", "provenance"].filter { !tables.contains($0) }
        guard missing.isEmpty else {
            throw ReportError("\(path) is not a Lathe results database (missing tables: \(missing.joined(separator: ", ")))")
        }
        return db
    }

    /// Loads the report of sweep `sweep` from an open results database, in one read transaction
    /// (one consistent snapshot even while a sweep is writing to the database).
    public static func load(from db: SQLiteDatabase, sweep name: String) throws -> ReportModel {
        try db.execute("BEGIN")
        defer { try? db.execute("COMMIT") }
        return try loadSnapshot(from: db, sweep: name)
    }

    static func loadSnapshot(from db: SQLiteDatabase, sweep name: String) throws -> ReportModel {
        guard let row = try db.query("""
            SELECT id, name, spec_path, spec_text, created_at, lathe_version, host, workers, threads FROM sweeps WHERE name = ?
            """, [.text(name)]).first, let sweepID = row["id"]?.int else {
            let names = try db.query("SELECT name FROM sweeps ORDER BY id").compactMap { $0["name"]?.string }
            let known = names.isEmpty ? "it has no sweeps" : "its sweeps: \(names.joined(separator: ", "))"
            throw ReportError("no sweep named '\(name)' in \(db.path) (\(known))")
        }
        let info = SweepInfo(
            id: sweepID, name: row["name"]?.string ?? name, specPath: row["spec_path"]?.string ?? "",
            specText: row["spec_text"]?.string ?? "", createdAt: row["created_at"]?.string ?? "",
            latheVersion: row["lathe_version"]?.string ?? "", host: row["host"]?.string ?? "",
            workers: Int(row["workers"]?.int ?? 0), threads: Int(row["threads"]?.int ?? 0))

        // Trials and their metrics.
        var metricsByTrial: [Int64: [String: Double]] = [:]
        for m in try db.query("""
            SELECT m.trial_id AS trial_id, m.name AS name, m.value AS value FROM metrics m
            JOIN trials t ON t.id = m.trial_id WHERE t.sweep_id = ?
            """, [.integer(sweepID)]) {
            guard let id = m["trial_id"]?.int, let metric = m["name"]?.string, let value = m["value"]?.double else { continue }
            metricsByTrial[id, default: [:]][metric] = value
        }
        let trials: [Trial] = try db.query("""
            SELECT id, key, grp, method, seed, status, error, attempts, seconds FROM trials WHERE sweep_id = ? ORDER BY id
            """, [.integer(sweepID)]).compactMap { t in
            guard let id = t["id"]?.int else { return nil }
            return Trial(id: id, key: t["key"]?.string ?? "", group: t["grp"]?.string ?? "", method: t["method"]?.string ?? "",
                         seed: t["seed"]?.int ?? 0, status: t["status"]?.string ?? "", error: t["error"]?.string,
                         attempts: Int(t["attempts"]?.int ?? 0), seconds: t["seconds"]?.double,
                         metrics: metricsByTrial[id] ?? [:])
        }
        let done = trials.filter { $0.status == "done" }

        // Aggregates per configuration, in order of first trial, baselines first.
        var order: [ConfigKey] = []
        var byConfig: [ConfigKey: [Trial]] = [:]
        for t in done {
            let key = ConfigKey(group: t.group, method: t.method)
            if byConfig[key] == nil { order.append(key) }
            byConfig[key, default: []].append(t)
        }
        order = order.filter { $0.group == baselineGroup } + order.filter { $0.group != baselineGroup }
        let aggregates = order.map { key -> MethodAggregate in
            let ts = byConfig[key] ?? []
            var stats: [String: Statistic] = [:]
            for metric in Set(ts.flatMap { $0.metrics.keys }) {
                let having = ts.filter { $0.metrics[metric] != nil }
                stats[metric] = Statistic(values: having.compactMap { $0.metrics[metric] }, trialIDs: having.map(\.id))
            }
            var paired: [String: PairedStatistic] = [:]
            for (metric, kind) in ReportMetric.paired {
                let trials = ts.compactMap { t in t.metrics[metric].map { (id: t.id, seed: t.seed, value: $0) } }
                if ReportMetric.speedups.contains(metric) {
                    // Recorded against the same seed's baseline; a baseline's own is its control.
                    let baselineIDs = baselineBySeed(done, metric: metric).mapValues { $0.id }
                    paired[metric] = PairedStatistic.recordedRatios(metric: metric, trials: trials, baselineIDs: baselineIDs)
                } else if key.group != baselineGroup {
                    paired[metric] = PairedStatistic(metric: metric, kind: kind, trials: trials,
                                                     baselines: baselineBySeed(done, metric: metric))
                }
            }
            return MethodAggregate(group: key.group, method: key.method, trialIDs: ts.map(\.id), seeds: ts.map(\.seed),
                                   metrics: stats, paired: paired)
        }

        // Per-layer statistics of done trials.
        var layerValues: [ConfigKey: [String: [String: [(Int64, Double)]]]] = [:]  // config -> layer -> stat -> (trial, value)
        var layerOrder: [ConfigKey: [String]] = [:]
        var activationValues: [ConfigKey: [String: [String: [(Int64, Double)]]]] = [:]
        var activationOrder: [ConfigKey: [String]] = [:]
        let trialByID = Dictionary(uniqueKeysWithValues: done.map { ($0.id, $0) })
        for r in try db.query("""
            SELECT l.trial_id AS trial_id, l.layer AS layer, l.name AS name, l.value AS value FROM layer_stats l
            JOIN trials t ON t.id = l.trial_id WHERE t.sweep_id = ? AND t.status = 'done' ORDER BY l.trial_id, l.rowid
            """, [.integer(sweepID)]) {
            guard let id = r["trial_id"]?.int, let trial = trialByID[id], let layer = r["layer"]?.string,
                  let stat = r["name"]?.string, let value = r["value"]?.double else { continue }
            let key = ConfigKey(group: trial.group, method: trial.method)
            if stat.hasPrefix(ReportMetric.activationPrefix) {
                if activationValues[key]?[layer] == nil { activationOrder[key, default: []].append(layer) }
                activationValues[key, default: [:]][layer, default: [:]][stat, default: []].append((id, value))
                continue
            }
            if layerValues[key]?[layer] == nil { layerOrder[key, default: []].append(layer) }
            layerValues[key, default: [:]][layer, default: [:]][stat, default: []].append((id, value))
        }
        let activationTables = order.compactMap { key -> ActivationTable? in
            guard let layers = activationOrder[key], let values = activationValues[key] else { return nil }
            return activationTable(group: key.group, method: key.method, layers: layers, values: values)
        }
        let layerTables = order.compactMap { key -> LayerTable? in
            guard let layers = layerValues[key], let names = layerOrder[key] else { return nil }
            var statNames = Set<String>()
            let rows = names.map { layer -> LayerTable.Row in
                var stats: [String: Statistic] = [:]
                for (stat, pairs) in layers[layer] ?? [:] {
                    statNames.insert(stat)
                    stats[stat] = Statistic(values: pairs.map(\.1), trialIDs: pairs.map(\.0))
                }
                return LayerTable.Row(layer: layer, stats: stats)
            }
            let ordered = (statNames.contains(ReportMetric.sensitivityDrop) ? [ReportMetric.sensitivityDrop] : [])
                + statNames.subtracting([ReportMetric.sensitivityDrop]).sorted()
            return LayerTable(group: key.group, method: key.method, statNames: ordered, rows: rows)
        }

        // Provenance summary.
        var provenance: [ProvenanceEntry] = []
        for p in try db.query("""
            SELECT p.key AS key, p.value AS value, COUNT(*) AS n FROM provenance p JOIN trials t ON t.id = p.trial_id
            WHERE t.sweep_id = ? GROUP BY p.key, p.value ORDER BY p.key, n DESC, p.value
            """, [.integer(sweepID)]) {
            guard let key = p["key"]?.string, let value = p["value"]?.string else { continue }
            let v = ProvenanceEntry.Value(value: value, trials: Int(p["n"]?.int ?? 0))
            if provenance.last?.key == key { provenance[provenance.count - 1].values.append(v) } else {
                provenance.append(ProvenanceEntry(key: key, values: [v]))
            }
        }

        // Teachers, told apart by their recorded checkpoint.
        var teacherProvenance: [Int64: [String: String]] = [:]
        for p in try db.query("""
            SELECT p.trial_id AS trial_id, p.key AS key, p.value AS value FROM provenance p JOIN trials t ON t.id = p.trial_id
            WHERE t.sweep_id = ? AND t.status = 'done' AND p.key IN ('teacher', 'teacher_checkpoint')
            """, [.integer(sweepID)]) {
            guard let id = p["trial_id"]?.int, let key = p["key"]?.string, let value = p["value"]?.string else { continue }
            teacherProvenance[id, default: [:]][key] = value
        }
        let teachers = teacherRows(order.flatMap { byConfig[$0] ?? [] }, provenance: teacherProvenance)

        var statusCounts: [String: Int] = [:]
        for t in trials { statusCounts[t.status, default: 0] += 1 }

        return ReportModel(
            database: db.path, sweep: info, trials: trials,
            metricNames: ReportMetric.ordered(trials.flatMap { $0.metrics.keys }),
            statusCounts: statusCounts, aggregates: aggregates,
            paretoSize: paretoFront(aggregates, cost: ReportMetric.sizeBytes),
            paretoLatency: paretoFront(aggregates, cost: ReportMetric.latencyB1),
            layerTables: layerTables, activationTables: activationTables, failures: trials.filter { $0.status == "failed" }, provenance: provenance, teachers: teachers,
            calibrationVariance: CalibrationVariance.rows(done))
    }

    /// One row per distinct teacher of the done `trials` (in aggregate order) that recorded
    /// `teacher_accuracy`; `provenance` holds each trial's `teacher` and `teacher_checkpoint`.
    static func teacherRows(_ trials: [Trial], provenance: [Int64: [String: String]]) -> [TeacherRow] {
        var order: [String] = []
        var byTeacher: [String: [Trial]] = [:]
        for t in trials where t.metrics[ReportMetric.teacherAccuracy] != nil {
            let identity = provenance[t.id]?["teacher_checkpoint"] ?? "group \(t.group)"
            if byTeacher[identity] == nil { order.append(identity) }
            byTeacher[identity, default: []].append(t)
        }
        return order.map { identity in
            let inOrder = byTeacher[identity] ?? []
            var groups: [String] = []
            for t in inOrder where !groups.contains(t.group) { groups.append(t.group) }
            let ts = inOrder.sorted { $0.id < $1.id }
            let name = ts.lazy.compactMap { provenance[$0.id]?["teacher"] }.first ?? "teacher"
            var stats: [String: Statistic] = [:]
            for (teacherMetric, shownAs) in ReportMetric.teacherMetrics {
                let having = ts.filter { $0.metrics[teacherMetric] != nil }
                stats[shownAs] = Statistic(values: having.compactMap { $0.metrics[teacherMetric] }, trialIDs: having.map(\.id))
            }
            let aggregate = MethodAggregate(group: groups.joined(separator: ", "), method: "teacher: \(name)", trialIDs: ts.map(\.id),
                                            seeds: ts.map(\.seed), metrics: stats)
            return TeacherRow(name: name, identity: identity, groups: groups, aggregate: aggregate)
        }
    }

    /// Per seed, the first done baseline trial (lowest id) that has `metric`, with its value.
    static func baselineBySeed(_ done: [Trial], metric: String) -> [Int64: (id: Int64, value: Double)] {
        var out: [Int64: (id: Int64, value: Double)] = [:]
        for t in done where t.group == baselineGroup && out[t.seed] == nil {
            if let v = t.metrics[metric] { out[t.seed] = (t.id, v) }
        }
        return out
    }

    /// The Pareto front of accuracy (maximized) against `cost` (minimized) over the method means.
    public static func paretoFront(_ aggregates: [MethodAggregate], cost: String,
                                   quality: String = ReportMetric.accuracy) -> ParetoFront {
        var points: [ParetoPoint] = aggregates.compactMap { a in
            guard let c = a[cost]?.mean, let q = a[quality]?.mean else { return nil }
            return ParetoPoint(group: a.group, method: a.method, cost: c, quality: q, onFront: false)
        }
        let front = Pareto.front(cost: points.map(\.cost), quality: points.map(\.quality))
        for i in front { points[i].onFront = true }
        return ParetoFront(costMetric: cost, qualityMetric: quality, points: points, front: front)
    }
}

private struct ConfigKey: Hashable {
    var group: String
    var method: String
}
