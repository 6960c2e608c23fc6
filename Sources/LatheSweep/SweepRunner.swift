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
    /// The `lathe` executable that runs `__trial`.
    public var executable: String
    public var latheVersion: String
    /// Live status line (TTY) instead of one line per event.
    public var live: Bool
    /// Time the trials' models after the trials (the latency phase); false: `--no-latency`.
    public var latency = true
    /// How the latency phase times (its budget, rounds and precision target).
    public var latencyPlan = LatencyPlan()
    /// Also time every trial's exported model in ONNX Runtime (`--backend ort`).
    public var ortLatency = false

    public init(spec: String, registry: String, executable: String, latheVersion: String, live: Bool) {
        self.spec = spec
        self.registry = registry
        self.executable = executable
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
/// child process (N in parallel, each with a timeout), and records every outcome — a crash,
/// abort or hang loses only its trial, recorded as failed with the signal or the timeout.
/// The database is written only here (one writer); a sweep killed at any point resumes with
/// `resume`: trials left running are run again, finished ones are never repeated (failed ones
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
            let reset = try store.resetInterrupted(sweep: sweepID)
            if reset > 0 { log("resuming '\(spec.name)': \(reset) interrupted trial(s) will run again") }
            if options.retryFailed {
                let retried = try store.resetFailed(sweep: sweepID)
                log("resuming '\(spec.name)': \(retried) failed trial(s) will run again")
            }
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
        let all = try store.trials(sweep: sweepID)
        let pending = all.filter { $0.status == "pending" }
        log("sweep '\(spec.name)': \(all.count) trials (\(spec.seeds.count) seed(s)), \(pending.count) to run, \(options.workers) worker(s) x \(options.threads) thread(s)")
        let jobBase = TrialJob(plan: plans[0], model: spec.model, dataset: spec.dataset, dataDirectory: options.dataDirectory,
                               limitTrain: spec.limitTrain, limitTest: spec.limitTest, baseline: spec.baseline,
                               cacheDirectory: options.cacheDirectory ?? out + "/cache", registryDirectory: registry.directory, threads: options.threads,
                               latheVersion: options.latheVersion)
        let scheduler = Scheduler(options: options, store: store, timeout: options.timeout ?? spec.timeout, out: out, total: all.count,
                                  alreadyDone: all.count - pending.count)
        // Baselines first: every other trial of a seed starts from its cached baseline.
        let baselines = pending.filter { $0.record.group == "baseline" }
        try scheduler.run(baselines, plans: byKey, job: jobBase)
        let failedSeeds = Set(try store.trials(sweep: sweepID).filter { $0.record.group == "baseline" && $0.status == "failed" }.map(\.record.seed))
        var rest: [ResultsStore.Trial] = []
        for trial in pending where trial.record.group != "baseline" {
            if failedSeeds.contains(trial.record.seed) {
                try store.markRunning(trial.id)
                try store.fail(trial.id, error: "the baseline of seed \(trial.record.seed) failed", seconds: 0)
            } else {
                rest.append(trial)
            }
        }
        try scheduler.run(rest, plans: byKey, job: jobBase)
        // A resumed sweep with nothing left to run keeps the figures its phase already recorded.
        let measured = try options.latency && pending.isEmpty
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
                            ranNow: pending.count)
    }

    func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Runs trials as child processes (`ChildProcess`: own process group, killed with the parent), at
/// most `workers` at a time, polling them from the thread that started them.
final class Scheduler {
    struct Running {
        var trial: ResultsStore.Trial
        var child: ChildProcess
        var started: Date
        var log: URL
        var result: URL
    }

    let options: SweepOptions
    let store: ResultsStore
    let timeout: Double
    let out: String
    let total: Int
    var finished: Int
    var durations: [Double] = []

    init(options: SweepOptions, store: ResultsStore, timeout: Double, out: String, total: Int, alreadyDone: Int) {
        self.options = options
        self.store = store
        self.timeout = timeout
        self.out = out
        self.total = total
        self.finished = alreadyDone
    }

