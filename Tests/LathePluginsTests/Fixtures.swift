import Foundation
import LatheTestSupport
import Testing

/// Builds the purpose-made plugin libraries of Tests/Fixtures/plugins with the system C compiler:
/// real shared libraries, loaded for real.
enum Fixtures {
    static let root = SourceTree.root

    static let output: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-fixtures-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Serialises compilation: tests run in parallel, and a library must never be seen half
    /// replaced by another test's build of it.
    private static let lock = NSLock()

    /// The path of `lib<name>.so`, compiled from `Tests/Fixtures/plugins/<name>.c` once per process.
    static func library(_ name: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let lib = output.appendingPathComponent("lib\(name).so")
        if FileManager.default.fileExists(atPath: lib.path) { return lib.path }
        let source = root.appendingPathComponent("Tests/Fixtures/plugins/\(name).c").path
        let temp = output.appendingPathComponent(".lib\(name).\(UUID().uuidString).so")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-std=c11", "-O1", "-shared", "-fPIC", "-I", root.appendingPathComponent("Sources/CLathePlugin/include").path,
                             "-o", temp.path, source, "-lm", "-lpthread"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(message: "cc failed on \(source) (status \(process.terminationStatus))")
        }
        // rename(2) replaces atomically (Foundation's replaceItemAt removes, then moves).
        guard rename(temp.path, lib.path) == 0 else {
            throw FixtureError(message: "cannot rename \(temp.path) to \(lib.path) (errno \(errno))")
        }
        return lib.path
    }

    struct FixtureError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
