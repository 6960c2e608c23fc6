import Foundation
import Testing
@testable import LatheData
import LatheTestSupport

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

    /// Python's `safetensors` (from PyPI, in the `.venv` that scripts/bootstrap.sh makes) is the
    /// oracle: it reads what we write, and refuses the files we refuse.
    @Test func pythonSafetensorsReadsOurFilesAndRefusesOurRefusals() throws {
        let python = SourceTree.root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "\(python) is missing: run scripts/bootstrap.sh, which installs Python's safetensors into .venv")
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try file.write(path: dir + "/m.safetensors")
        let refused = [
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"#,
        ]
        for (i, header) in refused.enumerated() {
            try Data(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))).write(to: URL(fileURLWithPath: "\(dir)/bad\(i).safetensors"))
            #expect(throws: DataError.self) { try SafeTensors.read(path: "\(dir)/bad\(i).safetensors") }
        }
        let script = """
            import sys
            from safetensors.numpy import load_file
            d = load_file(sys.argv[1] + '/m.safetensors')
            assert d['b'].tolist() == [1, 2] and d['a'].tolist() == [[1.0]], d
            for i in range(\(refused.count)):
                try:
                    load_file(sys.argv[1] + f'/bad{i}.safetensors')
                except Exception:
                    continue
                sys.exit(f'bad{i}.safetensors was accepted')
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, dir]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(message)")
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
