import Foundation
import LathePlugins
import LatheResults

/// Runs trials as child processes on this machine (`ChildProcess`: own process group, killed
/// with the parent), at most `workers` at a time, each killed after the trial timeout; polls them
/// from the thread that started them. The default executor.
final class LocalExecutor: TrialExecutor {
    struct Running {
        var trial: ResultsStore.Trial
        var child: ChildProcess
        var started: Date
        var log: URL
        var result: URL
    }

    let options: SweepOptions
    let store: ResultsStore
    let sweepID: Int64
    let timeout: Double

    init(options: SweepOptions, store: ResultsStore, sweepID: Int64, timeout: Double) {
        self.options = options
        self.store = store
        self.sweepID = sweepID
        self.timeout = timeout
    }

    /// Nothing a dead parent started locally survives it (its children die with it). Trials it
    /// left running that were submitted to Slurm may still run there: resuming them here would
    /// run them twice, so that is refused.
    func reattach(_ running: [ResultsStore.Trial]) throws -> [ResultsStore.Trial] {
        let submitted = try store.currentSlurmTasks(sweep: sweepID)
        let onSlurm = running.filter { submitted[$0.id] != nil }
        if !onSlurm.isEmpty {
            let arrays = Set(onSlurm.compactMap { submitted[$0.id]?.arrayJobID }).sorted().joined(separator: ", ")
            throw SweepError("\(onSlurm.count) running trial(s) of this sweep were submitted to Slurm (job array(s) \(arrays)); "
                             + "resume with --executor slurm, or cancel them first with --cancel")
        }
        return []
    }

    func run(baselines: [ResultsStore.Trial], rest: [ResultsStore.Trial], attached: [ResultsStore.Trial],
             recorder: TrialRecorder) throws {
        // Baselines first; every other trial of a seed starts from its seed's cached baseline, as
        // soon as that one has ended (`TrialOrder.nextStartable`).
        let ordered = TrialOrder.ordered(try recorder.dropOrphans(rest)) { recorder.plans[$0.record.key] }
        try runAll(baselines + ordered, recorder: recorder)
    }

    private func runAll(_ trials: [ResultsStore.Trial], recorder: TrialRecorder) throws {
        var queue = trials
        var running: [Running] = []
        let isBaseline = { (trial: ResultsStore.Trial) in trial.record.group == "baseline" }
        while !queue.isEmpty || !running.isEmpty {
            while running.count < max(1, options.workers),
                  let next = TrialOrder.nextStartable(queue, running: running.map(\.trial), seed: \.record.seed, isBaseline: isBaseline) {
                let trial = queue.remove(at: next)
                guard let job = try recorder.job(for: trial) else { continue }
                running.append(try launch(trial, job: job, recorder: recorder))
            }
            Thread.sleep(forTimeInterval: 0.2)
            var still: [Running] = []
            for r in running {
                if let exit = try r.child.poll() {
                    try recorder.record(r.trial, exit: exit, seconds: Date().timeIntervalSince(r.started), result: r.result, log: r.log)
                } else if Date().timeIntervalSince(r.started) > timeout {
                    r.child.killGroup()
                    try recorder.record(r.trial, exit: .timedOut(seconds: timeout), seconds: Date().timeIntervalSince(r.started),
                                        result: r.result, log: r.log)
                } else {
                    still.append(r)
                }
            }
            // A seed whose baseline just failed has nothing to start from: its trials are recorded failed.
            let stillIDs = Set(still.map(\.trial.id))
            if running.contains(where: { isBaseline($0.trial) && !stillIDs.contains($0.trial.id) }) { queue = try recorder.dropOrphans(queue) }
            running = still
            if options.live { status(running, queued: queue.count, recorder: recorder) }
        }
        if options.live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    private func launch(_ trial: ResultsStore.Trial, job: TrialJob, recorder: TrialRecorder) throws -> Running {
        let stem = "trial-\(trial.id)"
        let logs = URL(fileURLWithPath: recorder.out).appendingPathComponent("logs")
        let jobURL = logs.appendingPathComponent("\(stem).job.json")
        let result = logs.appendingPathComponent("\(stem).result.json")
        let log = recorder.logFile(trial.id)
        try store.markRunning(trial.id)
        let child = try TrialProcess.start(job, executable: options.localExecutable, jobFile: jobURL, result: result, log: log)
        return Running(trial: trial, child: child, started: Date(), log: log, result: result)
    }

    /// The live status line: progress, ETA and what each worker is doing (its last log line).
    private func status(_ running: [Running], queued: Int, recorder: TrialRecorder) {
        let durations = recorder.durations
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
        FileHandle.standardError.write(Data("\r\u{1B}[K[\(recorder.finished)/\(recorder.total)] \(eta) | \(doing)".utf8))
    }
}
