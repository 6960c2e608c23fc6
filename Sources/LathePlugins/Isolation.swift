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

/// Runs foreign code out of harm's way: a real child process with a time limit. Output goes
/// to temporary files (no pipe can fill and block the child), which survive a crash, so
/// whatever the child wrote before dying is kept.
public enum ChildProcess {
    /// Runs `executable arguments…`, killing it (SIGKILL, with its process group) after `timeout` seconds.
    public static func run(_ executable: String, _ arguments: [String], timeout: Double,
                           environment: [String: String]? = nil) throws -> ChildResult {
        let folder = FileManager.default.temporaryDirectory
        let token = UUID().uuidString
        let outURL = folder.appendingPathComponent("lathe-child-\(token).out")
        let errURL = folder.appendingPathComponent("lathe-child-\(token).err")
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              FileManager.default.createFile(atPath: errURL.path, contents: nil)
        else { throw PluginError("cannot create temporary files in \(folder.path)") }
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        if let environment { process.environment = environment }
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        do {
            try process.run()
        } catch {
            throw PluginError("cannot start \(executable): \(error.localizedDescription)")
        }
        var timedOut = false
        if done.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            done.wait()
        }
        try? out.close()
        try? err.close()
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        let exit: ChildExit
        if timedOut {
            exit = .timedOut(seconds: timeout)
        } else if process.terminationReason == .uncaughtSignal {
            exit = .signaled(process.terminationStatus)
        } else {
            exit = .exited(process.terminationStatus)
        }
        return ChildResult(exit: exit, stdout: stdout, stderr: stderr)
    }
}
