import LatheModels
import LatheTensor
import Testing
@testable import LathePruning

/// Channel groups whose channels span several rows of the producer (attention heads in a fused
/// QKV projection: 3 blocks, head_dim rows per head in each).
@Suite struct MultiRowGroupTests {
    let heads = ChannelGroup(producer: "qkv", coupled: [], consumers: [.init(layer: "proj", inputsPerChannel: 2)],
                             kind: .head, rowsPerChannel: 2, rowBlocks: 3)

    @Test func aHeadOwnsItsRowsInEveryBlock() {
        // 3 heads of 2 rows in each of Q, K, V: 18 rows.
        #expect(heads.channels(rows: 18) == 3)
        #expect(heads.channels(rows: 17) == nil)
        #expect(heads.rows(of: [1], channels: 3) == [2, 3, 8, 9, 14, 15])
        #expect(heads.rows(of: [0, 2], channels: 3) == [0, 1, 4, 5, 6, 7, 10, 11, 12, 13, 16, 17])
        let single = ChannelGroup(producer: "fc1", coupled: [], consumers: [])
        #expect(single.rows(of: [0, 3], channels: 5) == [0, 3])
    }

    @Test func theRowMaskCoversExactlyTheHeadsRows() throws {
        let mask = try Tensor([Float(1), 0, 1], shape: [3])
        let rows = try PruningMasks.rowMask(mask, heads).scalars(as: Float.self)
        let expected: [Float] = (0..<18).map { heads.rows(of: [1], channels: 3).contains($0) ? 0 : 1 }
        #expect(rows == expected)
    }

    @Test func aCriterionSeesOneRowPerHeadWithAllItsWeights() throws {
        // Row r of the weight holds the value r in each of its 4 columns.
        let weight = try Tensor((0..<18).flatMap { r in [Float](repeating: Float(r), count: 4) }, shape: [18, 4])
        let byHead = try Scoring.byChannel(weight, heads)
        #expect(byHead.shape == [3, 24])
        let values = try byHead.scalars(as: Float.self)
        for head in 0..<3 {
            let row = Array(values[(head * 24)..<((head + 1) * 24)])
            let expected = heads.rows(of: [head], channels: 3).flatMap { [Float](repeating: Float($0), count: 4) }
            #expect(row == expected)
        }
        #expect(throws: PruningError.self) { _ = try Scoring.byChannel(try Tensor.zeros([17, 4]), heads) }
    }
}
