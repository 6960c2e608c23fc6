import Foundation

/// The results database of sweeps (SQLite, WAL). One writer (the sweep's parent process);
/// readers (reports, notebooks) any time.
///
/// Schema (version 2; version 1 lacked the two `slurm_*` tables, which opening it for writing
/// adds, so older databases stay readable and writable):
/// - `sweeps(id, name UNIQUE, spec_path, spec_text, created_at, lathe_version, host, workers, threads)`
/// - `trials(id, sweep_id, key UNIQUE per sweep, grp, method, config_json, seed, status
///   pending|running|done|failed, error, attempts, started_at, finished_at, seconds)`:
///   `grp` is the spec's group name ("baseline" for the dense fp32 reference of each seed),
///   `method` the human label of the trial's configuration without the seed.
/// - `metrics(trial_id, name, value)`: accuracy, size_bytes, params, macs, latency_b1_ms, flip_rate and
///   kl_to_baseline (agreement with the same seed's baseline; 0 for baseline trials),
///   compress_seconds (the compression stages' own wall time, see LatheSweep's `StageTimer`), ...
/// - `layer_stats(trial_id, layer, name, value)`: per-layer bits, bytes, sparsity, sensitivity drop
/// - `provenance(trial_id, key, value)`: plugin sha256s and versions, ABI, seed, host, Lathe and
///   libtorch versions, threads, and what re-runs the trial (LatheSweep's `TrialProvenance`)
/// - `slurm_submissions(id, sweep_id, job_name UNIQUE, array_job_id, dependency, submitted_at)` and
///   `slurm_tasks(submission_id, array_task_id, trial_id)`: each `sbatch --array` of the Slurm
///   executor and which trial each of its tasks runs (see `ResultsStore+Slurm.swift`)
public final class ResultsStore {
    public let db: SQLiteDatabase
    public static let schemaVersion = 2

    /// Opens or creates the database and its schema; `readOnly` opens an existing database
    /// for reading only (nothing is created or written).
    public init(path: String, readOnly: Bool = false) throws {
        db = try SQLiteDatabase(path: path, readOnly: readOnly)
        if readOnly { return }
        try db.execute("""
        CREATE TABLE IF NOT EXISTS sweeps (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, spec_path TEXT NOT NULL, spec_text TEXT NOT NULL,
            created_at TEXT NOT NULL, lathe_version TEXT NOT NULL, host TEXT NOT NULL, workers INTEGER NOT NULL, threads INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS trials (
            id INTEGER PRIMARY KEY, sweep_id INTEGER NOT NULL REFERENCES sweeps(id), key TEXT NOT NULL,
            grp TEXT NOT NULL, method TEXT NOT NULL, config_json TEXT NOT NULL, seed INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
            error TEXT, attempts INTEGER NOT NULL DEFAULT 0, started_at TEXT, finished_at TEXT, seconds REAL,
            UNIQUE (sweep_id, key));
        CREATE TABLE IF NOT EXISTS metrics (
            trial_id INTEGER NOT NULL REFERENCES trials(id), name TEXT NOT NULL, value REAL NOT NULL,
            PRIMARY KEY (trial_id, name));
        CREATE TABLE IF NOT EXISTS layer_stats (
            trial_id INTEGER NOT NULL REFERENCES trials(id), layer TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
            PRIMARY KEY (trial_id, layer, name));
        CREATE TABLE IF NOT EXISTS provenance (
            trial_id INTEGER NOT NULL REFERENCES trials(id), key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (trial_id, key));
        \(Self.slurmSchema)
        PRAGMA user_version = \(Self.schemaVersion);
        """)
    }

    // MARK: Sweeps

    /// A sweep row.
    public struct Sweep: Sendable, Equatable {
        public var id: Int64
        public var name: String
        public var specPath: String
        public var specText: String
    }

    /// The sweep named `name`, if recorded.
    public func sweep(named name: String) throws -> Sweep? {
        try db.query("SELECT id, name, spec_path, spec_text FROM sweeps WHERE name = ?", [.text(name)]).first.map {
            Sweep(id: $0["id"]?.int ?? 0, name: $0["name"]?.string ?? "", specPath: $0["spec_path"]?.string ?? "",
                  specText: $0["spec_text"]?.string ?? "")
        }
    }

