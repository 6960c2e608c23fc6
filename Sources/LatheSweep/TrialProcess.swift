import Foundation
import LatheIO
import LathePlugins
import LatheResults

/// A trial's child process (`lathe __trial`), as a sweep and `lathe reproduce` start it and
/// read what it left.
public enum TrialProcess {
    /// Writes `job` to `jobFile` and starts `executable __trial` on it with `OMP_NUM_THREADS`
    /// set to the job's threads; the child writes its outcome to `result` (removed first) and
    /// its output to `log`.
    public static func start(_ job: TrialJob, executable: String, jobFile: URL, result: URL, log: URL) throws -> ChildProcess {
        try? FileManager.default.removeItem(at: result)
        try atomicWrite(JSONEncoder().encode(job), to: jobFile)
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = String(job.threads)
        return try ChildProcess.start(executable, ["__trial", "--job", jobFile.path, "--result", result.path],
                                      environment: environment, stdout: log.path, stderr: log.path)
    }

    /// The outcome a child that ended with `exit` left in `result`, or why there is none (how
    /// it ended and the last line of its `log`). It counts only if the process exited with
    /// status 0 AND the result file decodes (it is written atomically, so complete iff it
    /// decodes): a plugin that calls exit(0) halfway must not pass.
    public static func outcome(_ exit: ChildExit, result: URL, log: URL) -> Result<ResultsStore.Outcome, SweepError> {
        if exit.succeeded, let data = try? Data(contentsOf: result),
           let outcome = try? JSONDecoder().decode(ResultsStore.Outcome.self, from: data) {
            return .success(outcome)
        }
        let last = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? ""
        let what = exit.succeeded ? "the process \(exit) before writing its result" : "\(exit)"
        return .failure(SweepError(what + (last.isEmpty ? "" : ": \(last)")))
    }
}
