import CProcess
import Foundation

/// How a child process ended.
public enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    case timedOut(seconds: Double)

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "crashed with signal \(signal) (\(signalName(signal)))"
        case .timedOut(let seconds): return "hung: killed after \(String(format: "%.0f", seconds)) s"
        }
    }

    /// Whether the child exited with status 0.
    public var succeeded: Bool { self == .exited(0) }
}

/// The name of a signal, e.g. SIGSEGV.
public func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGBUS: return "SIGBUS"
    case SIGFPE: return "SIGFPE"
    case SIGILL: return "SIGILL"
    case SIGKILL: return "SIGKILL"
    case SIGTERM: return "SIGTERM"
    case SIGTRAP: return "SIGTRAP"
    default: return "signal \(signal)"
    }
}

/// What a child process printed and how it ended.
public struct ChildResult: Sendable {
    public var exit: ChildExit
    public var stdout: String
    public var stderr: String
}

/// A child process that runs foreign code out of harm's way (a plugin worker, a sweep trial).
///
/// The child leads its own process group, so whatever it forks can be killed with it; it is
/// killed by the kernel when the thread that started it exits (the parent-death signal is set
/// before exec, so no start-up window is left); it reads /dev/null and writes to files, never to
/// pipes, so a grandchild that keeps a descriptor cannot block the parent, and whatever the child
/// wrote before dying is kept. Once the child has ended, the rest of its process group is killed.
///
/// Threading: not thread-safe. Start, poll and kill a child from one thread, and keep that thread
/// alive until the child has ended (the parent-death signal follows the starting thread).
public final class ChildProcess {
    /// The child's pid, also its process group id.
    public let pid: pid_t
    private var ended: ChildExit?

    private init(pid: pid_t) { self.pid = pid }

    /// Killing what is left if the owner drops a running child (an error on the way): nothing of
    /// it may outlive its use.
    deinit { killGroup() }

    /// Whether `seconds` is usable as a time limit: positive and finite (NaN, zero, negative and
    /// infinite limits would never, or always, expire).
    public static func isValidTimeout(_ seconds: Double) -> Bool { seconds > 0 && seconds <= maxTimeout }

    /// The longest time limit accepted anywhere (30 days): beyond it a limit is a typo or `inf`.
    public static let maxTimeout: Double = 30 * 86_400

    /// How a time limit must look, for error messages.
    public static let timeoutRule = "expected a number of seconds in (0, \(Int(maxTimeout))]"

    /// Starts `executable arguments…` with `environment` (default: this process's), stdout and
    /// stderr written to the files `stdout` and `stderr` (created or truncated; they may be the
    /// same path, then both streams go to it in order).
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                             stdout: String, stderr: String) throws -> ChildProcess {
        let out = try openOutput(stdout)
        defer { close(out) }
        let err = stderr == stdout ? out : try openOutput(stderr)
        defer { if err != out { close(err) } }
        let argv = ([programName(executable)] + arguments).map { strdup($0) }
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
        defer { (argv + envp).forEach { free($0) } }
        var stage: UnsafePointer<CChar>?
        let pid = (argv + [nil]).withUnsafeBufferPointer { args in
            (envp + [nil]).withUnsafeBufferPointer { env in
                lathe_spawn(executable, args.baseAddress, env.baseAddress, out, err, &stage)
            }
        }
        guard pid > 0 else {
            let step = stage.map { String(cString: $0) } ?? "clone"
            throw PluginError("cannot start \(executable) (\(step)): \(String(cString: strerror(-pid)))")
        }
        return ChildProcess(pid: pid)
    }

    /// The child's `argv[0]`: `executable`, except that a running image (`/proc/<pid>/exe`) is
    /// named by the file it was started from, so the child finds its checkout (registry, scripts)
    /// beside that file as if started from it.
    public static func programName(_ executable: String) -> String {
        guard executable.hasPrefix("/proc/"), executable.hasSuffix("/exe"),
              let target = try? FileManager.default.destinationOfSymbolicLink(atPath: executable)
        else { return executable }
        return target.hasSuffix(" (deleted)") ? String(target.dropLast(" (deleted)".count)) : target
    }

    private static func openOutput(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw PluginError("cannot create \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// How the child ended, or nil while it runs; never blocks. When the child has ended, the
    /// rest of its process group (anything it forked and left behind) is killed first.
    public func poll() throws -> ChildExit? {
        if let ended { return ended }
        let state = lathe_child_ended(pid)
        guard state >= 0 else { throw PluginError("cannot wait for child \(pid): \(String(cString: strerror(-state)))") }
        guard state == 1 else { return nil }
        // The unreaped leader keeps the group id from being reused, so this reaches only its group.
        kill(-pid, SIGKILL)
        return try reap()
    }

    /// Kills the child's whole process group (SIGKILL) and reaps the child, waiting at most
    /// `grace` seconds (a process in uninterruptible sleep dies only when that ends). Returns
    /// how the child ended, or nil if it had not ended within `grace`.
    @discardableResult
    public func killGroup(grace: Double = 10) -> ChildExit? {
        if let ended { return ended }
        kill(-pid, SIGKILL)
        let start = DispatchTime.now().uptimeNanoseconds
        while Double(DispatchTime.now().uptimeNanoseconds - start) < grace * 1e9 {
            if lathe_child_ended(pid) != 0 { return try? reap() }
            usleep(5_000)
        }
        return nil
    }

    private func reap() throws -> ChildExit {
        var code: Int32 = 0, signal: Int32 = 0
        let status = lathe_child_reap(pid, &code, &signal)
        guard status == 0 else { throw PluginError("cannot reap child \(pid): \(String(cString: strerror(-status)))") }
        let exit: ChildExit = signal != 0 ? .signaled(signal) : .exited(code)
        ended = exit
        return exit
    }

    /// Runs `executable arguments…` to its end and returns what it printed; after `timeout`
    /// seconds (positive and finite) its whole process group is killed and the result is
    /// `.timedOut`. Every wait is bounded: a grandchild that outlives the child is killed with the
    /// rest of the group and cannot hold the call.
    public static func run(_ executable: String, _ arguments: [String], timeout: Double,
                           environment: [String: String]? = nil) throws -> ChildResult {
        guard isValidTimeout(timeout) else {
            throw PluginError("time limit \(timeout) s: \(timeoutRule)")
        }
        let stem = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-child-\(UUID().uuidString)").path
        let outPath = stem + ".out", errPath = stem + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let child = try start(executable, arguments, environment: environment, stdout: outPath, stderr: errPath)
        let started = DispatchTime.now().uptimeNanoseconds
        var pause: UInt32 = 1_000
        var exit: ChildExit
        while true {
            if let ended = try child.poll() {
                exit = ended
                break
            }
            if Double(DispatchTime.now().uptimeNanoseconds - started) >= timeout * 1e9 {
                child.killGroup()
                exit = .timedOut(seconds: timeout)
                break
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        let read = { (path: String) in FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        return ChildResult(exit: exit, stdout: read(outPath), stderr: read(errPath))
    }
}
