import Foundation
import LathePlugins
import LatheResults

/// How a sweep's trials are dispatched: local child processes (`LocalExecutor`) or Slurm job
/// arrays (`SlurmExecutor`). Everything else — expanding and recording the trials, the job each
/// trial runs, how an outcome is recorded, failing the trials of a seed whose baseline failed,
/// the latency phase, resume — is `SweepRunner`'s and `TrialRecorder`'s, the same for both.
///
/// Threading: called from the sweep's thread only.
protocol TrialExecutor: AnyObject {
    /// Of the trials an earlier parent left `running`, those this executor still follows (they
    /// keep running and are recorded when they end); the others go back to pending and run again.
    func reattach(_ running: [ResultsStore.Trial]) throws -> [ResultsStore.Trial]

    /// Runs `baselines` and then `rest` (each seed's trials start from its baseline), and follows
    /// `attached` to their end, recording every outcome through `recorder`. A trial of `rest` whose
    /// seed's baseline failed does not run: `recorder.dropOrphans` records it failed.
    func run(baselines: [ResultsStore.Trial], rest: [ResultsStore.Trial], attached: [ResultsStore.Trial],
             recorder: TrialRecorder) throws
}

/// The part of a sweep every executor shares: the job file of a trial, how an ended trial is
/// recorded (done only with a decodable result from a process that exited 0), failing the
/// trials of seeds whose baseline failed, and the progress lines. The database is written only
/// here and by `SweepRunner`, from the parent's thread.
final class TrialRecorder {
    let options: SweepOptions
    let store: ResultsStore
    let sweepID: Int64
    let out: String
    let plans: [String: TrialPlan]
    let jobBase: TrialJob
    let total: Int
    /// Trials ended so far (also those done before a resume).
    private(set) var finished: Int
    /// Seconds of each non-baseline trial recorded done (the live ETA).
    private(set) var durations: [Double] = []

    init(options: SweepOptions, store: ResultsStore, sweepID: Int64, out: String, plans: [String: TrialPlan], jobBase: TrialJob,
         total: Int, alreadyDone: Int) {
        self.options = options
        self.store = store
        self.sweepID = sweepID
        self.out = out
        self.plans = plans
        self.jobBase = jobBase
        self.total = total
        self.finished = alreadyDone
    }

    /// The job `trial` runs; nil (and the trial recorded failed) when the spec no longer has it.
    func job(for trial: ResultsStore.Trial) throws -> TrialJob? {
        guard let plan = plans[trial.record.key] else {
            try store.markRunning(trial.id)
            try store.fail(trial.id, error: "trial not in the spec", seconds: 0)
            return nil
        }
        var job = jobBase
        job.plan = plan
        job.modelPath = SweepLatency.modelPath(out: out, trial: trial.id)
        return job
    }

    /// The trial's log file (`<out>/logs/trial-N.log`), whichever executor ran it.
    func logFile(_ trial: Int64) -> URL {
        URL(fileURLWithPath: out).appendingPathComponent("logs/trial-\(trial).log")
    }

    /// Records how a trial's process ended: done only with an outcome (`TrialProcess.outcome`);
    /// otherwise failed with the signal, the time-out, or the status and the log's last line.
    func record(_ trial: ResultsStore.Trial, exit: ChildExit, seconds: Double, result: URL, log: URL) throws {
        let label = Self.label(trial)
        switch exit {
        case .timedOut(let limit):
            try fail(trial, String(format: "timed out: killed after %.0f s", limit), seconds: seconds,
                     line: "timed out after \(Int(limit)) s (log: \(log.path))")
            return
        case .signaled(let signal):
            try fail(trial, "crashed with signal \(signal) (\(signalName(signal)))", seconds: seconds,
                     line: "crashed with \(signalName(signal)) (log: \(log.path))")
            return
        case .exited:
            break
        }
        switch TrialProcess.outcome(exit, result: result, log: log) {
        case .success(let outcome):
            try store.finish(trial.id, outcome: outcome, seconds: seconds)
            finished += 1
            if trial.record.group != "baseline" { durations.append(seconds) }
            // The task's primary metric (accuracy, map, miou), which the `accuracy` column holds.
            let metric = outcome.provenance["metric"] ?? "accuracy"
            let accuracy = outcome.metrics["accuracy"].map { String(format: "%@ %.2f%%", metric, 100 * $0) } ?? ""
            report(String(format: "done %@: %@ (%.1f s)", label, accuracy, seconds))
        case .failure(let reason):
            try fail(trial, reason.message, seconds: seconds, line: nil)
        }
    }

    /// Records a trial failed with `reason` (the progress line says `line`, default the reason).
    func fail(_ trial: ResultsStore.Trial, _ reason: String, seconds: Double, line: String? = nil) throws {
        try store.fail(trial.id, error: reason, seconds: seconds)
        finished += 1
        report("FAILED \(Self.label(trial)): \(line ?? reason)")
    }

    /// Seeds whose baseline trial is recorded failed.
    func failedBaselineSeeds() throws -> Set<Int64> {
        Set(try store.trials(sweep: sweepID).filter { $0.record.group == "baseline" && $0.status == "failed" }.map(\.record.seed))
    }

    /// The trials of `trials` that may run: those whose seed's baseline failed are recorded
    /// failed ("the baseline of seed N failed") and left out.
    func dropOrphans(_ trials: [ResultsStore.Trial]) throws -> [ResultsStore.Trial] {
        let failedSeeds = try failedBaselineSeeds()
        var kept: [ResultsStore.Trial] = []
        for trial in trials {
            if failedSeeds.contains(trial.record.seed) {
                try store.markRunning(trial.id)
                try store.fail(trial.id, error: Self.orphanReason(seed: trial.record.seed), seconds: 0)
                finished += 1
            } else {
                kept.append(trial)
            }
        }
        return kept
    }

    /// Why a trial did not run when its seed's baseline failed.
    static func orphanReason(seed: Int64) -> String { "the baseline of seed \(seed) failed" }

    static func label(_ trial: ResultsStore.Trial) -> String { "\(trial.record.method) seed \(trial.record.seed)" }

    /// A progress line, `[finished/total] line`.
    func report(_ line: String) {
        let prefix = "[\(finished)/\(total)] "
        let text = options.live ? "\r\u{1B}[K" + prefix + line + "\n" : prefix + line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// A line of the sweep's log (not counted as progress).
    func log(_ line: String) {
        FileHandle.standardError.write(Data(((options.live ? "\r\u{1B}[K" : "") + line + "\n").utf8))
    }
}
