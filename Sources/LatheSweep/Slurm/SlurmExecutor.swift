import Foundation
import LatheIO
import LathePlugins
import LatheResults

/// Runs a sweep's trials as Slurm job arrays (`lathe sweep --executor slurm`).
///
/// Pending baselines go out as one array; the other pending trials as a second array that waits
/// for it (`--dependency=afterok:<baselines>`), so every seed's baseline is trained once, into the
/// shared cache, before the trials that start from it. Each task runs `lathe __trial` on its job
/// file (`SlurmScript`); the task's result and exit record come back as files on the shared
/// output directory, and this parent — the only database writer — records them as they appear,
/// looking every `pollInterval` at those files and at `scontrol show job -o <array>` (`sacct` is
/// not needed: clusters without slurmdbd have none). A task Slurm killed (time limit, node
/// failure, `scancel`) leaves no exit record and is recorded failed with Slurm's state and
/// reason. When a baseline fails, the dependent array can never start
/// (`DependencyNeverSatisfied`): once every baseline has ended, its tasks are cancelled, the
/// trials of the failed seeds recorded failed as with the local executor, and the others
/// submitted again without the dependency.
///
/// Every submission and the trial of each task are recorded in the database before `sbatch`
/// runs (`ResultsStore.recordSlurmSubmission`), the job id right after; a restarted parent
/// (`--resume`) follows the tasks Slurm still knows instead of submitting them again.
final class SlurmExecutor: TrialExecutor {
    struct Tracked {
        var trial: ResultsStore.Trial
        var arrayJobID: String
        var taskID: Int
        var restarts = 0
        /// The last state Slurm reported for the task (nil: not seen yet by this parent).
        var lastState: String?
        /// When Slurm first said the task completed while no exit record was visible yet (a
        /// shared filesystem may show a file on another node's write a little later).
        var endedUnseen: Date?
    }

    /// How long a task Slurm reports ended normally may lack its exit record before it is
    /// recorded failed (attribute caching of network filesystems).
    static let exitRecordGrace: Double = 20

    let options: SlurmOptions
    let commands: SlurmCommands
    let store: ResultsStore
    let sweepID: Int64
    let sweepName: String
    let out: String
    let script: SlurmScript
    private var tracked: [Int64: Tracked] = [:]
    private var cancelled = false

    init(_ options: SlurmOptions, commands: SlurmCommands, store: ResultsStore, sweepID: Int64, sweepName: String, out: String,
         timeout: Double, executable: String, threads: Int, registry: Registry) throws {
        try options.validate()
        self.options = options
        self.commands = commands
        self.store = store
        self.sweepID = sweepID
        self.sweepName = sweepName
        self.out = out
        var pins = [(sha256: try commands.sha256(ofFile: executable), path: executable)]
        for manifest in registry.manifests.values.sorted(by: { $0.plugin.name < $1.plugin.name }) {
            if let pin = manifest.sha256 { pins.append((pin, manifest.libraryPath)) }
        }
        script = SlurmScript(pins: pins, executable: executable, out: out, sweepName: sweepName, threads: threads,
                             time: options.time ?? SlurmOptions.time(coveringSeconds: timeout), options: options)
    }

    /// The generated batch script.
    var scriptURL: URL { URL(fileURLWithPath: SlurmScript.directory(out: out) + "/sweep.sbatch") }
    /// Written by `lathe sweep --cancel`: nothing more is submitted.
    static func cancelMarker(out: String) -> URL { URL(fileURLWithPath: SlurmScript.directory(out: out) + "/cancelled") }

    func reattach(_ running: [ResultsStore.Trial]) throws -> [ResultsStore.Trial] {
        // A parent killed between recording a submission and sbatch's answer: the job name says
        // whether Slurm has it.
        for submission in try store.slurmSubmissions(sweep: sweepID) where submission.arrayJobID == nil {
            if let id = try commands.arrayJob(named: submission.jobName) {
                try store.setSlurmArrayJob(submission: submission.id, arrayJobID: id)
            } else {
                try store.forgetSlurmSubmission(submission.id)
            }
        }
        let current = try store.currentSlurmTasks(sweep: sweepID)
        var records: [String: [SlurmJobRecord]?] = [:]
        var attached: [ResultsStore.Trial] = []
        for trial in running {
            guard let task = current[trial.id], let array = task.arrayJobID else { continue }
            let known: Bool
            if SlurmExitRecord.read(SlurmScript.exitFile(out: out, trial: trial.id)) != nil {
                known = true
            } else {
                if records[array] == nil { records[array] = .some(try commands.jobs(array)) }
                known = records[array]??.contains { $0.tasks.contains(task.taskID) } ?? false
            }
            // A task Slurm has forgotten that left nothing behind is submitted again.
            if known {
                tracked[trial.id] = Tracked(trial: trial, arrayJobID: array, taskID: task.taskID)
                attached.append(trial)
            }
        }
        return attached
    }

