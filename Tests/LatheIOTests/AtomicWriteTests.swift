import Foundation
import LatheIO
import Testing

@Suite struct AtomicWriteTests {
    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func writesAndReplacesLeavingNoTemporaryFile() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.txt")
        try atomicWrite(Data("first".utf8), to: file)
        try atomicWrite(Data("second, longer".utf8), to: file)
        try atomicWrite(Data(), to: dir.appendingPathComponent("empty"))
        #expect(try String(contentsOf: file, encoding: .utf8) == "second, longer")
        #expect(try Data(contentsOf: dir.appendingPathComponent("empty")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a.txt", "empty"])
    }

    @Test func failureKeepsTheOldFileAndRemovesTheTemporaryOne() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The target is a non-empty folder: rename(2) fails after the data was written.
        let target = dir.appendingPathComponent("folder")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try Data("kept".utf8).write(to: target.appendingPathComponent("inside"))
        #expect {
            try atomicWrite(Data("new".utf8), to: target)
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("\(target.path): cannot write (rename into place")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["folder"])
        #expect(try String(contentsOf: target.appendingPathComponent("inside"), encoding: .utf8) == "kept")
        // A folder that does not exist: no file can be created.
        let missing = dir.appendingPathComponent("absent/file")
        #expect {
            try atomicWrite(Data("x".utf8), to: missing)
        } throws: { error in
            String(describing: error).contains("cannot create a temporary file in \(dir.path)/absent")
        }
    }
}
