import Foundation
import LatheModels
import LatheTensor
import Testing
@testable import LatheTrain

/// Per-channel activation statistics against values computed by hand.
@Suite("Activation statistics: abs-max and kurtosis per input channel")
struct ActivationStatisticsTests {
    /// Pearson kurtosis written out in Double, two passes.
    static func kurtosis(_ xs: [Double]) -> Double {
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        let m2 = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let m4 = xs.reduce(0) { $0 + Foundation.pow($1 - mean, 4) } / n
        return m4 / (m2 * m2)
    }

    /// {−2, −1, 0, 1, 2}: σ² = 2, E[x⁴] = 34/5, kurtosis 1.7; an uneven two-point
    /// distribution {5, 5, −5, −5, 5} against the two-pass formula.
    @Test func kurtosisOfKnownDistributions() throws {
        var m = ChannelMoments()
        try m.add(Tensor([Float(-2), 5, -1, 5, 0, -5, 1, -5, 2, 5], shape: [5, 2]), channelAxis: -1)
        #expect(m.count == 5)
        #expect(abs((m.kurtosis[0] ?? 0) - 1.7) < 1e-12)
        let twoPoint = try #require(m.kurtosis[1])
        #expect(abs(twoPoint - Self.kurtosis([5, -5, -5, 5, 5])) < 1e-12)
        #expect(m.absMax == [2, 5])
    }

    /// Batches of different means merge to the statistics of all values at once.
    @Test func batchesMergeToTheStatisticsOfTheWhole() throws {
        let batches: [[Float]] = [[0, 1, 2, 7], [10, 20], [-3, 4, 4.5]]
        var m = ChannelMoments()
        for b in batches { try m.add(Tensor(b, shape: [b.count, 1]), channelAxis: 1) }
        let all = batches.flatMap { $0 }.map(Double.init)
        #expect(m.count == all.count)
        #expect(abs(m.mean[0] - all.reduce(0, +) / Double(all.count)) < 1e-12)
        #expect(abs((m.kurtosis[0] ?? 0) - Self.kurtosis(all)) < 1e-10)
        #expect(m.absMax == [20])
    }

