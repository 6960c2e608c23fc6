import Foundation
import LathePlugins
import LatheTestSupport
import Testing

/// Plugin workers and sweep trials as child processes: a plugin that forks or exits is
/// classified by what it produced, what it leaves behind is killed, and no child outlives a
/// killed parent. `lathe` runs under ChildProcess here, so a regression fails in bounded time
/// instead of hanging the suite.
@Suite("child processes of lathe", .serialized)
struct ChildProcessCommandTests {
    static func lathe(_ arguments: [String], timeout: Double = 300) throws -> ChildResult {
        try ChildProcess.run(CLIRunner.executable.path, arguments, timeout: timeout)
    }

    @Test func aPluginThatForksALingeringChildDoesNotHangCheck() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lib = try PluginCommandTests.fixture("fork_child", in: dir)
        let start = Date()
        let result = try Self.lathe(["plugins", "check", lib, "--timeout", "10"], timeout: 120)
        #expect(result.exit == .exited(0), "\(result.exit): \(result.stdout)")
        #expect(result.stdout.contains("result: PASS"), "\(result.stdout)")
        #expect(Date().timeIntervalSince(start) < 60)
        #expect(ProcessTable.wait(seconds: 10) { ProcessTable.processes(commandLineContaining: lib).isEmpty },
                "the plugin's child outlived the check")
    }

    @Test func aPluginThatExitsWithStatusZeroInAMethodFails() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Self.lathe(["plugins", "check", try PluginCommandTests.fixture("exits", in: dir), "--timeout", "60"])
        #expect(result.exit == .exited(1), "\(result.stdout)")
        #expect(result.stdout.contains("FAIL  call with defaults: the method exited with status 0 during this check"), "\(result.stdout)")
        #expect(result.stdout.contains("result: FAIL"))
        #expect(!result.stdout.contains("result: PASS"))
    }

    @Test func aPluginThatExitsWhileLoadingIsReportedAsSuch() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Self.lathe(["plugins", "check", try PluginCommandTests.fixture("exits_on_load", in: dir)])
        #expect(result.exit == .exited(1), "\(result.stdout)")
        #expect(result.stdout.contains("FAIL  load:") && result.stdout.contains("loading it exited with status 0 before describing the plugin"),
                "\(result.stdout)")
    }

    @Test(arguments: ["nan", "0", "-1", "inf"])
    func unusableTimeoutsAreRefusedWhereTheUserGivesThem(timeout: String) throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lib = try PluginCommandTests.fixture("noop", in: dir)
        let spec = dir.appendingPathComponent("s.toml")
        try Data(SweepCommandTests.spec.utf8).write(to: spec)
        let commands = [["plugins", "check", lib], ["plugins", "add", lib, "--registry", dir.path + "/reg"], ["sweep", spec.path]]
        for command in commands {
            let result = try Self.lathe(command + ["--timeout=\(timeout)"], timeout: 60)
            #expect(result.exit != .exited(0), "\(command): \(result.stdout)")
            #expect(result.stderr.contains("--timeout \(Double(timeout) ?? 0): expected a number of seconds in (0, 2592000]"),
                    "\(command): \(result.stderr)")
            #expect(!result.stdout.contains("hung"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/reg"))
    }

    @Test func aKilledCheckTakesItsWorkerWithIt() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lib = try PluginCommandTests.fixture("hang", in: dir)
        let parent = try ChildProcess.start(CLIRunner.executable.path, ["plugins", "check", lib, "--timeout", "600"],
                                            stdout: dir.path + "/out", stderr: dir.path + "/err")
        var worker: pid_t?
        let found = ProcessTable.wait(seconds: 60) {
            worker = ProcessTable.processes(commandLineContaining: "__plugin-worker check \(lib)").first
            return worker != nil
        }
        try #require(found, "no check worker appeared")
        // Poll the killed parent only afterwards: reaping it kills its process group, which must
        // not be what ends the worker.
        kill(parent.pid, SIGKILL)
        let pid = try #require(worker)
        #expect(ProcessTable.wait(seconds: 10) { !ProcessTable.isAlive(pid) }, "the worker \(pid) outlived the killed check")
        #expect(ProcessTable.wait(seconds: 10) { (try? parent.poll()) != nil })
    }

    @Test func aSweepKilledWhileATrialStartsTakesTheTrialWithIt() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("tiny.toml")
        try Data(SweepCommandTests.spec.utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let parent = try ChildProcess.start(CLIRunner.executable.path, ["sweep", spec.path, "--out", out, "--workers", "1", "--no-report", "--plain", "--no-latency"],
                                            stdout: dir.path + "/stdout", stderr: dir.path + "/stderr")
        var trial: pid_t?
        let found = ProcessTable.wait(seconds: 60) {
            trial = ProcessTable.processes(commandLineContaining: "__trial --job \(out)").first
            return trial != nil
        }
        try #require(found, "no trial process appeared")
        // Poll the killed parent only afterwards: reaping it kills its process group, which must
        // not be what ends the trial.
        kill(parent.pid, SIGKILL)
        let pid = try #require(trial)
        #expect(ProcessTable.wait(seconds: 10) { !ProcessTable.isAlive(pid) }, "the trial \(pid) outlived the killed sweep")
        #expect(ProcessTable.wait(seconds: 10) { (try? parent.poll()) != nil })
    }

    @Test func sweepTrialsThatForkOrExitAreClassifiedByTheirResult() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("registry").path
        for name in ["fork_child", "exits"] {
            let add = try Self.lathe(["plugins", "add", try PluginCommandTests.fixture(name, in: dir), "--registry", registry])
            #expect(add.exit == .exited(0), "\(add.stderr)")
        }
        let spec = dir.appendingPathComponent("children.toml")
        try Data("""
            name = "children"
            model = "mlp"
            seeds = [0]
            limit_train = 1500
            limit_test = 400
            timeout = 300

            [baseline]
            epochs = 1
            batch_size = 100

            [[groups]]
            name = "forking"
            stages = [{ kind = "quantize", method = "forker/binary" }]

            [[groups]]
            name = "exiting"
            stages = [{ kind = "quantize", method = "exits/exit" }]
            """.utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let result = try Self.lathe(["sweep", spec.path, "--out", out, "--registry", registry, "--no-report", "--plain", "--no-latency"], timeout: 900)
        #expect(result.exit == .exited(0), "\(result.stderr)")
        let rows = try SweepCommandTests.sqlite(out + "/results.db", "SELECT method, status, COALESCE(error, '') FROM trials ORDER BY id")
        #expect(rows.count == 3, "\(rows)")
        #expect(rows.contains("forking|done|"), "\(rows)")
        // Done as soon as its process exited, not when the time limit ran out.
        let seconds = try SweepCommandTests.sqlite(out + "/results.db", "SELECT seconds FROM trials WHERE method = 'forking'")
        #expect(seconds.count == 1 && (Double(seconds[0]) ?? .infinity) < 150, "\(seconds)")
        #expect(rows.contains { $0.hasPrefix("exiting|failed|the process exited with status 0 before writing its result") }, "\(rows)")
        #expect(ProcessTable.processes(commandLineContaining: "__trial --job \(out)").isEmpty, "a trial's child outlived the sweep")
    }
}
