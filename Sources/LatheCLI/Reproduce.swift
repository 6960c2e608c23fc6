import ArgumentParser
import Foundation
import LathePlugins
import LatheResults
import LatheSweep

/// `lathe reproduce DB TRIAL`: re-runs one recorded sweep trial in a child process, exactly as
/// the sweep ran it, and prints its metrics beside the recorded ones.
struct Reproduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run one sweep trial from what its results database recorded and compare the metrics.",
        discussion: """
        The trial's job is rebuilt from the database: its stages, seed, model, data set and limits, and the \
        baseline recipe; the seed's baseline comes from the sweep's cache (retrained, deterministically, when \
        the cache is gone). It refuses to run, naming the key, the recorded and the current value, when a \
        used plugin's sha256 in the registry, the data (fingerprint of the loaded train and test sets) or the \
        libtorch version differ. It runs at the recorded thread count unless --threads says otherwise.

        Every metric is printed as recorded and now. Timing and memory figures (latency, speedup, seconds, \
        noise, peak RSS) vary from run to run and are shown, not compared; metrics of the sweep's latency \
        phase are not re-measured. Exit status: 0 when every compared metric is identical to the last digit, \
        2 when one differs (listed), 1 when the re-run was refused or failed.
        """)

    @Argument(help: "The results database (SQLite) written by `lathe sweep`.") var database: String
    @Argument(help: "The trial's id (`trial_id` in the report's trials.csv; `id` in the trials table).") var trial: Int64
    @Option(help: "Intra-op threads (default: the recorded count; another count need not give identical figures).") var threads: Int?
    @Option(help: "Registry folder.") var registry: String?
    @Option(name: .customLong("data"), help: "Data directory (default: the recorded one).") var dataDirectory: String?
    @Option(help: "Seconds before the re-run is killed.") var timeout: Double = 1800

    func validate() throws {
        guard FileManager.default.fileExists(atPath: database) else { throw ValidationError("results database '\(database)' does not exist") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads \(threads): expected 1...256") }
        try Plugins.validateTimeout(timeout)
    }

    func run() throws {
        let store = try ResultsStore(path: database, readOnly: true)
        guard let found = try store.trial(id: self.trial) else { throw SweepError("\(database) has no trial \(self.trial)") }
        let (trial, sweep) = found
        guard trial.status == "done" else {
            throw SweepError("trial \(trial.id) of sweep '\(sweep)' is \(trial.status): there is no recorded result to reproduce")
        }
        let provenance = try store.provenance(trial: trial.id)
        let recorded = try store.metrics(trial: trial.id)
        guard let recordedThreads = provenance["threads"].flatMap(Int.init) else {
            throw SweepError("trial \(trial.id) has no recorded 'threads': it cannot be re-run")
        }
        let registry = try Registry(directory: registry ?? Registry.defaultDirectory())
        let job = try TrialProvenance.job(for: trial, provenance: provenance, registryDirectory: registry.directory,
                                          threads: threads ?? recordedThreads, latheVersion: Lathe.configuration.version,
                                          dataDirectory: dataDirectory)
        func refuse(_ differences: [TrialProvenance.Difference]) throws {
            // An explicit --threads is the override: said, not refused.
            let refusals = differences.filter { threads == nil || $0.key != "threads" }
            guard refusals.isEmpty else {
                throw SweepError("refusing to re-run trial \(trial.id) of sweep '\(sweep)':\n" + refusals.map { "  \($0)" }.joined(separator: "\n"))
            }
        }
        // The cheap checks first: the data is loaded (seconds for a whole data set) only when they pass.
        try refuse(TrialProvenance.differences(provenance, registry: registry, dataFingerprint: nil, threads: job.threads))
        let (train, test) = try job.dataset.load(directory: job.dataDirectory, limitTrain: job.limitTrain, limitTest: job.limitTest,
                                                 cacheDirectory: job.datasetCacheDirectory)
        let differences = TrialProvenance.differences(provenance, registry: registry,
                                                      dataFingerprint: TrialProvenance.dataFingerprint(train: train, test: test),
                                                      threads: job.threads)
        try refuse(differences)
        // Said, not refused: an overridden thread count, another Lathe version or host.
        var notes = differences
        for (key, current) in [("lathe_version", job.latheVersion), ("host", ProcessInfo.processInfo.hostName)] {
            if let value = provenance[key], value != current { notes.append(.init(key: key, recorded: value, current: current)) }
        }
        for note in notes { warn("note: \(note); the figures need not be identical") }

        let outcome = try rerun(job, label: "trial \(trial.id) of sweep '\(sweep)' (\(trial.record.method), seed \(trial.record.seed))")
        print("trial \(trial.id) of sweep '\(sweep)': \(trial.record.method), seed \(trial.record.seed), \(job.threads) thread(s)")
        let hit = outcome.provenance["baseline_cache_hit"] == "true"
        print("baseline: " + (hit ? "cached, \(outcome.provenance["baseline_checkpoint"] ?? "")" : "not cached: retrained"))
        let differing = printComparison(recorded: recorded, now: outcome.metrics)
        guard differing.isEmpty else {
            warn("NOT reproduced: \(differing.joined(separator: ", ")) differ")
            throw ExitCode(2)
        }
        print("reproduced: every compared metric is identical")
    }

    /// Runs `job` in a `__trial` child process, as the sweep does, and returns its outcome. The
    /// job, result and log files live in a scratch folder, removed on success and kept (named in
    /// the error) on failure.
    func rerun(_ job: TrialJob, label: String) throws -> ResultsStore.Outcome {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-reproduce-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let log = scratch.appendingPathComponent("trial.log"), result = scratch.appendingPathComponent("trial.result.json")
        warn("re-running \(label) in a child process (log: \(log.path))")
        let child = try TrialProcess.start(job, executable: Plugins.selfExecutable, jobFile: scratch.appendingPathComponent("trial.job.json"),
                                           result: result, log: log)
        let started = Date()
        var exit: ChildExit
        while true {
            if let ended = try child.poll() {
                exit = ended
                break
            }
            if Date().timeIntervalSince(started) > timeout {
                child.killGroup()
                exit = .timedOut(seconds: timeout)
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        switch TrialProcess.outcome(exit, result: result, log: log) {
        case .success(let outcome):
            try? FileManager.default.removeItem(at: scratch)
            return outcome
        case .failure(let reason):
            throw SweepError("the re-run of \(label) failed: \(reason.message) (log: \(log.path))")
        }
    }

    /// Timing and memory figures: they vary from run to run, so they are shown, not compared.
    static func isTiming(_ metric: String) -> Bool {
        ["latency", "speedup", "seconds", "noise", "rss"].contains { metric.contains($0) }
    }

    /// Prints every metric, recorded and now, and returns the names of the compared ones that
    /// differ (or exist on one side only).
    func printComparison(recorded: [String: Double], now: [String: Double]) -> [String] {
        let names = Set(recorded.keys).union(now.keys).sorted()
        let width = max(6, names.map(\.count).max() ?? 0) + 2
        func row(_ name: String, _ a: String, _ b: String, _ verdict: String) {
            print(name.padding(toLength: width, withPad: " ", startingAt: 0) + a.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + b.padding(toLength: 24, withPad: " ", startingAt: 0) + verdict)
        }
        row("metric", "recorded", "now", "equal")
        var differing: [String] = []
        for name in names {
            let a = recorded[name], b = now[name]
            let verdict: String
            if Self.isTiming(name) {
                verdict = b == nil ? "not re-measured" : "varies, not compared"
            } else if a == b {
                verdict = "yes"
            } else {
                verdict = "NO"
                differing.append(name)
            }
            // Swift prints a Double with the fewest digits that read back as the same value.
            row(name, a.map { "\($0)" } ?? "-", b.map { "\($0)" } ?? "-", verdict)
        }
        return differing
    }

    private func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
