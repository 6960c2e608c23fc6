import Foundation
import LathePlugins
import LatheResults
import LatheTrain

extension ResultsStore.Outcome: Codable {
    enum CodingKeys: String, CodingKey { case metrics, layerStats = "layer_stats", provenance }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(metrics: try c.decode([String: Double].self, forKey: .metrics),
                  layerStats: try c.decode([String: [String: Double]].self, forKey: .layerStats),
                  provenance: try c.decode([String: String].self, forKey: .provenance))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(metrics, forKey: .metrics)
        try c.encode(layerStats, forKey: .layerStats)
        try c.encode(provenance, forKey: .provenance)
    }
}

/// How a sweep runs.
public struct SweepOptions: Sendable {
    public var spec: String
    /// Folder for the results database, the shared cache and trial logs.
    public var outputDirectory: String?
    public var database: String?
    /// Folder of the trained-baseline and teacher cache (default: `<out>/cache`). Entries are
    /// keyed by a hash of the model, options, data and recipe, and trained once under a lock,
    /// so sweeps that share a folder share their baselines.
    public var cacheDirectory: String?
    /// Parallel trial processes (default: one per core).
    public var workers: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Intra-op threads per trial.
    public var threads: Int = 1
    public var resume = false
    /// With `resume`: failed and timed-out trials (baselines included) run again.
    public var retryFailed = false
    /// Overrides the spec's per-trial timeout (seconds).
    public var timeout: Double?
    public var registry: String
    public var dataDirectory: String?
    /// The installed `lathe` executable: what Slurm nodes run (and check the sha256 of).
    public var executable: String
    /// What runs this machine's children (`__trial`, `__latency`): by default `executable`; the CLI
    /// passes its own running image (`/proc/<pid>/exe`) so a rebuild mid-sweep changes nothing.
    public var localExecutable: String
    public var latheVersion: String
    /// Live status line (TTY) instead of one line per event.
    public var live: Bool
    /// Time the trials' models after the trials (the latency phase); false: `--no-latency`.
    public var latency = true
    /// How the latency phase times (its budget, rounds and precision target).
    public var latencyPlan = LatencyPlan()
    /// Also time every trial's exported model in ONNX Runtime (`--backend ort`).
    public var ortLatency = false
    /// Submit the trials to Slurm as job arrays (`--executor slurm`); nil: local child processes.
    public var slurm: SlurmOptions?
    /// The environment of the Slurm commands (default: this process's; `SLURM_CONF` passes through).
    public var slurmEnvironment: [String: String]?

    public init(spec: String, registry: String, executable: String, latheVersion: String, live: Bool) {
        self.spec = spec
        self.registry = registry
        self.executable = executable
        self.localExecutable = executable
        self.latheVersion = latheVersion
        self.live = live
    }
}

/// What a finished sweep reports.
public struct SweepSummary: Sendable {
    public var name: String
    public var database: String
    public var outputDirectory: String
    public var done: Int
    public var failed: Int
    public var ranNow: Int
}

/// The parent side of a sweep: expands the spec into trials, records them, runs each in its own
/// process — a local child (N in parallel, each with a timeout: `LocalExecutor`) or a Slurm array
/// task (`SlurmExecutor`) — and records every outcome: a crash, abort or hang loses only its
/// trial, recorded as failed with the signal, the timeout or Slurm's state.
/// The database is written only here (one writer); a sweep killed at any point resumes with
/// `resume`: trials left running are run again (Slurm tasks still known to Slurm are followed
/// instead: re-attached, not resubmitted), finished ones are never repeated (failed ones
/// too, with `retryFailed`). A `WriterLock` keeps a second sweep off the same database.
public final class SweepRunner {
    let options: SweepOptions

    public init(_ options: SweepOptions) { self.options = options }