    func run(baselines: [ResultsStore.Trial], rest: [ResultsStore.Trial], attached: [ResultsStore.Trial],
             recorder: TrialRecorder) throws {
        for sub in ["jobs", "results", "tasks"] {
            try FileManager.default.createDirectory(atPath: SlurmScript.directory(out: out) + "/" + sub, withIntermediateDirectories: true)
        }
        try? FileManager.default.removeItem(at: Self.cancelMarker(out: out))
        try atomicWrite(Data(script.text.utf8), to: scriptURL)
        var baselineArrays = Set(tracked.values.filter { $0.trial.record.group == "baseline" }.map(\.arrayJobID))
        if let id = try submit(baselines, dependency: nil, recorder: recorder) { baselineArrays.insert(id) }
        let dependency = baselineArrays.isEmpty ? nil : "afterok:" + baselineArrays.sorted().joined(separator: ":")
        _ = try submit(try recorder.dropOrphans(rest), dependency: dependency, recorder: recorder)
        while !tracked.isEmpty {
            Thread.sleep(forTimeInterval: options.pollInterval)
            try poll(recorder)
        }
    }

    /// Submits `trials` as one array; returns its job id (nil when there was nothing to submit).
    private func submit(_ trials: [ResultsStore.Trial], dependency: String?, recorder: TrialRecorder) throws -> String? {
        var ids: [Int64] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for trial in trials {
            guard let job = try recorder.job(for: trial) else { continue }
            try atomicWrite(try encoder.encode(job), to: SlurmScript.jobFile(out: out, trial: trial.id))
            try? FileManager.default.removeItem(at: SlurmScript.resultFile(out: out, trial: trial.id))
            try? FileManager.default.removeItem(at: SlurmScript.exitFile(out: out, trial: trial.id))
            ids.append(trial.id)
        }
        guard !ids.isEmpty else { return nil }
        let safeName = String(sweepName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }.prefix(40))
        let jobName = "lathe-\(safeName)-\(UUID().uuidString.prefix(8).lowercased())"
        let list = SlurmScript.taskList(out: out, jobName: jobName)
        try atomicWrite(Data((ids.map(String.init).joined(separator: "\n") + "\n").utf8), to: list)
        let submission = try store.recordSlurmSubmission(sweep: sweepID, jobName: jobName, dependency: dependency, trials: ids)
        var arguments = ["--job-name=\(jobName)", "--array=0-\(ids.count - 1)" + (options.arrayLimit.map { "%\($0)" } ?? "")]
        if let dependency { arguments.append("--dependency=\(dependency)") }
        arguments += options.extraArguments + [scriptURL.path, list.path]
        let array: String
        do {
            array = try commands.submit(arguments)
        } catch {
            try store.forgetSlurmSubmission(submission)
            throw error
        }
        try store.setSlurmArrayJob(submission: submission, arrayJobID: array)
        let byID = Dictionary(trials.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for (index, id) in ids.enumerated() {
            if let trial = byID[id] { tracked[id] = Tracked(trial: trial, arrayJobID: array, taskID: index) }
        }
        recorder.log("slurm: submitted \(ids.count) trial(s) as job array \(array)\(dependency.map { " (\($0))" } ?? "")")
        return array
    }

