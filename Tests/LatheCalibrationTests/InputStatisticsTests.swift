import Foundation
import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing

/// The host's calibration statistics (ABI 1.2) against the same statistics computed in the test,
/// in float64 with plain loops, from layer inputs captured independently (an unfolding written
/// here for convs), on zoo models of every layer type the collector accepts.
@Suite("Calibration statistics of layer inputs")
struct InputStatisticsTests {
    /// Random images in a data set (the statistics do not need real ones; the sizes are small so
    /// that the loops below stay quick in debug builds).
    static func data(count: Int = 12, seed: UInt64 = 5) throws -> ImageDataset {
        let pixels = try Tensor.randn([count, 1, 28, 28], generator: RandomGenerator(seed: seed)).scalars(as: Float.self)
        return try ImageDataset(images: pixels, labels: (0..<count).map { Int64($0 % 10) }, channels: 1, height: 28, width: 28, classCount: 10)
    }

    static let plan = CalibrationPlan(batches: 2, batchSize: 3, seed: 11)

    /// The inputs `layer` sees over the plan's batches, captured with an input transform of the test's own.
    static func capturedInputs(_ model: Model, _ layer: String, data: ImageDataset) throws -> [Tensor] {
        var inputs: [Tensor] = []
        try withNoGrad {
            for indices in plan.batchIndices(count: data.count) {
                let context = ForwardContext(training: false)
                context.inputTransforms[layer] = { x in inputs.append(try x.detached().clone()); return x }
                _ = try model.forward(try data.batch(indices).images, context)
            }
        }
        return inputs
    }

