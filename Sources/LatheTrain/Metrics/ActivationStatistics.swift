import Foundation
import LatheData
import LatheModels
import LatheTensor

/// Per-channel statistics of the input activation of every Linear and Conv2d layer over a
/// calibration set: the abs-max and the kurtosis of each input channel, and per layer how far
/// its largest channel stands out. Channels with an abs-max far above the layer's median (the
/// "outlier channels" of LLM.int8() and SmoothQuant) are what per-tensor activation
/// quantization fails on.
///
/// A channel is an input feature of a linear layer (over the batch, and over the tokens of a
/// `[N, T, C]` input) or an input channel of a convolution (over the batch and the positions).
/// The statistics are gathered by observers in `ForwardContext.inputTransforms`: the model is
/// not changed, and an input transform already present (activation fake quantization) still
/// runs after the observer, which sees the activation the previous layer produced.
public struct ActivationStatistics: Sendable, Codable, Equatable {
    /// The statistics of one layer's input.
    public struct LayerInput: Sendable, Codable, Equatable {
        /// Full layer name.
        public var layer: String
        /// `linear` or `conv2d`.
        public var kind: String
        /// Values each channel's statistics were computed from (samples × tokens or positions).
        public var valuesPerChannel: Int
        /// Abs-max per input channel.
        public var absMax: [Double]
        /// Pearson kurtosis E[(x − μ)⁴]/σ⁴ per input channel; nil for a constant channel.
        public var kurtosis: [Double?]
        /// The largest and the median channel abs-max.
        public var maxAbsMax: Double
        public var medianAbsMax: Double
        /// `maxAbsMax / medianAbsMax`, the outlier ratio; nil when the median is 0.
        public var outlierRatio: Double?
        /// The largest channel kurtosis; nil when every channel is constant.
        public var maxKurtosis: Double?
        /// The `topK` channels with the largest abs-max, largest first (ties: lower index first).
        public var topChannels: [Int]

        /// The summary of `moments` with its `topK` outlier channels.
        public init(layer: String, kind: String, moments: ChannelMoments, topK: Int) {
            self.layer = layer
            self.kind = kind
            valuesPerChannel = moments.count
            absMax = moments.absMax
            kurtosis = moments.kurtosis
            maxAbsMax = absMax.max() ?? 0
            medianAbsMax = Statistics.median(absMax)
            outlierRatio = medianAbsMax > 0 ? maxAbsMax / medianAbsMax : nil
            maxKurtosis = kurtosis.compactMap { $0 }.max()
            let values = moments.absMax
            topChannels = Array(values.indices.sorted { (values[$0], $1) > (values[$1], $0) }.prefix(topK))
        }
    }

    /// Calibration samples the statistics were gathered over (the first ones of the data set).
    public var samples: Int
    /// Outlier channels listed per layer.
    public var topK: Int
    /// One entry per Linear and Conv2d layer, in network order.
    public var layers: [LayerInput]

    /// The most calibration samples and outlier channels one may ask for.
    public static let maxSamples = Int(Int32.max)
    public static let maxTopK = 1024

    /// Checks the options; the error names the option, its value and what was expected.
    /// `samplesName` and `topKName` are how the caller spells them (`--activation-samples`, `samples`).
    public static func validate(samples: Int, topK: Int, samplesName: String, topKName: String) throws {
        guard (1...maxSamples).contains(samples) else {
            throw TrainingError.invalidRecipe(field: samplesName, value: "\(samples)", expected: "a number of calibration samples in 1...\(maxSamples)")
        }
        guard (1...maxTopK).contains(topK) else {
            throw TrainingError.invalidRecipe(field: topKName, value: "\(topK)", expected: "a number of outlier channels in 1...\(maxTopK)")
        }
    }

    /// Runs the first `samples` images of `data` (all when fewer) through `model` in evaluation
    /// mode without gradients, in batches, and summarises every Linear and Conv2d layer's input.
    /// `context` makes the forward context (default: a plain evaluation one).
    public static func measure(
        _ model: Model, on data: ImageDataset, samples: Int, topK: Int, batchSize: Int = 256,
        context makeContext: () throws -> ForwardContext = { ForwardContext(training: false) }
    ) throws -> ActivationStatistics {
        try validate(samples: samples, topK: topK, samplesName: "samples", topKName: "top-k")
        guard data.count > 0 else { throw TrainingError.emptyDataSet("activation statistics") }
        let n = Swift.min(samples, data.count)
        let context = try makeContext()
        let targets: [(layer: String, kind: String, axis: Int)] = model.layers.compactMap { layer in
            switch layer {
            case is Linear: (layer.name, "linear", -1)
            case is Conv2d: (layer.name, "conv2d", 1)
            default: nil
            }
        }
        let observers = targets.map { _ in Observer() }
        for (target, observer) in zip(targets, observers) {
            let next = context.inputTransforms[target.layer]
            context.inputTransforms[target.layer] = { x in
                try observer.moments.add(x, channelAxis: target.axis)
                return try next?(x) ?? x
            }
        }
        try withNoGrad {
            for start in stride(from: 0, to: n, by: Swift.max(1, batchSize)) {
                let (x, _) = try data.batch(Array(start..<Swift.min(start + batchSize, n))[...])
                _ = try model.forward(x, context)
            }
        }
        let layers = zip(targets, observers).compactMap { target, observer in
            observer.moments.count > 0 ? LayerInput(layer: target.layer, kind: target.kind, moments: observer.moments, topK: topK) : nil
        }
        return ActivationStatistics(samples: n, topK: topK, layers: layers)
    }

    /// The layer with the largest outlier ratio (the first of equals), if any has one.
    public var mostOutlying: LayerInput? {
        layers.filter { $0.outlierRatio != nil }.max { ($0.outlierRatio ?? 0) < ($1.outlierRatio ?? 0) }
    }

    /// A fixed-width table, one line per layer, for the terminal.
    public var table: String {
        let width = Swift.max(5, layers.map(\.layer.count).max() ?? 0)
        func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        var s = "activation statistics of the layer inputs over the first \(samples) training images\n"
        s += "\(pad("layer"))  kind     channels  max |x|  median |x|  outlier ratio  max kurtosis  top channels\n"
        for l in layers {
            let ratio = l.outlierRatio.map { String(format: "%13.2f", $0) } ?? String(repeating: " ", count: 12) + "–"
            let kurtosis = l.maxKurtosis.map { String(format: "%12.2f", $0) } ?? String(repeating: " ", count: 11) + "–"
            s += pad(l.layer) + "  " + l.kind.padding(toLength: 7, withPad: " ", startingAt: 0)
                + String(format: "  %8d  %7.3f  %10.3f  ", l.absMax.count, l.maxAbsMax, l.medianAbsMax)
                + ratio + "  " + kurtosis + "  " + l.topChannels.map(String.init).joined(separator: ", ") + "\n"
        }
        return s
    }
}

/// The moments one observer closure accumulates (a class: the closure outlives the call that made it).
private final class Observer {
    var moments = ChannelMoments()
}
