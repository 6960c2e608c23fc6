import ArgumentParser
import Foundation
import LatheIO
import LathePlugins
import LatheSweep
import LatheTrain

/// `lathe sweep SPEC`: runs a comparison sweep, each trial in its own child process (or Slurm
/// array task: `--executor slurm`), and records the results in SQLite; `--resume` completes an
/// interrupted sweep, `--cancel` cancels a Slurm sweep's jobs.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a comparison sweep (trials in parallel child processes, results in SQLite), then write its report.")

    @Argument(help: "Sweep spec (TOML).") var spec: String?
    @Option(name: .customLong("out"), help: "Output folder (default: runs/<sweep name>).") var outputDirectory: String?
    @Option(help: "Results database (default: <out>/results.db).") var db: String?
    @Option(help: "Baseline, teacher and generated-data cache (models/, teachers/, datasets/), shared by sweeps that name the same folder (default: <out>/cache).") var cache: String?
    // No Swift default: ArgumentParser would print it after the help's own "(default: ...)".
    @Option(help: "Parallel trial processes (default: one per core).") var workers: Int?
    @Option(help: "Intra-op threads per trial.") var threads: Int = 1
    @Option(help: "Seconds before a trial is killed (default: the spec's timeout).") var timeout: Double?
    @Flag(help: "Complete a sweep already in the database (after a crash or kill).") var resume = false
    @Flag(help: "With --resume: run failed and timed-out trials again (baselines included).") var retryFailed = false
    @Flag(help: "Do not write the report at the end.") var noReport = false
    @Flag(help: "Skip the latency phase (timing every trial's model alone after the trials).") var noLatency = false
    @Option(help: ArgumentHelp("Latency backends: libtorch (always) and ort: every trial's model exported (QDQ int8 where quantized) and timed in ONNX Runtime after libtorch's phase, into the report beside it (repeatable).", valueName: "backend"))
    var backend: [LatencyBackend] = []
    @Option(help: "Seconds the latency phase may take (warm-up included) before it stops short of its ±1.5 % target, after at least 5 rounds (default: 120).")
    var latencyBudget: Double?
    @Option(help: "Registry folder.") var registry: String?
    @Option(name: .customLong("data"), help: "Data directory.") var dataDirectory: String?
    @Flag(help: "Plain log lines even on a terminal.") var plain = false
    @Flag(help: "Validate the spec against the registry and list its trials; run nothing.") var dryRun = false
    @Flag(help: "Print the sweep spec reference (every key, Markdown; docs/sweep-spec.md) and exit.") var specReference = false
    @OptionGroup(title: "Executor") var executorOptions: SweepExecutorOptions

    func validate() throws {
        if let workers, !(1...64).contains(workers) { throw ValidationError("--workers \(workers): expected 1...64") }
        if noLatency, backend.contains(.ort) { throw ValidationError("--backend ort times models in the latency phase, which --no-latency skips") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads \(threads): expected 1...256") }
        if let t = timeout { try Plugins.validateTimeout(t) }
        if let b = latencyBudget, !(b >= 1 && b <= 86_400) {
            throw ValidationError("--latency-budget \(b): expected seconds in 1...86400")
        }
        guard !retryFailed || resume else { throw ValidationError("--retry-failed applies to a resumed sweep: add --resume") }
        _ = try executorOptions.slurmOptions()
        if executorOptions.cancel, resume || dryRun || specReference {
            throw ValidationError("--cancel cancels a sweep's Slurm jobs; it does not combine with \(resume ? "--resume" : dryRun ? "--dry-run" : "--spec-reference")")
        }
        if executorOptions.executor == .slurm, workers != nil {
            throw ValidationError("--workers sets local parallelism; with --executor slurm, --array-limit caps the trials running at once")
        }
        if specReference { return }
        guard let spec else { throw ValidationError("missing the sweep spec (a TOML file; --spec-reference lists its keys)") }
        guard FileManager.default.fileExists(atPath: spec) else { throw ValidationError("sweep spec '\(spec)' does not exist") }
    }

    func run() throws {
        if specReference {
            print(SpecReference.markdown(), terminator: "")
            return
        }
        guard let spec else { throw ValidationError("missing the sweep spec") }
        if dryRun {
            let reg = try Registry(directory: registry ?? Registry.defaultDirectory())
            let parsed = try SweepSpec.load(spec, registry: reg)
            let trials = try parsed.trials(registry: reg)
            for plan in trials { print("\(plan.label)  seed \(plan.seed)") }
            print("sweep '\(parsed.name)': \(trials.count) trials, valid")
            return
        }
        var options = SweepOptions(spec: spec, registry: registry ?? Registry.defaultDirectory(), executable: Plugins.installedExecutable,
                                   latheVersion: Lathe.configuration.version, live: !plain && isatty(STDERR_FILENO) == 1)
        options.localExecutable = Plugins.selfExecutable
        options.outputDirectory = outputDirectory
        options.database = db
        options.cacheDirectory = cache.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        options.workers = workers ?? min(64, ProcessInfo.processInfo.activeProcessorCount)
        options.threads = threads
        options.resume = resume
        options.retryFailed = retryFailed
        options.timeout = timeout
        options.dataDirectory = dataDirectory
        options.latency = !noLatency
        options.ortLatency = backend.contains(.ort)
        if let latencyBudget { options.latencyPlan.budgetSeconds = latencyBudget }
        options.slurm = try executorOptions.slurmOptions()
        if executorOptions.cancel {
            let done = try SlurmCancel.run(options, commands: SlurmCommands())
            let arrays = done.arrays.isEmpty ? "no job array was still running" : "scancel \(done.arrays.joined(separator: " "))"
            let who = done.parentRunning ? "the running sweep records its cancelled trials as failed"
                : "\(done.recordedFailed) trial(s) recorded failed (rerun them with --resume --retry-failed)"
            print("sweep cancelled: \(arrays); \(who)")
            return
        }
        let summary = try SweepRunner(options).run()
        print("sweep '\(summary.name)': \(summary.done) done, \(summary.failed) failed; results: \(summary.database)")
        if !noReport {
            let report = "\(summary.outputDirectory)/report"
            // The report is written by `lathe report` (same binary) in a child process.
            let result = try ChildProcess.run(Plugins.selfExecutable, ["report", summary.database, "--sweep", summary.name, "-o", report],
                                              timeout: 600)
            guard result.exit.succeeded else {
                throw ValidationError("the report could not be written (\(result.exit)): \(result.stderr.split(separator: "\n").last ?? "")")
            }
            print("report: \(report)/report.html")
        }
    }
}

