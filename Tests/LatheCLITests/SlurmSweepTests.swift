import Foundation
import LathePlugins
import LatheTestSupport
import Testing

/// The local Slurm of `scripts/slurm-local.sh`, started once for these tests. When it cannot
/// start, every test that needs it fails with the script's message: nothing is skipped. It is
/// left running afterwards (a second run starts in 0.3 s); `scripts/test.sh` stops it when it
/// was not running before, `scripts/slurm-local.sh stop` does by hand.
enum LocalSlurm {
    struct Started: Sendable {
        var environment: [String: String]
    }

    static let started: Result<Started, SlurmStartError> = {
        let script = SourceTree.root.appendingPathComponent("scripts/slurm-local.sh").path
        guard let start = try? SlurmRun.run("/bin/bash", [script, "start"]), start.status == 0 else {
            let said = (try? SlurmRun.run("/bin/bash", [script, "start"])).map { $0.stderr } ?? "could not run \(script)"
            return .failure(SlurmStartError(message: "the local Slurm did not start (\(script) start): \(said)"))
        }
        guard let env = try? SlurmRun.run("/bin/bash", [script, "env"]), let conf = env.stdout.split(separator: "=", maxSplits: 1).last else {
            return .failure(SlurmStartError(message: "\(script) env printed no SLURM_CONF"))
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_CONF"] = conf.trimmingCharacters(in: .whitespacesAndNewlines)
        return .success(Started(environment: environment))
    }()

    /// The environment with `SLURM_CONF`, or a failed test naming why Slurm did not start.
    static func environment() throws -> [String: String] { try started.get().environment }
}

struct SlurmStartError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Runs programs for the Slurm tests as `ChildProcess`es: spawned with no descriptor of the test
/// bundle but the output files, reaped by pid, every wait bounded. (Foundation's `Process` notices
/// a child's end when a descriptor it shares with the child closes; the daemons `slurm-local.sh
/// start` launches inherited it and kept it open, so a test waited forever on a script that had
/// long exited.)
enum SlurmRun {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `program` to its end; after `timeout` seconds its process group is killed and the
    /// status is -1, with how it ended appended to `stderr`.
    static func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                    timeout: Double = 900) throws -> Output {
        let result = try ChildProcess.run(program, arguments, timeout: timeout, environment: environment)
        guard case .exited(let code) = result.exit else {
            return Output(status: -1, stdout: result.stdout, stderr: result.stderr + "\n\(program): \(result.exit)")
        }
        return Output(status: code, stdout: result.stdout, stderr: result.stderr)
    }

    /// Starts `program` in the background, both streams to `log`. Poll, wait for and kill it from
    /// the thread that started it (a test function's).
    static func start(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                      logTo log: URL) throws -> ChildProcess {
        try ChildProcess.start(program, arguments, environment: environment, stdout: log.path, stderr: log.path)
    }

    /// Waits for a background child to end; after `seconds` its process group is killed and the
    /// wait throws (a failed test, never a hung one).
    @discardableResult
    static func wait(for child: ChildProcess, seconds: Double = 600) throws -> ChildExit {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let exit = try child.poll() { return exit }
            Thread.sleep(forTimeInterval: 0.05)
        }
        child.killGroup()
        throw SlurmStartError(message: "pid \(child.pid) still running after \(Int(seconds)) s; killed")
    }

    static func lathe(_ arguments: [String], environment: [String: String]) throws -> Output {
        try run(CLIRunner.executable.path, arguments, environment: environment)
    }
}

/// `lathe sweep --executor slurm` end to end on a real Slurm (two nodes of one CPU on this
/// machine): the same trials and metrics as the local executor, a parent killed and resumed,
/// a task cancelled and retried, the whole sweep cancelled. The tests run concurrently (they
/// share the two CPUs); a time-limit kill needs a trial of over a minute and is measured by
/// `scripts/slurm-acceptance.sh` instead (its record is parsed in SlurmRecordTests).
@Suite("lathe sweep --executor slurm")
struct SlurmSweepTests {
    static func spec(name: String, seeds: [Int]) -> String {
        """
        name = "\(name)"
        model = "mlp"
        seeds = \(seeds)
        limit_train = 1000
        limit_test = 300
        timeout = 300

        [baseline]
        epochs = 1
        batch_size = 100

        [[groups]]
        name = "ptq"
        stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true } }]
        grid = { "quantize.params.bits" = [8, 4] }
        """
    }

    struct Sweep {
        var dir: URL
        var spec: String
        var out: String
        var db: String { out + "/results.db" }

