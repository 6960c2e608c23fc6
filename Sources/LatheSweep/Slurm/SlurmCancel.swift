import Foundation
import LatheIO
import LathePlugins
import LatheResults

/// `lathe sweep SPEC --cancel`: cancels (`scancel`) every Slurm job array of the sweep that still
/// has an unfinished trial, and makes sure no more are submitted.
///
/// Cancelled trials are recorded **failed** with `slurm: CANCELLED…`, like any trial Slurm
/// ended, so `--resume` leaves them alone and `--resume --retry-failed` runs them again; trials
/// never submitted stay pending. When the sweep's parent still runs (it holds the database's
/// writer lock), it records them itself as their tasks end (and stops submitting: a marker file
/// tells it the sweep was cancelled); otherwise this records them.
public enum SlurmCancel {
    /// What `--cancel` did.
    public struct Summary: Sendable {
        /// The job arrays `scancel` was given.
        public var arrays: [String]
        /// Trials recorded failed here (0 when the running parent records them).
        public var recordedFailed: Int
        /// Whether a running parent holds the database (and records the cancelled trials).
        public var parentRunning: Bool
    }

    /// Cancels the sweep of `options.spec` in `options.database` (default `<out>/results.db`).
    public static func run(_ options: SweepOptions, commands: SlurmCommands) throws -> Summary {
        let registry = try Registry(directory: options.registry)
        let spec = try SweepSpec.load(options.spec, registry: registry)
        let out = URL(fileURLWithPath: options.outputDirectory ?? "runs/\(spec.name)").standardizedFileURL.path
        let databasePath = options.database ?? out + "/results.db"
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw SweepError("--cancel: no results database \(databasePath) (sweep '\(spec.name)' never ran there; --out or --db name another)")
        }
        let lock = try? WriterLock(database: databasePath)
        defer { withExtendedLifetime(lock) {} }
        let store = try ResultsStore(path: databasePath, readOnly: lock == nil)
        guard let sweep = try store.sweep(named: spec.name) else {
            throw SweepError("--cancel: sweep '\(spec.name)' is not in \(databasePath)")
        }
        // First the marker, so a running parent submits nothing more from now on.
        try FileManager.default.createDirectory(atPath: SlurmScript.directory(out: out), withIntermediateDirectories: true)
        try atomicWrite(Data("cancelled by pid \(getpid())\n".utf8), to: SlurmExecutor.cancelMarker(out: out))
        let running = try store.trials(sweep: sweep.id).filter { $0.status == "running" }
        let tasks = try store.currentSlurmTasks(sweep: sweep.id)
        var arrays = Set(running.compactMap { tasks[$0.id]?.arrayJobID })
        // A submission whose job id a killed parent never recorded: found by its job name.
        for submission in try store.slurmSubmissions(sweep: sweep.id) where submission.arrayJobID == nil {
            if let id = try commands.arrayJob(named: submission.jobName) { arrays.insert(id) }
        }
        let sorted = arrays.sorted()
        try commands.cancel(sorted)
        var recorded = 0
        if lock != nil {
            for trial in running where tasks[trial.id] != nil {
                try store.fail(trial.id, error: "slurm: CANCELLED (lathe sweep --cancel)", seconds: 0)
                recorded += 1
            }
        }
        return Summary(arrays: sorted, recordedFailed: recorded, parentRunning: lock == nil)
    }
}
