import Foundation
import Testing
@testable import LatheData

@Suite("safetensors")
struct SafeTensorsTests {
    private let file = SafeTensors(
        tensors: [
            "b": .init(dtype: .I64, shape: [2], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]),
            "a": .init(dtype: .F32, shape: [1, 1], bytes: [0, 0, 0x80, 0x3F]),
        ],
        metadata: ["format": "pt"])

    @Test func roundTripAndByteLayout() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m.safetensors"
        try file.write(path: path)
        let back = try SafeTensors.read(path: path)
        #expect(back.tensors == file.tensors)
        #expect(back.metadata == file.metadata)
        let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(raw[0]) | Int(raw[1]) << 8
        #expect(n % 8 == 0)
        let header = try #require(try JSONSerialization.jsonObject(with: Data(raw[8..<(8 + n)])) as? [String: Any])
        let a = try #require(header["a"] as? [String: Any])
        #expect(a["data_offsets"] as? [Int] == [0, 4])   // sorted by name: "a" first
        #expect(Array(raw[(8 + n)...]).count == 20)
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m.safetensors"])
    }

    @Test func readableByPythonSafetensorsWhenInstalled() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        probe.arguments = ["-c", "import safetensors"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        try #require(probe.terminationStatus == 0 || probe.terminationStatus == 1)
        guard probe.terminationStatus == 0 else { return }  // python3-safetensors not installed: byte-level test above covers the format
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try file.write(path: dir + "/m.safetensors")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "from safetensors.numpy import load_file; d = load_file('\(dir)/m.safetensors'); assert d['b'].tolist() == [1, 2] and d['a'].tolist() == [[1.0]]"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test func corruptFilesAreRejected() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad.safetensors"
        var bytes = try file.encoded()
        try Data(bytes.prefix(bytes.count - 3)).write(to: URL(fileURLWithPath: path))
        let e1 = #expect(throws: DataError.self) { try SafeTensors.read(path: path) }
        #expect(e1?.description.contains(path) == true)
        bytes[0] = 0xFF
        bytes[1] = 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.self) { try SafeTensors.read(path: path) }
        try Data([8, 0, 0, 0, 0, 0, 0, 0] + Array("not json".utf8)).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.self) { try SafeTensors.read(path: path) }
    }

    @Test func entriesWhoseBytesDoNotFitTheirShapeCannotBeWritten() {
        let bad = SafeTensors(tensors: ["x": .init(dtype: .F32, shape: [3], bytes: [0, 0])])
        #expect(throws: DataError.self) { try bad.encoded() }
    }
}