    /// One look at the exit records and at Slurm's job states; records every trial that ended.
    private func poll(_ recorder: TrialRecorder) throws {
        if !cancelled, FileManager.default.fileExists(atPath: Self.cancelMarker(out: out).path) {
            cancelled = true
            recorder.log("slurm: the sweep was cancelled (lathe sweep --cancel); recording its tasks as they end")
        }
        // Normal ends first: the exit record alone says everything (and outlives Slurm's memory).
        for (id, t) in tracked {
            if let exit = SlurmExitRecord.read(SlurmScript.exitFile(out: out, trial: id)), exit.status == 0 {
                try record(t, exit: exit, recorder: recorder)
            }
        }
        guard !tracked.isEmpty else { return }
        var stuck: [Tracked] = []
        for array in Set(tracked.values.map(\.arrayJobID)).sorted() {
            let records = try commands.jobs(array)
            for t in tracked.values where t.arrayJobID == array {
                let exit = SlurmExitRecord.read(SlurmScript.exitFile(out: out, trial: t.trial.id))
                guard let record = records?.first(where: { $0.tasks.contains(t.taskID) }) else {
                    if let exit {
                        try record(t, exit: exit, recorder: recorder)
                    } else if records != nil, t.lastState == nil || t.lastState == "PENDING" {
                        // Slurm drops a pending array task that is cancelled from its records
                        // altogether (no CANCELLED record): the only way one leaves a live array
                        // before it ran (a task this parent follows cannot age out unseen: it
                        // polls far more often than MinJobAge, and re-attaches only to tasks
                        // Slurm still lists).
                        try fail(t, "slurm: CANCELLED while pending (task \(array)_\(t.taskID) left Slurm's records before it started)",
                                 seconds: 0, recorder: recorder)
                    } else {
                        try fail(t, "slurm: task \(array)_\(t.taskID) is no longer known to Slurm and left no exit record", seconds: 0,
                                 recorder: recorder)
                    }
                    continue
                }
                tracked[t.trial.id]?.lastState = record.state
                if record.isFinal {
                    try ended(t, record: record, exit: exit, recorder: recorder)
                } else if record.dependencyNeverSatisfied {
                    stuck.append(t)
                } else if record.restarts > t.restarts {
                    tracked[t.trial.id]?.restarts = record.restarts
                    recorder.log("slurm: \(TrialRecorder.label(t.trial)) (task \(array)_\(t.taskID)) was requeued (restart \(record.restarts)); it runs again from the start")
                }
            }
        }
        // Tasks waiting on a failed baseline array: once every baseline has ended, cancel them,
        // fail those of the failed seeds, and submit the others again without the dependency.
        if !stuck.isEmpty, !tracked.values.contains(where: { $0.trial.record.group == "baseline" }) {
            try commands.cancel(stuck.map { "\($0.arrayJobID)_\($0.taskID)" })
            for t in stuck { tracked[t.trial.id] = nil }
            let failedSeeds = try recorder.failedBaselineSeeds()
            var again: [ResultsStore.Trial] = []
            for t in stuck {
                if failedSeeds.contains(t.trial.record.seed) {
                    try recorder.fail(t.trial, TrialRecorder.orphanReason(seed: t.trial.record.seed), seconds: 0)
                } else if cancelled {
                    try recorder.fail(t.trial, "slurm: CANCELLED (lathe sweep --cancel)", seconds: 0)
                } else {
                    again.append(t.trial)
                }
            }
            _ = try submit(again, dependency: nil, recorder: recorder)
        }
    }

    /// Records a task Slurm reports ended for good.
    private func ended(_ t: Tracked, record: SlurmJobRecord, exit: SlurmExitRecord?, recorder: TrialRecorder) throws {
        let normal = record.state == "COMPLETED" || record.reason == "NonZeroExitCode"
        if normal, let exit {
            try self.record(t, exit: exit, recorder: recorder)
        } else if normal {
            // Slurm saw the script end normally, so its exit record exists: wait a little for it.
            let since = t.endedUnseen ?? Date()
            tracked[t.trial.id]?.endedUnseen = since
            if Date().timeIntervalSince(since) > Self.exitRecordGrace {
                try fail(t, record.failureDescription + ", but its exit record \(SlurmScript.exitFile(out: out, trial: t.trial.id).path) never appeared",
                         seconds: record.runSeconds ?? 0, recorder: recorder)
            }
        } else {
            try fail(t, record.failureDescription + " (task \(t.arrayJobID)_\(t.taskID))", seconds: record.runSeconds ?? 0,
                     recorder: recorder)
        }
    }

    /// Records a task that wrote its exit record, as the local executor records a child's exit.
    private func record(_ t: Tracked, exit: SlurmExitRecord, recorder: TrialRecorder) throws {
        tracked[t.trial.id] = nil
        try recorder.record(t.trial, exit: .exited(exit.status), seconds: exit.seconds, result: SlurmScript.resultFile(out: out, trial: t.trial.id),
                            log: recorder.logFile(t.trial.id))
    }

    private func fail(_ t: Tracked, _ reason: String, seconds: Double, recorder: TrialRecorder) throws {
        tracked[t.trial.id] = nil
        try recorder.fail(t.trial, reason, seconds: seconds, line: "\(reason) (log: \(recorder.logFile(t.trial.id).path))")
    }
}
