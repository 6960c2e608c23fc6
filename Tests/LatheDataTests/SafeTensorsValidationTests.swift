import Foundation
import Testing
@testable import LatheData

/// A safetensors file from a header written by hand: the 8-byte length, the JSON, the data.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    let json = Array(header.utf8)
    return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) } + json + data
}

/// Files that Python's `safetensors` refuses are refused here too, with the tensor named.
@Suite("safetensors validation")
struct SafeTensorsValidationTests {
    private func refusal(_ header: String, data: [UInt8]) throws -> String {
        try refusal(safetensorsBytes(header: header, data: data))
    }

    private func refusal(_ bytes: [UInt8]) throws -> String {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/x.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DataError.self) { try SafeTensors.read(path: path) }
        let text = error?.description ?? ""
        #expect(text.hasPrefix(path), "\(text)")
        return text
    }

    @Test func shapeWhoseByteSizeOverflowsIsAnError() throws {
        let text = try refusal(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(text.contains("'w'") && text.contains("too large"), "\(text)")
    }

    @Test func overlappingTensorsAreRefused() throws {
        let text = try refusal(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            data: [UInt8](repeating: 0, count: 8))
        #expect(text.contains("'b'") && text.contains("overlap") && text.contains("'a'"), "\(text)")
    }

    @Test func gapsAndBytesAfterTheLastTensorAreRefused() throws {
        let gap = try refusal(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(gap.contains("'a'") && gap.contains("gap"), "\(gap)")
        let trailing = try refusal(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(trailing.contains("4 bytes after the last tensor"), "\(trailing)")
    }

    @Test func byteLengthMustMatchTheShape() throws {
        let text = try refusal(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(text.contains("'a'") && text.contains("needs 12"), "\(text)")
    }

    @Test func dimensionsMustBeNonNegativeIntegers() throws {
        for shape in ["[2.5]", #"["2"]"#, "[-1]", "[1e300]", "[18446744073709551616]"] {
            let text = try refusal(#"{"a":{"dtype":"U8","shape":\#(shape),"data_offsets":[0,2]}}"#, data: [0, 0])
            #expect(text.contains("'a'"), "\(shape): \(text)")
        }
    }

    @Test func headerLengthIsBounded() throws {
        var bytes = safetensorsBytes(header: "{}", data: [])
        for i in 0..<8 { bytes[i] = 0xFF }
        let text = try refusal(bytes)
        #expect(text.contains("exceeds the 100000000-byte limit"), "\(text)")
    }

    @Test func zeroSizedTensorsShareAnOffset() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/zero.safetensors"
        try Data(safetensorsBytes(
            header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            data: [7])).write(to: URL(fileURLWithPath: path))
        let file = try SafeTensors.read(path: path)
        #expect(file.tensors["b"]?.shape == [2, 0])
        #expect(file.tensors["c"]?.bytes == [7])
    }

    /// `metadata(path:)` reads the header alone: the same metadata as a full read, the same
    /// header errors (naming the file), and the tensor data not looked at.
    @Test func metadataComesFromTheHeaderAlone() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = #"{"__metadata__":{"lathe.dataset":"fmnist-seg"},"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        let whole = dir + "/whole.safetensors"
        try Data(safetensorsBytes(header: header, data: [1, 2])).write(to: URL(fileURLWithPath: whole))
        #expect(try SafeTensors.metadata(path: whole) == SafeTensors.read(path: whole).metadata)
        #expect(try SafeTensors.metadata(path: whole) == ["lathe.dataset": "fmnist-seg"])

        // Data cut short: a full read refuses it, the header is still whole.
        let cut = dir + "/cut.safetensors"
        try Data(safetensorsBytes(header: header, data: [1])).write(to: URL(fileURLWithPath: cut))
        #expect(throws: DataError.self) { try SafeTensors.read(path: cut) }
        #expect(try SafeTensors.metadata(path: cut) == ["lathe.dataset": "fmnist-seg"])

        // The header itself cut short, over the limit, or not JSON: refused, the file named.
        let broken = [
            Array(safetensorsBytes(header: header, data: []).dropLast(5)),
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D],
            safetensorsBytes(header: "not json", data: []),
            [1, 2, 3],
        ]
        for (index, bytes) in broken.enumerated() {
            let path = dir + "/broken\(index).safetensors"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: DataError.self) { try SafeTensors.metadata(path: path) }
            #expect(error?.description.hasPrefix(path) == true, "\(index): \(error?.description ?? "")")
        }
        #expect(throws: DataError.missingFile(path: dir + "/none")) { try SafeTensors.metadata(path: dir + "/none") }
        #expect(throws: DataError.unreadable(path: dir, reason: "it is a directory; expected a file")) { try SafeTensors.metadata(path: dir) }
        #expect(throws: DataError.unreadable(path: dir, reason: "it is a directory; expected a file")) { try SafeTensors.read(path: dir) }
    }
}
