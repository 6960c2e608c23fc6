import Testing
import LatheTensor
@testable import LatheTrain

@Suite("Sparse storage size model")
struct SparseStorageTests {
    /// A [2, 600] tensor: row 0 nonzero at columns 0, 3, 300, 599; row 1 at column 10.
    private func tensor() throws -> Tensor {
        var values = [Float](repeating: 0, count: 1200)
        for c in [0, 3, 300, 599] { values[c] = 1.5 }
        values[600 + 10] = -2
        return try Tensor(values, shape: [2, 600])
    }

    /// Sizes computed by hand. Row 0's distances are 0, 3, 297, 299: with 8-bit indices (at most
    /// 255) the last two need one padding entry each, so CSR-8 stores 5 + 2 = 7 entries and
    /// CSR-16 stores 5. Row pointers: 3 × 4 bytes.
    @Test func sizesOfEachFormatMatchAHandComputation() throws {
        let rows = [[0, 3, 300, 599], [10]]
        func size(_ f: StorageFormat, bits: Int) -> Int {
            SparseStorage.bytes(f, rows: 2, columns: 600, nonzeroColumns: rows, valueBits: bits)
        }
        #expect(SparseStorage.padding(columns: rows[0], indexBits: 8) == 2)
        #expect(SparseStorage.padding(columns: rows[0], indexBits: 16) == 0)
        #expect(size(.dense, bits: 32) == 1200 * 4)
        #expect(size(.bitmask, bits: 32) == 1200 / 8 + 5 * 4)           // 170
        #expect(size(.csr8, bits: 32) == 7 * (32 + 8) / 8 + 3 * 4)      // 47
        #expect(size(.csr16, bits: 32) == 5 * (32 + 16) / 8 + 3 * 4)    // 42
        #expect(try SparseStorage.best(tensor(), valueBits: 32) == TensorStorage(format: .csr16, bytes: 42))
        // At 8-bit (quantized) values the padding is cheaper than wider indices: CSR-8 wins.
        #expect(size(.csr8, bits: 8) == 7 * 16 / 8 + 12)                // 26
        #expect(size(.csr16, bits: 8) == (5 * 24 + 7) / 8 + 12)         // 27
        #expect(try SparseStorage.best(tensor(), valueBits: 8) == TensorStorage(format: .csr8, bytes: 26))
    }

    @Test func paddingStartsBeyondTheIndexRange() {
        #expect(SparseStorage.padding(columns: [255, 510], indexBits: 8) == 0)
        #expect(SparseStorage.padding(columns: [256], indexBits: 8) == 1)
        #expect(SparseStorage.padding(columns: [0, 510], indexBits: 8) == 1)
        #expect(SparseStorage.padding(columns: [0, 511], indexBits: 8) == 2)
    }

    /// Half-zero tensors are cheaper as a bitmask; tensors without zeros stay dense.
    @Test func bitmaskAndDenseAreChosenWhenSmallest() throws {
        let half = try Tensor((0..<64).map { Float($0 % 2) }, shape: [4, 16])
        #expect(try SparseStorage.best(half, valueBits: 32) == TensorStorage(format: .bitmask, bytes: 64 / 8 + 32 * 4))
        let full = try Tensor([Float](repeating: 1, count: 64), shape: [64])
        #expect(try SparseStorage.best(full, valueBits: 32) == TensorStorage(format: .dense, bytes: 256))
    }
}
