import Foundation
import LatheData
import LatheModels
import LatheTensor
import Testing
@testable import LatheTrain

/// Flip rate and KL(baseline ‖ compressed) against a direct computation in Double.
@Suite("Agreement with the baseline: flip rate and KL")
struct AgreementTests {
    static let baseline: [[Double]] = [[2.0, 1.0, 0.1], [0.5, 0.4, 3.0], [-1.0, 4.0, 0.0], [0.0, 0.0, 1.0]]
    static let compressed: [[Double]] = [[0.3, 1.2, 0.1], [0.2, 0.1, 2.5], [-2.0, 1.0, 1.5], [9.0, -3.0, 0.5]]

    /// Softmax, argmax and KL written out by hand, independent of libtorch.
    static func direct(_ b: [[Double]], _ c: [[Double]]) -> (flipRate: Double, kl: Double) {
        func softmax(_ row: [Double]) -> [Double] {
            let m = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        func argmax(_ row: [Double]) -> Int { row.indices.max { row[$0] < row[$1] } ?? 0 }
        var flips = 0.0
        var kl = 0.0
        for (rb, rc) in zip(b, c) {
            if argmax(rb) != argmax(rc) { flips += 1 }
            let p = softmax(rb)
            let q = softmax(rc)
            kl += zip(p, q).reduce(0) { $0 + $1.0 * (Foundation.log($1.0) - Foundation.log($1.1)) }
        }
        return (flips / Double(b.count), kl / Double(b.count))
    }

    static func tensor(_ rows: [[Double]]) throws -> Tensor {
        try Tensor(rows.flatMap { $0.map(Float.init) }, shape: [rows.count, rows[0].count])
    }

    @Test func matchesDirectComputationOnStoredLogits() throws {
        let expected = Self.direct(Self.baseline, Self.compressed)
        #expect(expected.flipRate == 0.75)  // samples 0, 2 and 3 change class, sample 1 keeps it
        let a = try Agreement.of(baseline: Self.tensor(Self.baseline), compressed: Self.tensor(Self.compressed))
        #expect(a.samples == 4)
        #expect(a.flipRate == expected.flipRate)
        #expect(abs(a.klToBaseline - expected.kl) < 1e-6)
        #expect(a.klToBaseline > 0.1)
    }

    @Test func identicalLogitsGiveZeroAndZero() throws {
        let a = try Agreement.of(baseline: Self.tensor(Self.baseline), compressed: Self.tensor(Self.baseline))
        #expect(a.flipRate == 0)
        #expect(a.klToBaseline == 0)
    }

    @Test func mismatchedShapesAreRefused() throws {
        let error = #expect(throws: TrainingError.self) {
            try Agreement.of(baseline: Self.tensor(Self.baseline), compressed: Self.tensor(Array(Self.compressed.prefix(3))))
        }
        #expect(error?.description.contains("[4, 3] and [3, 3]") == true)
    }

    /// Over a data set in uneven batches: the same figures as on the whole set's logits, and a
    /// model against itself reads 0 and 0.
    @Test func measureOverDataSetMatchesWholeSetLogits() throws {
        let test = Fixtures.fashion.test.prefix(130)
        let first = try Zoo.make("mlp")
        let context = ForwardContext(training: false)
        // A "compressed" model that disagrees: the negated logits.
        let second = { (x: Tensor) throws -> Tensor in try first.forward(x, context).negated() }
        let measured = try #require(try Agreement.measure(on: test, batchSize: 47, baseline: { try first.forward($0, context) }, compressed: second))
        let (x, _) = try test.batch(Array(0..<test.count)[...])
        let whole = try withNoGrad { try Agreement.of(baseline: first.forward(x, context), compressed: second(x)) }
        #expect(measured.samples == 130)
        #expect(measured.flipRate == whole.flipRate)
        #expect(abs(measured.klToBaseline - whole.klToBaseline) < 1e-9)
        #expect(measured.flipRate > 0)
        let same = try #require(try Agreement.measure(on: test, batchSize: 47, baseline: { try first.forward($0, context) },
                                                      compressed: { try first.forward($0, context) }))
        #expect(same.flipRate == 0 && same.klToBaseline == 0)
    }

    /// A detection set gets no agreement, and neither model runs; a segmentation set does, per pixel.
    @Test func measureAppliesToClassesPerImageOrPixelNotToDetections() throws {
        let pixels = [Float](repeating: 0.5, count: 2 * 8 * 8)
        let detection = try ImageDataset(images: pixels, targets: .boxes([[LabelledBox(label: 0, x: 1, y: 1, width: 3, height: 3)], []]),
                                         channels: 1, height: 8, width: 8, classCount: 2)
        struct Ran: Error {}
        #expect(try Agreement.measure(on: detection, baseline: { _ in throw Ran() }, compressed: { _ in throw Ran() }) == nil)
        let segmentation = try ImageDataset(images: pixels, targets: .masks([UInt8](repeating: 1, count: 2 * 8 * 8)),
                                            channels: 1, height: 8, width: 8, classCount: 3)
        // Per-pixel logits [N, 3, 8, 8]: the baseline says class 1 everywhere, the other class 2 in one pixel of 64 of each image.
        func logits(_ x: Tensor, flip: Bool) throws -> Tensor {
            var values = [Float](repeating: 0, count: x.shape[0] * 3 * 64)
            for n in 0..<x.shape[0] {
                for p in 0..<64 { values[n * 192 + 64 + p] = 1 }
                if flip { values[n * 192 + 128] = 2 }
            }
            return try Tensor(values, shape: [x.shape[0], 3, 8, 8])
        }
        let agreement = try #require(try Agreement.measure(on: segmentation, baseline: { try logits($0, flip: false) },
                                                           compressed: { try logits($0, flip: true) }))
        #expect(agreement.samples == 2 && abs(agreement.flipRate - 1.0 / 64) < 1e-12)
        #expect(Agreement.applies(to: .classification) && Agreement.applies(to: .segmentation) && !Agreement.applies(to: .detection))
    }
}