    /// Rows [n][G][D] of the inputs, by hand: linear inputs flattened to vectors, conv inputs unfolded.
    static func rows(_ inputs: [Tensor], layout: InputStatisticsCollector.Layout) throws -> [[[Double]]] {
        var out: [[[Double]]] = []
        let g = layout.groups, d = layout.features
        for x in inputs {
            let v = try x.converted(to: .float64).contiguous().scalars(as: Double.self)
            guard let conv = layout.conv else {
                for r in 0..<(v.count / d) { out.append([Array(v[(r * d)..<((r + 1) * d)])]) }
                continue
            }
            let s = x.shape, (n, c, h, w) = (s[0], s[1], s[2], s[3])
            let k = conv.kernel, cg = c / g
            let oh = (h + 2 * conv.padding - k) / conv.stride + 1, ow = (w + 2 * conv.padding - k) / conv.stride + 1
            for b in 0..<n {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var row: [[Double]] = []
                        for group in 0..<g {
                            var features: [Double] = []
                            for ch in 0..<cg {
                                for u in 0..<k {
                                    for t in 0..<k {
                                        let y = i * conv.stride - conv.padding + u, z = j * conv.stride - conv.padding + t
                                        let inside = y >= 0 && y < h && z >= 0 && z < w
                                        features.append(inside ? v[((b * c + group * cg + ch) * h + y) * w + z] : 0)
                                    }
                                }
                            }
                            row.append(features)
                        }
                        out.append(row)
                    }
                }
            }
        }
        return out
    }

    static func expectClose(_ got: Tensor?, _ want: [Double], _ what: String) throws {
        let values = try #require(got).scalars(as: Float.self)
        #expect(values.count == want.count, "\(what): \(values.count) values, expected \(want.count)")
        var worst = 0.0
        for (a, b) in zip(values, want) { worst = max(worst, abs(Double(a) - b) / max(1, abs(b))) }
        #expect(worst < 2e-6, "\(what): largest relative difference \(worst)")
    }

    /// Every statistic of `layer` equals the test's own computation.
    func check(_ architecture: String, _ layer: String, width: Double = 0.25) throws {
        let model = try Zoo.make(architecture, options: ModelOptions(width: width), seed: 3)
        let data = try Self.data()
        let stats = try #require(try InputStatisticsCollector.collect(
            model: model, layers: [layer], need: [.absMax, .meanSquare, .gram, .absMean], data: data, plan: Self.plan)[layer])
        let layout = try InputStatisticsCollector.layout(of: layer, in: model)
        let rows = try Self.rows(try Self.capturedInputs(model, layer, data: data), layout: layout)
        let g = layout.groups, d = layout.features, n = Double(rows.count)
        #expect(stats.rows == rows.count, "\(layer): \(stats.rows) rows, expected \(rows.count)")
        var absMax = [Double](repeating: 0, count: g * d), square = absMax, absSum = absMax
        var gram = [Double](repeating: 0, count: g * d * d)
        for row in rows {
            for group in 0..<g {
                let f = row[group]
                for a in 0..<d {
                    absMax[group * d + a] = max(absMax[group * d + a], abs(f[a]))
                    square[group * d + a] += f[a] * f[a]
                    absSum[group * d + a] += abs(f[a])
                    for b in 0..<d { gram[(group * d + a) * d + b] += f[a] * f[b] }
                }
            }
        }
        #expect(stats.absMax?.shape == [g, d] && stats.meanSquare?.shape == [g, d] && stats.gram?.shape == [g, d, d])
        try Self.expectClose(stats.absMax, absMax, "\(layer) abs-max")
        try Self.expectClose(stats.meanSquare, square.map { $0 / n }, "\(layer) mean square")
        try Self.expectClose(stats.gram, gram.map { $0 / n }, "\(layer) Gram")
        try Self.expectClose(stats.absMean, absSum.map { $0 / n }, "\(layer) abs-mean")
    }

    @Test func linearLayerInputs() throws { try check("mlp", "fc2") }

    @Test func convInputsAreUnfoldedWithPadding() throws { try check("convnet", "conv2") }

    @Test func depthwiseConvHasOneSetPerGroupAndStride() throws {
        try check("mobilenet", "block1.dw")
        try check("mobilenet", "block2.dw")
    }

    @Test func tokenSequencesGiveOneRowPerToken() throws { try check("vit-tiny", "blocks.0.mlp.fc2") }

    /// Only what was asked for is computed; several layers in one pass.
    @Test func onlyRequestedStatistics() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.25), seed: 3)
        let stats = try InputStatisticsCollector.collect(model: model, layers: ["fc1", "fc3"], need: .meanSquare,
                                                         data: try Self.data(), plan: Self.plan)
        #expect(Set(stats.keys) == ["fc1", "fc3"])
        #expect(stats["fc1"]?.meanSquare?.shape == [1, 784] && stats["fc1"]?.absMax == nil && stats["fc1"]?.gram == nil)
        #expect(stats["fc3"]?.rows == 6)
    }

    /// A Gram matrix over the limit is refused before any forward pass, naming the layer and the key.
    @Test func oversizeGramIsRefusedBeforeComputing() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.25), seed: 3)
        let plan = CalibrationPlan(batches: 1, batchSize: 3, seed: 0, gramLimitBytes: 1 << 20)
        let empty = try ImageDataset(images: [], labels: [], channels: 1, height: 28, width: 28, classCount: 10)
        // fc1's Gram matrix is 784² float64 = 4.7 MiB; the empty data set proves nothing ran.
        #expect {
            _ = try InputStatisticsCollector.collect(model: model, layers: ["fc1"], need: .gram, data: empty, plan: plan)
        } throws: { error in
            let text = "\(error)"
            return text.contains("'fc1'") && text.contains("1×784×784") && text.contains("calibration_gram_limit_mib")
        }
        // The same request without the Gram matrix passes the check.
        _ = try InputStatisticsCollector.check(["fc1"], need: [.absMax, .meanSquare], model: model, plan: plan)
        #expect(throws: CalibrationError.self) {
            _ = try InputStatisticsCollector.check(["relu1"], need: .meanSquare, model: model, plan: plan)
        }
    }
}