    /// NCHW: a channel is dim 1, over the batch and the positions.
    @Test func convolutionInputChannelsAreDimensionOne() throws {
        // x[n, c, h, w] = (c + 1) · (1 + n + 2h + 4w) · (−1)^w
        var values: [Float] = []
        for n in 0..<2 { for c in 0..<3 { for h in 0..<2 { for w in 0..<2 {
            let magnitude = (c + 1) * (1 + n + 2 * h + 4 * w)
            values.append(Float(w == 0 ? magnitude : -magnitude))
        } } } }
        var m = ChannelMoments()
        try m.add(Tensor(values, shape: [2, 3, 2, 2]), channelAxis: 1)
        #expect(m.count == 8)
        // Largest |x| per channel: n = 1, h = 1, w = 1 → (c + 1) · 8.
        #expect(m.absMax == [8, 16, 24])
        // The channels are one set of values scaled: the same kurtosis.
        var base: [Double] = []
        for n in 0..<2 { for h in 0..<2 { for w in 0..<2 {
            let magnitude = 1 + n + 2 * h + 4 * w
            base.append(Double(w == 0 ? magnitude : -magnitude))
        } } }
        for k in m.kurtosis { #expect(abs((k ?? 0) - Self.kurtosis(base)) < 1e-10) }
    }

    /// Linear `[N, C]` and tokens `[N, T, C]`: a channel is the last dim, over N (and T).
    @Test func linearAndTokenInputChannelsAreTheLastDimension() throws {
        var linear = ChannelMoments()
        try linear.add(Tensor([Float(1), -7, 3, 2, 0, -4], shape: [2, 3]), channelAxis: -1)
        #expect(linear.count == 2)
        #expect(linear.absMax == [2, 7, 4])
        // [N = 2, T = 3, C = 2]: channel 0 holds 0…5, channel 1 holds −10·(0…5).
        let tokens = (0..<6).flatMap { i in [Float(i), Float(-10 * i)] }
        var t = ChannelMoments()
        try t.add(Tensor(tokens, shape: [2, 3, 2]), channelAxis: -1)
        #expect(t.count == 6)
        #expect(t.absMax == [5, 50])
        #expect(abs((t.kurtosis[0] ?? 0) - Self.kurtosis((0..<6).map(Double.init))) < 1e-12)
    }

    /// σ = 0 gives no kurtosis (not a division by zero); a zero median gives no outlier ratio;
    /// top channels are the largest abs-max, ties to the lower index.
    @Test func constantChannelsAndTies() throws {
        var m = ChannelMoments()
        try m.add(Tensor([Float(0.1), 0, 3, 3, 0.1, 0, -3, 1], shape: [2, 4]), channelAxis: -1)
        #expect(m.kurtosis[0] == nil)
        #expect(m.kurtosis[1] == nil)
        let s = ActivationStatistics.LayerInput(layer: "fc", kind: "linear", moments: m, topK: 3)
        #expect(s.topChannels == [2, 3, 0])
        #expect(s.maxAbsMax == 3)
        // Abs-max per channel: [0.1, 0, 3, 3] (0.1 as a Float), median between 0.1 and 3.
        let median = (Double(Float(0.1)) + 3) / 2
        #expect(s.medianAbsMax == median)
        #expect(abs((s.outlierRatio ?? 0) - 3 / median) < 1e-12)
        #expect(s.maxKurtosis == 1)
        var zeros = ChannelMoments()
        try zeros.add(Tensor([Float](repeating: 0, count: 6), shape: [2, 3]), channelAxis: -1)
        let z = ActivationStatistics.LayerInput(layer: "fc", kind: "linear", moments: zeros, topK: 1)
        #expect(z.outlierRatio == nil)
        #expect(z.maxKurtosis == nil)
    }

    /// On a zoo model: one entry per Linear and Conv2d, in network order; the first layer's
    /// input is the images themselves; the observers leave the logits unchanged.
    @Test func measuresEveryLinearAndConvInputOfAModel() throws {
        let model = try Zoo.make("lenet5", options: ModelOptions(), seed: 3)
        let data = Fixtures.fashion.train.prefix(300)
        let stats = try ActivationStatistics.measure(model, on: data, samples: 100, topK: 2, batchSize: 32)
        let expected = model.layers.filter { $0 is Linear || $0 is Conv2d }.map(\.name)
        #expect(stats.layers.map(\.layer) == expected)
        #expect(stats.samples == 100)
        #expect(stats.layers.first?.kind == "conv2d")
        #expect(stats.layers.last?.kind == "linear")
        let (images, _) = try data.batch(Array(0..<100)[...])
        let direct = try images.abs().max().item()
        #expect(stats.layers.first?.absMax == [direct])
        #expect(stats.layers.first?.valuesPerChannel == 100 * 28 * 28)
        #expect(stats.layers.allSatisfy { $0.topChannels.count == Swift.min(2, $0.absMax.count) })
        // More samples than the data set: all of it.
        #expect(try ActivationStatistics.measure(model, on: data.prefix(10), samples: 100, topK: 1).samples == 10)
    }

    /// The observers only look: a forward pass through them gives the plain model's logits.
    @Test func observersDoNotChangeTheModel() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(), seed: 1)
        let (x, _) = try Fixtures.fashion.train.batch(Array(0..<16)[...])
        let plain = try model.predict(x).scalars(as: Float.self)
        var seen: [Float] = []
        _ = try ActivationStatistics.measure(model, on: Fixtures.fashion.train.prefix(16), samples: 16, topK: 1) {
            let context = ForwardContext(training: false)
            context.outputTransforms[model.layers.last { $0 is Linear }?.name ?? ""] = { y in
                seen = try y.scalars(as: Float.self)
                return y
            }
            return context
        }
        #expect(seen == plain)
    }

    /// Bad option values: an error naming the option, the value and what was expected.
    @Test func badOptionsAreRefused() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(), seed: 1)
        #expect(throws: TrainingError.invalidRecipe(field: "samples", value: "0", expected: "a number of calibration samples in 1...\(Int32.max)")) {
            _ = try ActivationStatistics.measure(model, on: Fixtures.fashion.train, samples: 0, topK: 4)
        }
        #expect(throws: TrainingError.invalidRecipe(field: "--activation-top-k", value: "-1", expected: "a number of outlier channels in 1...1024")) {
            try ActivationStatistics.validate(samples: 10, topK: -1, samplesName: "--activation-samples", topKName: "--activation-top-k")
        }
        #expect(throws: TrainingError.emptyDataSet("activation statistics")) {
            _ = try ActivationStatistics.measure(model, on: Fixtures.fashion.train.prefix(0), samples: 4, topK: 1)
        }
    }
}
