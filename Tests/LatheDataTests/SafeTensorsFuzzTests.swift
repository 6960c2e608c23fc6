import Foundation
import Testing
@testable import LatheData
import LatheTestSupport

/// Mutations of a valid checkpoint-like file, from a seeded generator.
private struct Mutator {
    var generator: SeededGenerator
    let original: [UInt8]
    let headerLength: Int
    /// The original header's JSON text, its numbers and its dtype fields.
    let header: String
    let numbers: [Range<String.Index>]
    let dtypeFields: [Range<String.Index>]

    init(seed: UInt64, original: [UInt8]) {
        generator = SeededGenerator(seed: seed)
        self.original = original
        headerLength = original[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        header = String(decoding: original[8..<(8 + headerLength)], as: UTF8.self)
        numbers = header.ranges(of: /-?[0-9]+/)
        dtypeFields = header.ranges(of: /"dtype":"[A-Z0-9]+"/)
    }

    /// Numbers that break naive size arithmetic.
    static let awkward = ["0", "1", "-1", "7", "255", "4294967295", "4294967296", "2147483648", "9223372036854775807",
                          "9223372036854775808", "18446744073709551615", "1e300", "-0", "2.5", "1e2", "null", "\"4\"", "[]", "{}"]
    static let dtypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "U64", "F8_E4M3", "", "f32"]

    mutating func below(_ n: Int) -> Int { Int(generator.next() % UInt64(n)) }

    mutating func mutated() -> [UInt8] {
        var bytes = original
        switch below(6) {
        case 0:  // bit flips anywhere
            for _ in 0...below(8) {
                let i = below(bytes.count)
                bytes[i] ^= 1 << UInt8(below(8))
            }
        case 1:  // truncation
            bytes.removeSubrange(below(bytes.count)...)
        case 2:  // an awkward header length
            let values: [UInt64] = [0, 1, 7, UInt64(headerLength) - 1, UInt64(headerLength) + 1, UInt64(bytes.count), 100_000_001, 1 << 32, 1 << 62, .max]
            let value = values[below(values.count)]
            for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        case 3:  // a number in the header replaced by an awkward one
            var text = header
            text.replaceSubrange(numbers[below(numbers.count)], with: Self.awkward[below(Self.awkward.count)])
            return withHeader(text)
        case 4:  // a dtype swapped
            var text = header
            text.replaceSubrange(dtypeFields[below(dtypeFields.count)], with: "\"dtype\":\"\(Self.dtypes[below(Self.dtypes.count)])\"")
            return withHeader(text)
        default:  // structural damage: a character of JSON syntax inserted or deleted
            var scalars = Array(header.unicodeScalars)
            let i = below(scalars.count)
            if below(2) == 0 { scalars.remove(at: i) } else { scalars.insert(["{", "}", "[", "]", ",", ":", "\"", "\\"][below(8)], at: i) }
            return withHeader(String(String.UnicodeScalarView(scalars)))
        }
        return bytes
    }

    /// The original file with another header (its length field updated).
    private func withHeader(_ text: String) -> [UInt8] {
        let json = Array(text.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) } + json + original[(8 + headerLength)...]
    }
}

@Suite("safetensors fuzzing")
struct SafeTensorsFuzzTests {
    /// A small file shaped like a Lathe checkpoint: several types, shapes and metadata.
    private static func seedFile() throws -> [UInt8] {
        try SafeTensors(
            tensors: [
                "conv1.weight": .init(dtype: .F32, shape: [2, 1, 3, 3], bytes: (0..<72).map { UInt8($0) }),
                "conv1.bias": .init(dtype: .F32, shape: [2], bytes: [UInt8](repeating: 1, count: 8)),
                "bn.running_var": .init(dtype: .F64, shape: [2], bytes: [UInt8](repeating: 2, count: 16)),
                "steps": .init(dtype: .I64, shape: [], bytes: [5, 0, 0, 0, 0, 0, 0, 0]),
                "mask": .init(dtype: .BOOL, shape: [3, 1], bytes: [1, 0, 1]),
                "empty": .init(dtype: .F16, shape: [0, 4], bytes: []),
            ],
            metadata: ["lathe.architecture": "lenet5", "lathe.options": #"{"classCount":10,"imageSize":28,"inputChannels":1,"width":1}"#]
        ).encoded()
    }

    /// 12,000 mutated files: each is refused with a `DataError` or decodes to entries whose
    /// bytes fill their shapes and fit in the file; no crash, no hang (a time limit), and peak
    /// memory stays bounded (the file is under 1 kB: nothing may allocate by a declared size).
    /// The time limit is a hang guard, generous enough for a loaded machine.
    @Test(.timeLimit(.minutes(5)))
    func mutatedFilesAreRefusedOrDecodedConsistently() throws {
        let original = try Self.seedFile()
        #expect(try SafeTensors.decode(original, path: "seed").tensors.count == 6)
        var mutator = Mutator(seed: 11, original: original)
        let (counts, growth) = try PeakMemory.growth {
            var refused = 0, accepted = 0
            for round in 0..<12_000 {
                let bytes = mutator.mutated()
                do {
                    let file = try SafeTensors.decode(bytes, path: "mutant-\(round)")
                    accepted += 1
                    var total = 0
                    for (name, entry) in file.tensors {
                        #expect(SafeTensors.byteCount(shape: entry.shape, dtype: entry.dtype) == entry.bytes.count, "round \(round): \(name)")
                        total += entry.bytes.count
                    }
                    #expect(total <= bytes.count, "round \(round)")
                } catch let error as DataError {
                    refused += 1
                    #expect(error.description.hasPrefix("mutant-\(round):"), "round \(round): \(error)")
                }
            }
            return (refused, accepted)
        }
        #expect(counts.0 > 6_000, "most mutants are invalid: \(counts)")
        #expect(counts.1 > 100, "some mutants stay valid (e.g. flips inside tensor data): \(counts)")
        #expect(growth < 128 << 20, "peak resident memory grew by \(growth >> 20) MB")
    }
}
