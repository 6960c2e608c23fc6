import ArgumentParser
import Foundation
import LatheSweep

/// Where a sweep's trials run.
enum SweepExecutor: String, ExpressibleByArgument, CaseIterable {
    /// Child processes on this machine (the default).
    case local
    /// Slurm job arrays (`sbatch --array`), results through the shared output folder.
    case slurm
}

/// `lathe sweep`'s executor flags: `--executor` and the Slurm options (valid only with
/// `--executor slurm`), and `--cancel`.
struct SweepExecutorOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where trials run: local (child processes, default) or slurm (job arrays; the output folder, cache, data, registry and lathe must be on a filesystem every node shares).", valueName: "executor"))
    var executor: SweepExecutor = .local
    @Option(help: "Slurm partition (sbatch --partition).") var partition: String?
    @Option(help: "Slurm account (sbatch --account).") var account: String?
    @Option(help: "Slurm time limit per trial (sbatch --time: minutes, HH:MM:SS, D-HH:MM…; default: the trial timeout in whole minutes).")
    var time: String?
    @Option(help: "Memory per trial (sbatch --mem, e.g. 4G).") var mem: String?
    @Option(help: "CPUs per trial (sbatch --cpus-per-task; default: --threads).") var cpusPerTask: Int?
    @Option(help: "At most this many trials of an array run at once (sbatch --array=…%K).") var arrayLimit: Int?
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("Another sbatch option, passed as given (repeatable), e.g. --sbatch-arg=--qos=short.", valueName: "option"))
    var sbatchArg: [String] = []
    @Flag(help: "Cancel the sweep's Slurm jobs (scancel); their trials are recorded failed (rerun them with --resume --retry-failed).")
    var cancel = false

    /// The Slurm options, nil for the local executor; throws when a Slurm option comes without
    /// `--executor slurm` or has a bad value.
    func slurmOptions() throws -> SlurmOptions? {
        var options = SlurmOptions()
        options.partition = partition
        options.account = account
        options.time = time
        options.memory = mem
        options.cpusPerTask = cpusPerTask
        options.arrayLimit = arrayLimit
        options.extraArguments = sbatchArg
        guard executor == .slurm else {
            let given = [("--partition", partition != nil), ("--account", account != nil), ("--time", time != nil), ("--mem", mem != nil),
                         ("--cpus-per-task", cpusPerTask != nil), ("--array-limit", arrayLimit != nil), ("--sbatch-arg", !sbatchArg.isEmpty)]
                .filter(\.1).map(\.0)
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) appl\(given.count == 1 ? "ies" : "y") to the Slurm executor: add --executor slurm") }
            return nil
        }
        do { try options.validate() } catch let error as SweepError { throw ValidationError(error.message) }
        return options
    }
}
