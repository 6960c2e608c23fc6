import Foundation

/// One record of `scontrol show job -o`: a job, an array task, or the pending tasks of an array
/// that Slurm still keeps together (`ArrayTaskId=4-9`, `4-9%2`, `1,3,5-7`).
///
/// Records are keyed by (`arrayJobID`, task), never by `JobId`: an array's first job id (what
/// `sbatch --parsable` prints) is reused for its *last* task.
public struct SlurmJobRecord: Sendable, Equatable {
    public var jobID: String
    /// The array's job id; nil for a job that is not an array task.
    public var arrayJobID: String?
    /// The array task ids this record stands for (one, or the pending range).
    public var tasks: [Int]
    /// `JobState`: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, …
    public var state: String
    /// `Reason`: None, Dependency, DependencyNeverSatisfied, TimeLimit, NonZeroExitCode, …
    public var reason: String
    /// `ExitCode` as Slurm prints it, `status:signal`.
    public var exitCode: String
    /// How often Slurm requeued the task (node failure, preemption, `scontrol requeue`).
    public var restarts: Int
    /// Every field of the record as printed.
    public var fields: [String: String]

    /// The states in which a job has ended for good (a requeued job goes back to PENDING).
    public static let finalStates: Set<String> = [
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE",
    ]

    /// Whether the job has ended for good.
    public var isFinal: Bool { Self.finalStates.contains(state) }

    /// Whether the job waits on a dependency that can no longer be met (a task of an `afterok`
    /// array failed): it would stay PENDING forever, so it has to be cancelled.
    public var dependencyNeverSatisfied: Bool { state == "PENDING" && reason == "DependencyNeverSatisfied" }

    /// How a trial's failure names what Slurm did, e.g. `slurm: TIMEOUT (TimeLimit), exit code 0:15`.
    public var failureDescription: String {
        let why = reason.isEmpty || reason == "None" ? "" : " (\(reason))"
        return "slurm: \(state)\(why), exit code \(exitCode)"
    }

    /// Seconds from `StartTime` to `EndTime`, when both are dates (not `Unknown`/`None`).
    public var runSeconds: Double? {
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        guard let start = fields["StartTime"].flatMap(format.date(from:)), let end = fields["EndTime"].flatMap(format.date(from:)) else {
            return nil
        }
        return max(0, end.timeIntervalSince(start))
    }

    /// Parses the output of `scontrol show job -o` (one record per line; blank lines skipped).
    /// Throws on a line without `JobId` or `JobState`, or an `ArrayTaskId` it cannot read,
    /// quoting the line.
    public static func parse(_ output: String) throws -> [SlurmJobRecord] {
        try output.split(whereSeparator: \.isNewline).compactMap { raw in
            let line = raw.trimmingCharacters(in: .whitespaces)
            return line.isEmpty ? nil : try parseLine(line)
        }
    }

    static func parseLine(_ line: String) throws -> SlurmJobRecord {
        let fields = keyValues(line)
        guard let jobID = fields["JobId"], let state = fields["JobState"] else {
            throw SweepError("scontrol show job: a record without JobId or JobState: \(line)")
        }
        var tasks: [Int] = []
        if let spec = fields["ArrayTaskId"] {
            guard let parsed = parseTaskIDs(spec) else {
                throw SweepError("scontrol show job: ArrayTaskId=\(spec) is not a list of task ids or ranges (job \(jobID))")
            }
            tasks = parsed
        }
        return SlurmJobRecord(jobID: jobID, arrayJobID: fields["ArrayJobId"], tasks: tasks, state: state,
                              reason: fields["Reason"] ?? "", exitCode: fields["ExitCode"] ?? "", restarts: Int(fields["Restarts"] ?? "") ?? 0,
                              fields: fields)
    }

    /// `Key=Value` pairs separated by spaces. A word without `=` belongs to the value before it
    /// (a few fields, such as `Comment` or `Command`, may hold spaces); the first `=` of a word
    /// separates its key, so `TRES=cpu=1,mem=2G` keeps `cpu=1,mem=2G` as the value.
    static func keyValues(_ line: String) -> [String: String] {
        var out: [String: String] = [:]
        var last: String?
        for word in line.split(separator: " ", omittingEmptySubsequences: true) {
            if let eq = word.firstIndex(of: "="), eq != word.startIndex,
               word[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" || $0 == "/" }) {
                let key = String(word[..<eq])
                out[key] = String(word[word.index(after: eq)...])
                last = key
            } else if let key = last {
                out[key, default: ""] += " " + word
            }
        }
        return out
    }

    /// Task ids of `ArrayTaskId`: `7`, `4-9`, `4-9%2` (a concurrency limit), `1,3,5-7`,
    /// `0-15:4` (a step). Nil when it does not read as such.
    static func parseTaskIDs(_ spec: String) -> [Int]? {
        let list = spec.split(separator: "%", maxSplits: 1).first.map(String.init) ?? ""
        guard !list.isEmpty else { return nil }
        var out: [Int] = []
        for part in list.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: ":", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { return nil }
            let step = stepParts.count == 2 ? Int(stepParts[1]) : 1
            let bounds = stepParts[0].split(separator: "-", omittingEmptySubsequences: false)
            guard let step, step > 0, let low = bounds.first.flatMap({ Int($0) }), low >= 0 else { return nil }
            switch bounds.count {
            case 1: out.append(low)
            case 2:
                guard let high = Int(bounds[1]), high >= low, high - low < 1_000_000 else { return nil }
                out.append(contentsOf: stride(from: low, through: high, by: step))
            default: return nil
            }
        }
        return out
    }
}
