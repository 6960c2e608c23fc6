import Foundation
import Testing
@testable import LatheData

/// A scratch directory for files the tests write.
func scratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "lathe-data-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// gzip-compresses a file with the system's gzip (a real, independent encoder).
func gzipFile(_ path: String) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-f", path]
    try p.run()
    p.waitUntilExit()
}

@Suite("IDX files")
struct IDXTests {
    private let sample = IDX.Array(elementType: .uint8, dimensions: [2, 2, 3], bytes: [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255])

    @Test func plainAndGzippedRoundTrip() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/x.idx"
        try Data(IDX.encode(sample)).write(to: URL(fileURLWithPath: path))
        let plain = try IDX.read(path: path)
        #expect(plain.dimensions == [2, 2, 3])
        #expect(plain.bytes == sample.bytes)
        try gzipFile(path)
        let gz = try IDX.read(path: path + ".gz")
        #expect(gz.bytes == sample.bytes)
        #expect(gz.floats().last == 255)
    }

    @Test func bigEndianWideTypes() throws {
        let array = IDX.Array(elementType: .int32, dimensions: [2], bytes: [0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 1, 0])
        let decoded = try IDX.decode(IDX.encode(array), path: "mem")
        #expect(decoded.floats() == [-2, 256])
    }

    @Test func badMagicNamesTheFile() throws {
        var bytes = IDX.encode(sample)
        bytes[2] = 0x42
        #expect(throws: DataError.badMagic(path: "f.idx", found: 0x0000_4203, expected: "an IDX file (0x000008NN–0x00000eNN with rank ≥ 1)")) {
            try IDX.decode(bytes, path: "f.idx")
        }
    }

    @Test func truncatedPayloadIsReported() throws {
        let bytes = Array(IDX.encode(sample).dropLast(5))
        let error = #expect(throws: DataError.self) { try IDX.decode(bytes, path: "short.idx") }
        #expect(error?.description.contains("short.idx: truncated") == true)
        #expect(error?.description.contains("2×2×3") == true)
    }

    @Test func corruptGzipIsReported() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/x.idx"
        try Data(IDX.encode(IDX.Array(elementType: .uint8, dimensions: [4096], bytes: (0..<4096).map { UInt8($0 % 7) }))).write(to: URL(fileURLWithPath: path))
        try gzipFile(path)
        var gz = try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
        gz = gz.prefix(gz.count / 2)
        try gz.write(to: URL(fileURLWithPath: path + ".gz"))
        let error = #expect(throws: DataError.self) { try IDX.read(path: path + ".gz") }
        guard case .corruptGzip(let p, _)? = error else { Issue.record("expected corruptGzip, got \(String(describing: error))"); return }
        #expect(p == path + ".gz")
    }

    @Test func missingFile() {
        #expect(throws: DataError.missingFile(path: "/nonexistent/a.idx")) { try IDX.read(path: "/nonexistent/a.idx") }
    }
}

@Suite("Fashion-MNIST from Debian")
struct FashionMNISTTests {
    @Test func testSetShapeLabelsAndBalance() throws {
        let test = try FashionMNIST.load(split: .test)
        #expect(test.count == 10_000)
        #expect(test.channels == 1 && test.height == 28 && test.width == 28)
        #expect(test.labels[0] == 9)  // an ankle boot
        var counts = [Int](repeating: 0, count: 10)
        for l in test.labels { counts[Int(l)] += 1 }
        #expect(counts == [Int](repeating: 1000, count: 10))
        #expect(test.images.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func imageLabelCountMismatch() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = IDX.Array(elementType: .uint8, dimensions: [3, 28, 28], bytes: [UInt8](repeating: 0, count: 3 * 784))
        let labels = IDX.Array(elementType: .uint8, dimensions: [2], bytes: [1, 2])
        try Data(IDX.encode(images)).write(to: URL(fileURLWithPath: dir + "/t10k-images-idx3-ubyte"))
        try Data(IDX.encode(labels)).write(to: URL(fileURLWithPath: dir + "/t10k-labels-idx1-ubyte"))
        #expect(throws: DataError.countMismatch(images: dir + "/t10k-images-idx3-ubyte", imageCount: 3, labels: dir + "/t10k-labels-idx1-ubyte", labelCount: 2)) {
            try FashionMNIST.load(split: .test, directory: dir)
        }
    }

    @Test func missingDirectory() {
        #expect(throws: DataError.missingDirectory(path: "/nonexistent/fm")) { try FashionMNIST.load(split: .train, directory: "/nonexistent/fm") }
    }
}