/// The child side of a parent's job file: decodes `job`, runs `body` on it and writes what it
/// returns to `result` atomically (sorted keys), so the parent reads a whole result or none.
func runChildJob<Job: Decodable, Result: Encodable>(_ type: Job.Type, job: String, result: String, _ body: (Job) throws -> Result) throws {
    let decoded = try JSONDecoder().decode(Job.self, from: Data(contentsOf: URL(fileURLWithPath: job)))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    try atomicWrite(try encoder.encode(try body(decoded)), to: URL(fileURLWithPath: result))
}

/// `lathe __trial`: the child side of a sweep (one trial). Hidden.
struct TrialWorker: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__trial", abstract: "Internal: run one sweep trial.", shouldDisplay: false)
    @Option var job: String
    @Option var result: String

    func run() throws {
        try runChildJob(TrialJob.self, job: job, result: result) { try TrialRunner.run($0, progress: ProgressReporter(style: .lines)) }
    }
}

/// `lathe __latency`: the child side of a sweep's latency phase. Hidden.
struct LatencyWorker: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__latency", abstract: "Internal: time a sweep's models.", shouldDisplay: false)
    @Option var job: String
    @Option var result: String

    func run() throws {
        // Progress lines go to the log the parent watches: a phase that stops writing is hung.
        try runChildJob(LatencyJob.self, job: job, result: result) { job in
            try job.run { line in FileHandle.standardError.write(Data("latency: \(line)\n".utf8)) }
        }
    }
}
