import Foundation
import Testing
@testable import LatheData
import LatheTestSupport

/// A gzip stream's claims (its trailer, its length) never decide how much memory is taken.
@Suite("gzip bounds")
struct GzipBoundsTests {
    /// A gzipped IDX file of `payload` bytes under a header declaring `dimensions`.
    private func gzippedIDX(_ dir: String, dimensions: [Int], payload: Int) throws -> String {
        let path = dir + "/x-idx1-ubyte"
        let header = IDX.encode(IDX.Array(elementType: .uint8, dimensions: dimensions, bytes: []))
        try Data(header + [UInt8](repeating: 3, count: payload)).write(to: URL(fileURLWithPath: path))
        try gzipFile(path)
        return path + ".gz"
    }

    @Test func aTrailerClaimingGigabytesIsNotPreallocated() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try gzippedIDX(dir, dimensions: [300], payload: 300)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count < 400)
        bytes.replaceSubrange((bytes.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0x7F])   // ISIZE = 2^31 - 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (error, growth) = try PeakMemory.growth { #expect(throws: DataError.self) { try IDX.read(path: path) } }
        #expect(error?.description.contains(path) == true, "\(String(describing: error))")
        #expect(growth < 256 << 20, "peak resident memory grew by \(growth >> 20) MB")
    }

    @Test func aStreamLongerThanItsHeaderNeedsIsCutOff() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try gzippedIDX(dir, dimensions: [4], payload: 64 << 20)
        let (error, growth) = try PeakMemory.growth { #expect(throws: DataError.self) { try IDX.read(path: path) } }
        #expect(error?.description == "\(path): inflates to more than the 12 bytes its header's dimensions need", "\(String(describing: error))")
        #expect(growth < 32 << 20, "peak resident memory grew by \(growth >> 20) MB")
    }

    @Test func decompressionStopsAtTheLimit() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try gzippedIDX(dir, dimensions: [100], payload: 100)
        let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try Gzip.decompress(raw, path: path).count == 108)
        #expect(try Gzip.decompress(raw, path: path, limit: 10) == [0, 0, 8, 1, 0, 0, 0, 100, 3, 3])
        #expect(try IDX.read(path: path).bytes == [UInt8](repeating: 3, count: 100))
    }
}