    func run(_ trials: [ResultsStore.Trial], plans: [String: TrialPlan], job: TrialJob) throws {
        var queue = trials[...]
        var running: [Running] = []
        while !queue.isEmpty || !running.isEmpty {
            while running.count < max(1, options.workers), let trial = queue.popFirst() {
                guard let plan = plans[trial.record.key] else {
                    try store.markRunning(trial.id)
                    try store.fail(trial.id, error: "trial not in the spec", seconds: 0)
                    continue
                }
                running.append(try launch(trial, plan: plan, job: job))
            }
            Thread.sleep(forTimeInterval: 0.2)
            var still: [Running] = []
            for r in running {
                if let exit = try r.child.poll() {
                    try record(r, exit)
                } else if Date().timeIntervalSince(r.started) > timeout {
                    r.child.killGroup()
                    try record(r, .timedOut(seconds: timeout))
                } else {
                    still.append(r)
                }
            }
            running = still
            if options.live { status(running, queued: queue.count) }
        }
        if options.live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    private func launch(_ trial: ResultsStore.Trial, plan: TrialPlan, job base: TrialJob) throws -> Running {
        var job = base
        job.plan = plan
        job.modelPath = SweepLatency.modelPath(out: out, trial: trial.id)
        let stem = "trial-\(trial.id)"
        let jobURL = URL(fileURLWithPath: out).appendingPathComponent("logs/\(stem).job.json")
        let result = URL(fileURLWithPath: out).appendingPathComponent("logs/\(stem).result.json")
        let log = URL(fileURLWithPath: out).appendingPathComponent("logs/\(stem).log")
        try store.markRunning(trial.id)
        let child = try TrialProcess.start(job, executable: options.executable, jobFile: jobURL, result: result, log: log)
        return Running(trial: trial, child: child, started: Date(), log: log, result: result)
    }

    /// Records how a trial ended: done only with an outcome (`TrialProcess.outcome`).
    private func record(_ r: Running, _ exit: ChildExit) throws {
        let seconds = Date().timeIntervalSince(r.started)
        finished += 1
        let label = "\(r.trial.record.method) seed \(r.trial.record.seed)"
        switch exit {
        case .timedOut:
            try store.fail(r.trial.id, error: String(format: "timed out: killed after %.0f s", timeout), seconds: seconds)
            report("FAILED \(label): timed out after \(Int(timeout)) s (log: \(r.log.path))")
            return
        case .signaled(let signal):
            try store.fail(r.trial.id, error: "crashed with signal \(signal) (\(signalName(signal)))", seconds: seconds)
            report("FAILED \(label): crashed with \(signalName(signal)) (log: \(r.log.path))")
            return
        case .exited:
            break
        }
        let outcome: ResultsStore.Outcome
        switch TrialProcess.outcome(exit, result: r.result, log: r.log) {
        case .success(let o):
            outcome = o
        case .failure(let reason):
            try store.fail(r.trial.id, error: reason.message, seconds: seconds)
            report("FAILED \(label): \(reason.message)")
            return
        }
        try store.finish(r.trial.id, outcome: outcome, seconds: seconds)
        if r.trial.record.group != "baseline" { durations.append(seconds) }
        let accuracy = outcome.metrics["accuracy"].map { String(format: "accuracy %.2f%%", 100 * $0) } ?? ""
        report(String(format: "done %@: %@ (%.1f s)", label, accuracy, seconds))
    }

    private func report(_ line: String) {
        let prefix = "[\(finished)/\(total)] "
        let text = options.live ? "\r\u{1B}[K" + prefix + line + "\n" : prefix + line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// The live status line: progress, ETA and what each worker is doing (its last log line).
    private func status(_ running: [Running], queued: Int) {
        let mean = durations.isEmpty ? nil : durations.reduce(0, +) / Double(durations.count)
        let eta = mean.map { m -> String in
            let seconds = Int(m * Double(queued + running.count) / Double(max(1, options.workers)))
            return String(format: "ETA %d:%02d", seconds / 60, seconds % 60)
        } ?? "ETA --"
        let doing = running.map { r -> String in
            let last = (try? String(contentsOf: r.log, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? ""
            let epoch = last.range(of: #"epoch \d+/\d+"#, options: .regularExpression).map { String(last[$0]) } ?? "starting"
            return "#\(r.trial.id) \(epoch)"
        }.joined(separator: ", ")
        FileHandle.standardError.write(Data("\r\u{1B}[K[\(finished)/\(total)] \(eta) | \(doing)".utf8))
    }
}
