import Foundation
import LatheTestSupport
import Testing

/// Runs scripts/detection_oracle.py (pycocotools, numpy) with the project's .venv Python.
enum Oracle {
    static func run(_ arguments: [String]) throws -> [String: String] {
        let python = SourceTree.root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "\(python) is missing: run scripts/bootstrap.sh, which installs pycocotools and numpy into .venv")
        return try lines(python, [SourceTree.root.appendingPathComponent("scripts/detection_oracle.py").path] + arguments)
    }

    /// `key: value` lines of a child process's output.
    static func lines(_ executable: String, _ arguments: [String]) throws -> [String: String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError) = (out, err)
        try p.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "\(arguments.first ?? executable) failed: \(stderr)")
        var result: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("detect-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