    public func run() throws -> SweepSummary {
        let registry = try Registry(directory: options.registry)
        let spec = try SweepSpec.load(options.spec, registry: registry)
        let plans = try spec.trials(registry: registry)
        let out = URL(fileURLWithPath: options.outputDirectory ?? "runs/\(spec.name)").standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: out + "/logs", withIntermediateDirectories: true)
        let databasePath = options.database ?? out + "/results.db"
        // One writer per database: a second sweep on it refuses here, naming this one's pid.
        let lock = try WriterLock(database: databasePath)
        defer { withExtendedLifetime(lock) {} }
        let store = try ResultsStore(path: databasePath)
        let sweepID: Int64
        let byKey = Dictionary(plans.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        guard byKey.count == plans.count else { throw SweepError("\(options.spec): two trials have the same configuration") }
        if let existing = try store.sweep(named: spec.name) {
            guard options.resume else {
                throw SweepError("sweep '\(spec.name)' is already in \(databasePath); resume it with --resume, or rename the sweep")
            }
            let recorded = Set(try store.trials(sweep: existing.id).map(\.record.key))
            guard recorded == Set(byKey.keys) else {
                throw SweepError("\(options.spec) no longer describes the trials of sweep '\(spec.name)' in \(databasePath) (the spec changed); rename the sweep to start a new one")
            }
            sweepID = existing.id
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let records = try plans.map { plan in
                ResultsStore.TrialRecord(key: plan.key, group: plan.group, method: plan.label,
                                         configJSON: String(decoding: try encoder.encode(plan.stages), as: UTF8.self), seed: Int64(plan.seed))
            }
            sweepID = try store.createSweep(name: spec.name, specPath: options.spec, specText: spec.text, latheVersion: options.latheVersion,
                                            host: ProcessInfo.processInfo.hostName, workers: options.workers, threads: options.threads, trials: records)
        }
        let timeout = options.timeout ?? spec.timeout
        let jobBase = TrialJob(plan: plans[0], model: spec.model, dataset: spec.dataset, dataDirectory: options.dataDirectory.map(Self.absolute),
                               limitTrain: spec.limitTrain, limitTest: spec.limitTest, baseline: spec.baseline,
                               cacheDirectory: Self.absolute(options.cacheDirectory ?? out + "/cache"),
                               registryDirectory: Self.absolute(registry.directory), threads: options.threads, latheVersion: options.latheVersion)
        let executor: TrialExecutor
        if let slurm = options.slurm {
            executor = try SlurmExecutor(slurm, commands: SlurmCommands(environment: options.slurmEnvironment ?? ProcessInfo.processInfo.environment),
                                         store: store, sweepID: sweepID, sweepName: spec.name, out: out, timeout: timeout,
                                         executable: options.executable, threads: options.threads, registry: registry)
        } else {
            executor = LocalExecutor(options: options, store: store, sweepID: sweepID, timeout: timeout)
        }
        // Trials an earlier parent left running: those the executor still follows (Slurm tasks
        // that outlived it) are re-attached; the others run again.
        var attached: [ResultsStore.Trial] = []
        if options.resume {
            attached = try executor.reattach(try store.trials(sweep: sweepID).filter { $0.status == "running" })
            if !attached.isEmpty { log("resuming '\(spec.name)': re-attached to \(attached.count) trial(s) still in Slurm") }
            let reset = try store.resetInterrupted(sweep: sweepID, keep: Set(attached.map(\.id)))
            if reset > 0 { log("resuming '\(spec.name)': \(reset) interrupted trial(s) will run again") }
            if options.retryFailed {
                let retried = try store.resetFailed(sweep: sweepID)
                log("resuming '\(spec.name)': \(retried) failed trial(s) will run again")
            }
        }
        let all = try store.trials(sweep: sweepID)
        let pending = all.filter { $0.status == "pending" }
        let how = options.slurm == nil ? "\(options.workers) worker(s)" : "Slurm job arrays"
        log("sweep '\(spec.name)': \(all.count) trials (\(spec.seeds.count) seed(s)), \(pending.count) to run, \(how) x \(options.threads) thread(s)")
        let recorder = TrialRecorder(options: options, store: store, sweepID: sweepID, out: out, plans: byKey, jobBase: jobBase, total: all.count,
                                     alreadyDone: all.count - pending.count - attached.count)
        try executor.run(baselines: pending.filter { $0.record.group == "baseline" }, rest: pending.filter { $0.record.group != "baseline" },
                         attached: attached, recorder: recorder)
        // A resumed sweep with nothing left to run keeps the figures its phase already recorded.
        let measured = try options.latency && pending.isEmpty && attached.isEmpty
            && store.trials(sweep: sweepID).filter { $0.status == "done" }.allSatisfy { try store.metrics(trial: $0.id)["latency_b1_ms"] != nil }
        if measured {
            log("latency: already measured (nothing ran now)")
        } else if options.latency {
            // A failed phase costs only the latency figures: the trials' results stand.
            do {
                try SweepLatency.run(store: store, sweep: sweepID, out: out, options: options, log: log)
            } catch {
                log("latency: NOT MEASURED: \(error)")
            }
        } else {
            log("latency: not measured (--no-latency)")
        }
        if options.latency, options.ortLatency {
            do {
                try SweepORTLatency.run(store: store, sweep: sweepID, out: out, options: options, log: log)
            } catch {
                log("latency (onnxruntime): NOT MEASURED: \(error)")
            }
        }
        let final = try store.trials(sweep: sweepID)
        return SweepSummary(name: spec.name, database: databasePath, outputDirectory: out,
                            done: final.filter { $0.status == "done" }.count, failed: final.filter { $0.status == "failed" }.count,
                            ranNow: pending.count + attached.count)
    }

    /// `path` made absolute against the current directory (job files are read elsewhere: a
    /// Slurm task starts in the submission's directory, perhaps on another machine).
    static func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
