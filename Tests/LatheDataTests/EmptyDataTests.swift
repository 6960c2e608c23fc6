import Foundation
import Testing
@testable import LatheData

/// A data set without samples is an error naming its file, never a run over nothing.
@Suite("empty data sets")
struct EmptyDataTests {
    /// Fashion-MNIST-style files with `trainCount` and `testCount` 28×28 images.
    static func writeMNISTStyle(_ dir: String, trainCount: Int, testCount: Int) throws {
        for (prefix, count) in [("train", trainCount), ("t10k", testCount)] {
            let images = IDX.Array(elementType: .uint8, dimensions: [count, 28, 28], bytes: [UInt8](repeating: 9, count: count * 784))
            let labels = IDX.Array(elementType: .uint8, dimensions: [count], bytes: (0..<count).map { UInt8($0 % 10) })
            try Data(IDX.encode(images)).write(to: URL(fileURLWithPath: "\(dir)/\(prefix)-images-idx3-ubyte"))
            try Data(IDX.encode(labels)).write(to: URL(fileURLWithPath: "\(dir)/\(prefix)-labels-idx1-ubyte"))
        }
    }

    @Test func zeroImagesAreRefusedNamingTheFile() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeMNISTStyle(dir, trainCount: 0, testCount: 3)
        let error = #expect(throws: DataError.self) { try FashionMNIST.load(split: .train, directory: dir) }
        #expect(error?.description == "\(dir)/train-images-idx3-ubyte: holds 0 images; a train set needs at least one")
        #expect(try FashionMNIST.load(split: .test, directory: dir).count == 3)
    }

    @Test func aSplitMayNotLeaveEitherPartEmpty() throws {
        let one = try ImageDataset(images: [0, 0, 0, 0], labels: [1], channels: 1, height: 2, width: 2, classCount: 2)
        #expect(throws: DataError.self) { try one.split(validationFraction: 0.5, seed: 1) }
        #expect(throws: DataError.self) { try one.split(validationFraction: 0.1, seed: 1) }
    }
}
