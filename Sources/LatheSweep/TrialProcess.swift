import Foundation
import LatheIO
import LathePlugins
import LatheResults

/// A child process that runs one job file of a `lathe` hidden command (`__trial`, `__latency`)
/// and leaves its result in a file: how a sweep, `lathe reproduce` and the latency phase start
/// such children and read what they left.
public enum ChildJob {
    /// Writes `job` to `jobFile` and starts `executable command --job jobFile --result result` with
    /// `OMP_NUM_THREADS` = `threads`; the child writes its result to `result` (removed first) and
    /// its output to `log`.
    public static func start<Job: Encodable>(_ command: String, _ job: Job, threads: Int, executable: String,
                                             jobFile: URL, result: URL, log: URL) throws -> ChildProcess {
        try? FileManager.default.removeItem(at: result)
        try atomicWrite(JSONEncoder().encode(job), to: jobFile)
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = String(threads)
        return try ChildProcess.start(executable, [command, "--job", jobFile.path, "--result", result.path],
                                      environment: environment, stdout: log.path, stderr: log.path)
    }

    /// The result a child that ended with `exit` left in `result`, or why there is none (how it
    /// ended and the last line of its `log`). It counts only if the process exited with status 0
    /// AND the result file decodes (it is written atomically, so complete iff it decodes): a
    /// plugin that calls exit(0) halfway must not pass.
    public static func result<R: Decodable>(_ type: R.Type, _ exit: ChildExit, result: URL, log: URL) -> Result<R, SweepError> {
        if exit.succeeded, let data = try? Data(contentsOf: result), let value = try? JSONDecoder().decode(R.self, from: data) {
            return .success(value)
        }
        let last = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? ""
        let what = exit.succeeded ? "the process \(exit) before writing its result" : "\(exit)"
        return .failure(SweepError(what + (last.isEmpty ? "" : ": \(last)")))
    }
}

/// A trial's child process (`lathe __trial`).
public enum TrialProcess {
    /// Starts `executable __trial` on `job` (see `ChildJob.start`), at the job's threads.
    public static func start(_ job: TrialJob, executable: String, jobFile: URL, result: URL, log: URL) throws -> ChildProcess {
        try ChildJob.start("__trial", job, threads: job.threads, executable: executable, jobFile: jobFile, result: result, log: log)
    }

    /// The trial's outcome, or why there is none (see `ChildJob.result`).
    public static func outcome(_ exit: ChildExit, result: URL, log: URL) -> Result<ResultsStore.Outcome, SweepError> {
        ChildJob.result(ResultsStore.Outcome.self, exit, result: result, log: log)
    }
}
