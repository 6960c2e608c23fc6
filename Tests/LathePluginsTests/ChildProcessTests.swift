import Foundation
import LathePlugins
import LatheTestSupport
import Synchronization
import Testing

/// Counts the fork handlers run in this process (see `startingAChildRunsNoForkHandlers`).
private let forkHandlerRuns = Mutex(0)
private let countingHandlerInstalled: Bool = {
    pthread_atfork({ forkHandlerRuns.withLock { $0 += 1 } }, nil, nil) == 0
}()

/// The one child-process helper: process group, parent-death signal, files for output, bounded waits.
@Suite("child processes")
struct ChildProcessTests {
    /// The pid a shell script printed on the first line of its stdout.
    static func printedPid(_ result: ChildResult) throws -> pid_t {
        let line = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
        return try #require(pid_t(line), "no pid in \(result.stdout)")
    }

    @Test func outputGoesToFilesStdinIsEmptyAndTheStatusIsKept() throws {
        let result = try ChildProcess.run("/bin/sh", ["-c", "cat; echo out; echo err >&2; exit 3"], timeout: 30)
        #expect(result.exit == .exited(3))
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
    }

    /// fork() runs the pthread_atfork handlers in the parent, and OpenBLAS's handler shuts its
    /// thread pool down under any BLAS call running in another thread, which then waits forever
    /// (a whole test run hung so). Starting a child must run no fork handler at all.
    @Test func startingAChildRunsNoForkHandlers() throws {
        #expect(countingHandlerInstalled)
        let before = forkHandlerRuns.withLock { $0 }
        for _ in 0..<3 {
            #expect(try ChildProcess.run("/bin/true", [], timeout: 30).exit == .exited(0))
        }
        #expect(forkHandlerRuns.withLock { $0 } == before)
    }

    @Test func aCrashIsReportedWithItsSignal() throws {
        let result = try ChildProcess.run("/bin/sh", ["-c", "kill -SEGV $$"], timeout: 30)
        #expect(result.exit == .signaled(SIGSEGV))
    }

    @Test func theChildLeadsItsOwnProcessGroup() throws {
        // Field 5 of /proc/PID/stat is the process group ("(sh)" has no space).
        let result = try ChildProcess.run("/bin/sh", ["-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"], timeout: 30)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == lines[1], "pid and process group: \(lines)")
        #expect(lines.count == 2 && lines[1] != Substring(String(getpgrp())), "the child shares the test's process group")
    }

    @Test func aTimeoutKillsTheWholeProcessGroupWithinBoundedTime() throws {
        let start = Date()
        let result = try ChildProcess.run("/bin/sh", ["-c", "sleep 300 & echo $!; wait"], timeout: 1)
        #expect(result.exit == .timedOut(seconds: 1))
        #expect(Date().timeIntervalSince(start) < 15)
        let grandchild = try Self.printedPid(result)
        #expect(ProcessTable.wait(seconds: 10) { !ProcessTable.isAlive(grandchild) }, "the grandchild \(grandchild) survived the timeout")
    }

    @Test func whatTheChildLeavesBehindIsKilledWhenItExits() throws {
        let start = Date()
        let result = try ChildProcess.run("/bin/sh", ["-c", "sleep 300 & echo $!"], timeout: 60)
        #expect(result.exit == .exited(0))
        #expect(Date().timeIntervalSince(start) < 15, "the left-over grandchild held the call")
        let grandchild = try Self.printedPid(result)
        #expect(ProcessTable.wait(seconds: 10) { !ProcessTable.isAlive(grandchild) }, "the grandchild \(grandchild) outlived its parent")
    }

    @Test(arguments: [Double.nan, 0, -1, .infinity, -.infinity])
    func unusableTimeoutsAreRefused(timeout: Double) throws {
        #expect(!ChildProcess.isValidTimeout(timeout))
        #expect(throws: PluginError.self) { try ChildProcess.run("/bin/true", [], timeout: timeout) }
    }

    @Test func aProgramThatCannotStartIsAClearError() throws {
        let error = try #require(throws: PluginError.self) { try ChildProcess.run("/nonexistent/lathe", [], timeout: 30) }
        #expect(error.message.contains("cannot start /nonexistent/lathe (exec)"), "\(error.message)")
        #expect(error.message.contains("No such file or directory"), "\(error.message)")
    }

    /// The parent-death signal: the kernel kills the child when the thread that started it ends,
    /// here a thread that exits while the child sleeps.
    @Test func theChildDiesWithTheThreadThatStartedIt() throws {
        let box = ChildBox()
        let thread = Thread {
            box.child = try? ChildProcess.start("/bin/sleep", ["300"], stdout: "/dev/null", stderr: "/dev/null")
            box.started.signal()
        }
        thread.start()
        box.started.wait()
        let child = try #require(box.child)
        var exit: ChildExit?
        #expect(ProcessTable.wait(seconds: 10) { exit = try? child.poll(); return exit != nil }, "the child outlived its starting thread")
        #expect(exit == .signaled(SIGKILL))
    }

    final class ChildBox: @unchecked Sendable {
        var child: ChildProcess?
        let started = DispatchSemaphore(value: 0)
    }
}