        init(name: String, seeds: [Int]) throws {
            dir = try CLIRunner.scratchDirectory()
            spec = dir.appendingPathComponent("\(name).toml").path
            try Data(SlurmSweepTests.spec(name: name, seeds: seeds).utf8).write(to: URL(fileURLWithPath: spec))
            out = dir.appendingPathComponent("out").path
        }

        func arguments(_ extra: [String]) -> [String] {
            ["sweep", spec, "--out", out, "--no-report", "--plain", "--no-latency", "--executor", "slurm"] + extra
        }

        func sql(_ query: String) throws -> [String] { try SweepCommandTests.sqlite(db, query) }

        /// Waits (at most `seconds`) until `query`'s first value is at least `count`.
        func wait(until query: String, atLeast count: Int, seconds: Double = 300) throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if FileManager.default.fileExists(atPath: db), let n = (try? sql(query))?.first.flatMap({ Int($0) }), n >= count { return true }
                Thread.sleep(forTimeInterval: 0.2)
            }
            return false
        }
    }

    @Test func theSameTrialsAndMetricsAsTheLocalExecutor() throws {
        let env = try LocalSlurm.environment()
        let sweep = try Sweep(name: "same", seeds: [0])
        defer { try? FileManager.default.removeItem(at: sweep.dir) }
        let slurm = try SlurmRun.lathe(sweep.arguments([]), environment: env)
        #expect(slurm.status == 0, "\(slurm.stderr)")
        let local = try SlurmRun.lathe(["sweep", sweep.spec, "--out", sweep.dir.appendingPathComponent("local").path, "--no-report", "--plain",
                                        "--no-latency", "--workers", "2"], environment: env)
        #expect(local.status == 0, "\(local.stderr)")
        let query = "SELECT t.method, t.seed, t.status, m.value FROM trials t JOIN metrics m ON m.trial_id = t.id AND m.name = 'accuracy' ORDER BY t.method, t.seed"
        let viaSlurm = try sweep.sql(query)
        let viaLocal = try SweepCommandTests.sqlite(sweep.dir.appendingPathComponent("local/results.db").path, query)
        #expect(viaSlurm.count == 3 && viaSlurm.allSatisfy { $0.contains("|done|") }, "\(viaSlurm)")
        #expect(viaSlurm == viaLocal)
        // Two arrays: the baselines, and the rest waiting on them (afterok); one task per trial.
        let submissions = try sweep.sql("SELECT COUNT(*), COUNT(DISTINCT array_job_id), SUM(dependency IS NOT NULL) FROM slurm_submissions")
        #expect(submissions == ["2|2|1"])
        let dependency = try sweep.sql("""
            SELECT s2.dependency = 'afterok:' || s1.array_job_id FROM slurm_submissions s1, slurm_submissions s2 WHERE s1.id < s2.id
            """)
        #expect(dependency == ["1"])
        #expect(try sweep.sql("SELECT COUNT(*), COUNT(DISTINCT trial_id) FROM slurm_tasks") == ["3|3"])
        #expect(try sweep.sql("SELECT COUNT(*) FROM trials WHERE grp = 'baseline'") == ["1"])
        #expect(try sweep.sql("SELECT COUNT(*) FROM slurm_tasks k JOIN trials t ON t.id = k.trial_id JOIN slurm_submissions s ON s.id = k.submission_id WHERE t.grp = 'baseline' AND s.dependency IS NULL") == ["1"])
        // The generated batch script is kept for inspection.
        let script = try String(contentsOfFile: sweep.out + "/slurm/sweep.sbatch", encoding: .utf8)
        #expect(script.contains("#SBATCH --time=5\n") && script.contains("__trial --job"))
    }

    @Test func aKilledParentResumesByReattachingNotResubmitting() throws {
        let env = try LocalSlurm.environment()
        let sweep = try Sweep(name: "killed", seeds: [0])
        defer { try? FileManager.default.removeItem(at: sweep.dir) }
        let parent = try SlurmRun.start(CLIRunner.executable.path, sweep.arguments([]), environment: env,
                                        logTo: sweep.dir.appendingPathComponent("parent.log"))
        // Kill once both arrays are submitted and a trial is recorded done.
        let submitted = try sweep.wait(until: "SELECT COUNT(array_job_id) FROM slurm_submissions", atLeast: 2)
        let oneDone = try sweep.wait(until: "SELECT COUNT(*) FROM trials WHERE status = 'done'", atLeast: 1)
        kill(parent.pid, SIGKILL)
        try SlurmRun.wait(for: parent)
        #expect(submitted && oneDone)
        let before = try sweep.sql("SELECT COUNT(*) FROM trials WHERE status = 'done'").first.flatMap { Int($0) } ?? 0
        #expect(before < 3, "the parent was killed after every trial ended; nothing left to re-attach")
        let resume = try SlurmRun.lathe(sweep.arguments(["--resume"]), environment: env)
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect(resume.stderr.contains("re-attached to"), "\(resume.stderr)")
        #expect(!resume.stderr.contains("slurm: submitted"), "nothing should be submitted again: \(resume.stderr)")
        #expect(try sweep.sql("SELECT status, COUNT(*) FROM trials GROUP BY status") == ["done|3"])
        // No trial lost or run twice: one task per trial, two arrays, one set of metrics each.
        #expect(try sweep.sql("SELECT COUNT(*), COUNT(DISTINCT trial_id) FROM slurm_tasks") == ["3|3"])
        #expect(try sweep.sql("SELECT COUNT(*) FROM slurm_submissions") == ["2"])
        #expect(try sweep.sql("SELECT COUNT(*), COUNT(DISTINCT trial_id) FROM metrics WHERE name = 'accuracy'") == ["3|3"])
        #expect(try sweep.sql("SELECT MAX(attempts) FROM trials") == ["1"])
    }

    @Test func aCancelledTaskIsRecordedWithSlurmsStateAndRetried() throws {
        let env = try LocalSlurm.environment()
        let sweep = try Sweep(name: "scancel", seeds: [0])
        defer { try? FileManager.default.removeItem(at: sweep.dir) }
        let parent = try SlurmRun.start(CLIRunner.executable.path, sweep.arguments([]), environment: env,
                                        logTo: sweep.dir.appendingPathComponent("parent.log"))
        // The second array waits on the baseline: cancel its first task while it waits.
        #expect(try sweep.wait(until: "SELECT COUNT(array_job_id) FROM slurm_submissions", atLeast: 2))
        let victim = try sweep.sql("""
            SELECT s.array_job_id || '_0', k.trial_id FROM slurm_submissions s JOIN slurm_tasks k ON k.submission_id = s.id
            WHERE s.dependency IS NOT NULL AND k.array_task_id = 0
            """).first?.split(separator: "|").map(String.init) ?? []
        try #require(victim.count == 2)
        let scancel = try SlurmRun.run("/usr/bin/scancel", [victim[0]], environment: env)
        #expect(scancel.status == 0, "\(scancel.stderr)")
        #expect(try SlurmRun.wait(for: parent) == .exited(0))
        let rows = try sweep.sql("SELECT id, status, error FROM trials ORDER BY id")
        #expect(rows.count == 3)
        #expect(rows.filter { $0.hasPrefix("\(victim[1])|failed|slurm: CANCELLED") }.count == 1, "\(rows)")
        #expect(rows.filter { $0.contains("|done|") }.count == 2, "\(rows)")
        let retry = try SlurmRun.lathe(sweep.arguments(["--resume", "--retry-failed"]), environment: env)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try sweep.sql("SELECT status, COUNT(*) FROM trials GROUP BY status") == ["done|3"])
        // Only the cancelled trial went to Slurm again.
        #expect(try sweep.sql("SELECT trial_id, COUNT(*) FROM slurm_tasks GROUP BY trial_id HAVING COUNT(*) > 1") == ["\(victim[1])|2"])
    }

    @Test func aFailedBaselineFailsItsSeedsTrialsAndTheOtherSeedStillRuns() throws {
        let env = try LocalSlurm.environment()
        let sweep = try Sweep(name: "baseline", seeds: [0, 1])
        defer { try? FileManager.default.removeItem(at: sweep.dir) }
        let parent = try SlurmRun.start(CLIRunner.executable.path, sweep.arguments([]), environment: env,
                                        logTo: sweep.dir.appendingPathComponent("parent.log"))
        // Cancel seed 1's baseline: the second array (afterok on the baselines) can then never start.
        #expect(try sweep.wait(until: "SELECT COUNT(array_job_id) FROM slurm_submissions", atLeast: 1))
        let baseline = try sweep.sql("""
            SELECT s.array_job_id || '_' || k.array_task_id FROM slurm_tasks k JOIN trials t ON t.id = k.trial_id
            JOIN slurm_submissions s ON s.id = k.submission_id WHERE t.grp = 'baseline' AND t.seed = 1
            """).first ?? ""
        let scancel = try SlurmRun.run("/usr/bin/scancel", [baseline], environment: env)
        #expect(scancel.status == 0, "\(scancel.stderr)")
        let ended = try SlurmRun.wait(for: parent)
        let log = (try? String(contentsOf: sweep.dir.appendingPathComponent("parent.log"), encoding: .utf8)) ?? ""
        #expect(ended == .exited(0), "\(log)")
        let rows = try sweep.sql("SELECT grp, seed, status, error FROM trials ORDER BY seed, id")
        #expect(rows.count == 6)
        #expect(rows.filter { $0.hasPrefix("baseline|1|failed|slurm: CANCELLED") }.count == 1, "\(rows)")
        #expect(rows.filter { $0 == "ptq|1|failed|the baseline of seed 1 failed" }.count == 2, "\(rows)")
        #expect(rows.filter { $0.hasPrefix("baseline|0|done") || $0.hasPrefix("ptq|0|done") }.count == 3, "\(rows)")
        // The waiting array was cancelled and seed 0's trials submitted again, without a dependency.
        let submissions = try sweep.sql("SELECT s.dependency IS NULL, COUNT(k.trial_id) FROM slurm_submissions s JOIN slurm_tasks k ON k.submission_id = s.id GROUP BY s.id ORDER BY s.id")
        #expect(submissions == ["1|2", "0|4", "1|2"], "\(log)")
        #expect(try sweep.sql("SELECT COUNT(*) FROM trials t JOIN slurm_tasks k ON k.trial_id = t.id WHERE t.seed = 0 AND t.grp = 'ptq'") == ["4"])
    }

    @Test func cancellingTheWholeSweepRecordsItsTrialsFailedAndRetryCompletesThem() throws {
        let env = try LocalSlurm.environment()
        let sweep = try Sweep(name: "cancel", seeds: [0])
        defer { try? FileManager.default.removeItem(at: sweep.dir) }
        let parent = try SlurmRun.start(CLIRunner.executable.path, sweep.arguments([]), environment: env,
                                        logTo: sweep.dir.appendingPathComponent("parent.log"))
        #expect(try sweep.wait(until: "SELECT COUNT(array_job_id) FROM slurm_submissions", atLeast: 2))
        let cancel = try SlurmRun.lathe(["sweep", sweep.spec, "--out", sweep.out, "--cancel"], environment: env)
        #expect(cancel.status == 0, "\(cancel.stderr)")
        #expect(cancel.stdout.contains("the running sweep records"), "\(cancel.stdout)")
        let ended = try SlurmRun.wait(for: parent)
        let log = (try? String(contentsOf: sweep.dir.appendingPathComponent("parent.log"), encoding: .utf8)) ?? ""
        #expect(ended == .exited(0), "\(log)")
        // The trials waiting on the baseline never ran; the baseline was cancelled or had ended.
        let rows = try sweep.sql("SELECT grp, status, error FROM trials ORDER BY id")
        #expect(rows.dropFirst().allSatisfy { $0.hasPrefix("ptq|failed|slurm: CANCELLED") || $0.hasPrefix("ptq|failed|the baseline of seed 0 failed") },
                "\(rows)")
        #expect(try sweep.sql("SELECT COUNT(*) FROM trials WHERE status = 'running'") == ["0"])
        // Again, with no parent: nothing left to cancel.
        let again = try SlurmRun.lathe(["sweep", sweep.spec, "--out", sweep.out, "--cancel"], environment: env)
        #expect(again.status == 0 && again.stdout.contains("no job array was still running"), "\(again.stdout) \(again.stderr)")
        let retry = try SlurmRun.lathe(sweep.arguments(["--resume", "--retry-failed"]), environment: env)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try sweep.sql("SELECT status, COUNT(*) FROM trials GROUP BY status") == ["done|3"])
    }

    @Test func slurmOptionsAreCheckedBeforeAnythingRuns() throws {
        let sweep = try Sweep(name: "options", seeds: [0])
        defer { try? FileManager.default.removeItem(at: sweep.dir) }
        let cases: [([String], String)] = [
            (["sweep", sweep.spec, "--time", "10"], "--time applies to the Slurm executor: add --executor slurm"),
            (["sweep", sweep.spec, "--executor", "slurm", "--time", "10min"], "--time 10min: expected minutes"),
            (["sweep", sweep.spec, "--executor", "slurm", "--array-limit", "0"], "--array-limit 0: expected at least 1"),
            (["sweep", sweep.spec, "--executor", "pbs"], "pbs"),
            (["sweep", sweep.spec, "--cancel", "--resume"], "--cancel cancels a sweep's Slurm jobs"),
        ]
        for (arguments, message) in cases {
            let r = try CLIRunner.run(arguments)
            #expect(r.status != 0 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }
}