    /// Names of all recorded sweeps.
    public func sweepNames() throws -> [String] {
        try db.query("SELECT name FROM sweeps ORDER BY id").compactMap { $0["name"]?.string }
    }

    /// Records a new sweep with its trials (all pending), in one transaction.
    public func createSweep(name: String, specPath: String, specText: String, latheVersion: String, host: String,
                            workers: Int, threads: Int, trials: [TrialRecord]) throws -> Int64 {
        try db.transaction {
            try db.query("""
                INSERT INTO sweeps (name, spec_path, spec_text, created_at, lathe_version, host, workers, threads)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(name), .text(specPath), .text(specText), .text(Self.now()), .text(latheVersion), .text(host),
                      .integer(Int64(workers)), .integer(Int64(threads))])
            let id = db.lastInsertID
            for t in trials {
                try db.query("INSERT INTO trials (sweep_id, key, grp, method, config_json, seed, status) VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                             [.integer(id), .text(t.key), .text(t.group), .text(t.method), .text(t.configJSON), .integer(t.seed)])
            }
            return id
        }
    }

    // MARK: Trials

    /// What a trial is, independent of how it ran.
    public struct TrialRecord: Sendable, Equatable {
        public var key: String
        public var group: String
        public var method: String
        public var configJSON: String
        public var seed: Int64
        public init(key: String, group: String, method: String, configJSON: String, seed: Int64) {
            self.key = key
            self.group = group
            self.method = method
            self.configJSON = configJSON
            self.seed = seed
        }
    }

    /// A trial row.
    public struct Trial: Sendable, Equatable {
        public var id: Int64
        public var record: TrialRecord
        public var status: String
        public var error: String?
        public var attempts: Int
    }

    /// The trials of a sweep, by id.
    public func trials(sweep: Int64) throws -> [Trial] {
        try db.query("SELECT id, key, grp, method, config_json, seed, status, error, attempts FROM trials WHERE sweep_id = ? ORDER BY id",
                     [.integer(sweep)]).map(Self.trial)
    }

    /// The trial `id` and the name of its sweep, or nil when there is no such trial.
    public func trial(id: Int64) throws -> (trial: Trial, sweep: String)? {
        try db.query("""
            SELECT t.id, t.key, t.grp, t.method, t.config_json, t.seed, t.status, t.error, t.attempts, s.name
            FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.id = ?
            """, [.integer(id)]).first.map { (Self.trial($0), $0["name"]?.string ?? "") }
    }

    private static func trial(_ row: [String: SQLValue]) -> Trial {
        Trial(id: row["id"]?.int ?? 0,
              record: TrialRecord(key: row["key"]?.string ?? "", group: row["grp"]?.string ?? "", method: row["method"]?.string ?? "",
                                  configJSON: row["config_json"]?.string ?? "", seed: row["seed"]?.int ?? 0),
              status: row["status"]?.string ?? "", error: row["error"]?.string, attempts: Int(row["attempts"]?.int ?? 0))
    }

    /// Trials left `running` by a parent that died go back to `pending` (their partial work
    /// was never recorded), except those in `keep` (trials an executor still follows, such as
    /// Slurm tasks that outlived the parent). Returns how many went back.
    @discardableResult
    public func resetInterrupted(sweep: Int64, keep: Set<Int64> = []) throws -> Int {
        try db.transaction {
            let running = try db.query("SELECT id FROM trials WHERE sweep_id = ? AND status = 'running'", [.integer(sweep)])
                .compactMap { $0["id"]?.int }.filter { !keep.contains($0) }
            for id in running {
                try db.query("UPDATE trials SET status = 'pending', started_at = NULL WHERE id = ?", [.integer(id)])
            }
            return running.count
        }
    }

    /// Failed trials (errors, crashes, timeouts, and trials failed with their seed's baseline)
    /// go back to `pending` to run again; done trials are untouched. Returns how many.
    @discardableResult
    public func resetFailed(sweep: Int64) throws -> Int {
        try db.transaction {
            let n = try db.query("SELECT COUNT(*) AS n FROM trials WHERE sweep_id = ? AND status = 'failed'", [.integer(sweep)]).first?["n"]?.int ?? 0
            try db.query("UPDATE trials SET status = 'pending', error = NULL, started_at = NULL, finished_at = NULL, seconds = NULL WHERE sweep_id = ? AND status = 'failed'",
                         [.integer(sweep)])
            return Int(n)
        }
    }

    /// Marks a trial as started.
    public func markRunning(_ trial: Int64) throws {
        try db.query("UPDATE trials SET status = 'running', attempts = attempts + 1, started_at = ? WHERE id = ? AND status = 'pending'",
                     [.text(Self.now()), .integer(trial)])
    }

    /// What a finished trial produced.
    public struct Outcome: Sendable {
        public var metrics: [String: Double]
        public var layerStats: [String: [String: Double]]
        public var provenance: [String: String]
        public init(metrics: [String: Double], layerStats: [String: [String: Double]] = [:], provenance: [String: String] = [:]) {
            self.metrics = metrics
            self.layerStats = layerStats
            self.provenance = provenance
        }
    }

    /// Records a successful trial and its results in one transaction.
    public func finish(_ trial: Int64, outcome: Outcome, seconds: Double) throws {
        try db.transaction {
            for (table, _) in [("metrics", 0), ("layer_stats", 0), ("provenance", 0)] {
                try db.query("DELETE FROM \(table) WHERE trial_id = ?", [.integer(trial)])
            }
            for (name, value) in outcome.metrics.sorted(by: { $0.key < $1.key }) where value.isFinite {
                try db.query("INSERT INTO metrics (trial_id, name, value) VALUES (?, ?, ?)", [.integer(trial), .text(name), .real(value)])
            }
            for (layer, stats) in outcome.layerStats.sorted(by: { $0.key < $1.key }) {
                for (name, value) in stats.sorted(by: { $0.key < $1.key }) where value.isFinite {
                    try db.query("INSERT INTO layer_stats (trial_id, layer, name, value) VALUES (?, ?, ?, ?)",
                                 [.integer(trial), .text(layer), .text(name), .real(value)])
                }
            }
            for (key, value) in outcome.provenance.sorted(by: { $0.key < $1.key }) {
                try db.query("INSERT INTO provenance (trial_id, key, value) VALUES (?, ?, ?)", [.integer(trial), .text(key), .text(value)])
            }
            try db.query("UPDATE trials SET status = 'done', error = NULL, finished_at = ?, seconds = ? WHERE id = ?",
                         [.text(Self.now()), .real(seconds), .integer(trial)])
        }
    }

    /// Records a failed trial (crash, timeout, error) with the reason. Nothing else is recorded.
    public func fail(_ trial: Int64, error: String, seconds: Double) throws {
        try db.query("UPDATE trials SET status = 'failed', error = ?, finished_at = ?, seconds = ? WHERE id = ?",
                     [.text(error), .text(Self.now()), .real(seconds), .integer(trial)])
    }

    /// Provenance of a trial, by key.
    public func provenance(trial: Int64) throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try db.query("SELECT key, value FROM provenance WHERE trial_id = ?", [.integer(trial)]) {
            if let key = row["key"]?.string, let value = row["value"]?.string { out[key] = value }
        }
        return out
    }

    /// Metrics of a trial.
    public func metrics(trial: Int64) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for row in try db.query("SELECT name, value FROM metrics WHERE trial_id = ?", [.integer(trial)]) {
            if let name = row["name"]?.string, let value = row["value"]?.double { out[name] = value }
        }
        return out
    }

    /// Adds or replaces metrics of a finished trial (the latency phase's figures), in one
    /// transaction; non-finite values are not stored.
    public func recordMetrics(_ trial: Int64, _ metrics: [String: Double]) throws {
        try db.transaction {
            for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
                try db.query("DELETE FROM metrics WHERE trial_id = ? AND name = ?", [.integer(trial), .text(name)])
                if value.isFinite {
                    try db.query("INSERT INTO metrics (trial_id, name, value) VALUES (?, ?, ?)", [.integer(trial), .text(name), .real(value)])
                }
            }
        }
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
