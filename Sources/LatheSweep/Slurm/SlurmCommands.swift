import Foundation
import LathePlugins

/// The Slurm commands the executor runs (`sbatch`, `scontrol`, `squeue`, `scancel`), each a
/// child process with this process's environment (so `SLURM_CONF` and the like pass through),
/// found on `PATH`. Errors name the command line and quote what it printed on stderr.
public struct SlurmCommands: Sendable {
    /// The environment every command runs with.
    public var environment: [String: String]
    /// Seconds any one command may take (a controller that does not answer fails the call).
    public var timeout: Double = 120

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The absolute path of `tool` on the environment's `PATH`.
    func executable(_ tool: String) throws -> String {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw SweepError("\(tool) is not on PATH (\(path)): the Slurm executor needs the Slurm client commands (Debian: slurm-client)")
    }

    /// Runs `tool arguments…`; returns its output. Throws when it does not exit 0, unless
    /// `accept` says the failure is an answer (e.g. an unknown job id).
    @discardableResult
    func run(_ tool: String, _ arguments: [String], accept: (ChildResult) -> Bool = { _ in false }) throws -> ChildResult {
        let result = try ChildProcess.run(try executable(tool), arguments, timeout: timeout, environment: environment)
        guard result.exit.succeeded || accept(result) else {
            let said = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            let conf = environment["SLURM_CONF"].map { " (SLURM_CONF=\($0))" } ?? ""
            throw SweepError("\(([tool] + arguments).joined(separator: " ")) \(result.exit)\(conf)\(said.isEmpty ? "" : ": \(said)")")
        }
        return result
    }

    /// `sbatch --parsable arguments…`: submits and returns the job id (an array's job id).
    public func submit(_ arguments: [String]) throws -> String {
        let result = try run("sbatch", ["--parsable"] + arguments)
        // --parsable prints "id" or "id;cluster".
        let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw SweepError("sbatch --parsable \(arguments.joined(separator: " ")) printed no job id: '\(result.stdout)'")
        }
        return id
    }

    /// The records of job `id` (an array's job id: one per task, the pending ones grouped), or
    /// nil when Slurm no longer knows the job (it ended more than `MinJobAge` ago, or never
    /// existed).
    public func jobs(_ id: String) throws -> [SlurmJobRecord]? {
        let result = try run("scontrol", ["show", "job", "-o", id], accept: { $0.stderr.contains("Invalid job id") })
        guard result.exit.succeeded else { return nil }
        return try SlurmJobRecord.parse(result.stdout)
    }

    /// The array job id of the job named `name`, if Slurm knows one (any state).
    public func arrayJob(named name: String) throws -> String? {
        let result = try run("squeue", ["-h", "-t", "all", "--name", name, "-o", "%F"])
        return result.stdout.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The sha256 of the file at `path` as `sha256sum` (coreutils) computes it — the tool the
    /// tasks check their pins with, and far faster than hashing a large executable in an
    /// unoptimised build.
    public func sha256(ofFile path: String) throws -> String {
        let result = try run("sha256sum", [path])
        let digest = result.stdout.split(separator: " ").first.map(String.init) ?? ""
        guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
            throw SweepError("sha256sum \(path) printed no digest: '\(result.stdout)'")
        }
        return digest
    }

    /// `scancel ids…` (job ids, or `arrayJobID_task`). Jobs that already ended are no error.
    public func cancel(_ ids: [String]) throws {
        guard !ids.isEmpty else { return }
        try run("scancel", ids, accept: { $0.stderr.contains("Invalid job id") || $0.stderr.contains("already completing or completed") })
    }
}
