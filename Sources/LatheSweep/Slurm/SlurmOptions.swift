import Foundation

/// How the Slurm executor submits a sweep's trials (`lathe sweep --executor slurm …`).
public struct SlurmOptions: Sendable, Equatable {
    /// `--partition`.
    public var partition: String?
    /// `--account`.
    public var account: String?
    /// `--time` in any of Slurm's forms; nil: the trial timeout rounded up to whole minutes.
    public var time: String?
    /// `--mem` (per node, e.g. `4G`).
    public var memory: String?
    /// `--cpus-per-task`; nil: the trial's threads.
    public var cpusPerTask: Int?
    /// At most this many tasks of an array run at once (`--array=0-N%K`).
    public var arrayLimit: Int?
    /// Further `sbatch` arguments, passed as given after Lathe's own.
    public var extraArguments: [String] = []
    /// Seconds between two looks at the tasks' result files and Slurm's job states.
    public var pollInterval: Double = 0.5

    public init() {}

    /// Seconds in a Slurm time limit: `minutes`, `minutes:seconds`, `hours:minutes:seconds`,
    /// `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`. Throws naming the value
    /// and the accepted forms; `0` and `UNLIMITED`/`INFINITE` are refused (a trial needs a limit).
    public static func seconds(ofTime value: String) throws -> Int {
        let forms = "expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (sbatch --time)"
        let bad = SweepError("--time \(value): \(forms)")
        let dayParts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard dayParts.count <= 2 else { throw bad }
        let clock = dayParts.last.map(String.init) ?? ""
        let numbers = clock.split(separator: ":", omittingEmptySubsequences: false).map { part -> Int? in
            guard !part.isEmpty, part.count <= 6, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber) else { return nil }
            return Int(part)
        }
        guard !numbers.contains(where: { $0 == nil }) else { throw bad }
        let n = numbers.compactMap { $0 }
        var total: Int
        if dayParts.count == 2 {
            guard let days = Int(dayParts[0]), days >= 0, (1...3).contains(n.count) else { throw bad }
            let h = n[0], m = n.count > 1 ? n[1] : 0, s = n.count > 2 ? n[2] : 0
            total = ((days * 24 + h) * 60 + m) * 60 + s
        } else {
            switch n.count {
            case 1: total = n[0] * 60
            case 2: total = n[0] * 60 + n[1]
            case 3: total = (n[0] * 60 + n[1]) * 60 + n[2]
            default: throw bad
            }
        }
        guard total > 0 else { throw SweepError("--time \(value): a trial needs a time limit above zero") }
        return total
    }

    /// A Slurm time limit of at least `seconds`, in whole minutes (Slurm's resolution).
    public static func time(coveringSeconds seconds: Double) -> String {
        String(max(1, Int((seconds / 60).rounded(.up))))
    }

    /// Checks every option; throws naming the flag and value.
    public func validate() throws {
        if let time { _ = try Self.seconds(ofTime: time) }
        if let memory, memory.range(of: #"^[0-9]+[KMGT]?$"#, options: .regularExpression) == nil {
            throw SweepError("--mem \(memory): expected a size such as 4000, 500M or 4G (sbatch --mem)")
        }
        if let cpusPerTask, !(1...1024).contains(cpusPerTask) { throw SweepError("--cpus-per-task \(cpusPerTask): expected 1...1024") }
        if let arrayLimit, arrayLimit < 1 { throw SweepError("--array-limit \(arrayLimit): expected at least 1") }
        for (flag, value) in [("--partition", partition), ("--account", account)] {
            if let value, value.isEmpty || value.contains(where: { $0.isWhitespace || $0 == "," && flag == "--account" }) {
                throw SweepError("\(flag) '\(value)': expected a Slurm \(flag.dropFirst(2)) name")
            }
        }
        for argument in extraArguments where !argument.hasPrefix("-") {
            throw SweepError("--sbatch-arg '\(argument)': expected an sbatch option (starting with -, e.g. --sbatch-arg=--qos=short)")
        }
        guard pollInterval > 0, pollInterval <= 60 else { throw SweepError("poll interval \(pollInterval) s: expected (0, 60]") }
    }
}
