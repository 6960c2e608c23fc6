import Foundation
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// Which calibration batches are used: the first `batches` mini-batches of a shuffle of the
/// training set at `seed` (the same samples on every platform), and how large a layer's Gram
/// matrix may grow. A sweep may vary `seed` to show how much a result depends on the sample.
public struct CalibrationPlan: Sendable, Equatable, Codable {
    /// Mini-batches of training data.
    public var batches: Int
    public var batchSize: Int
    /// Seed of the shuffle that picks the samples.
    public var seed: UInt64
    /// Largest Gram-matrix accumulator (float64, G·D·D·8 bytes) of one layer.
    public var gramLimitBytes: Int

    /// The default limit: 1 GiB per layer.
    public static let defaultGramLimitBytes = 1 << 30

    public init(batches: Int, batchSize: Int, seed: UInt64, gramLimitBytes: Int = Self.defaultGramLimitBytes) {
        self.batches = batches
        self.batchSize = batchSize
        self.seed = seed
        self.gramLimitBytes = gramLimitBytes
    }

    /// The calibration batches of a data set of `count` samples (sample indices).
    public func batchIndices(count: Int) -> [ArraySlice<Int>] {
        Array(BatchPlan(count: count, batchSize: batchSize, shuffle: true, seed: seed, epoch: 0)
            .batches.prefix(batches))
    }
}

/// Which statistics to collect.
public struct StatisticsNeed: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let absMax = StatisticsNeed(rawValue: 1)
    public static let meanSquare = StatisticsNeed(rawValue: 2)
    public static let gram = StatisticsNeed(rawValue: 4)
    public static let absMean = StatisticsNeed(rawValue: 8)

    /// What a plugin method's `needs-input-*` flags ask for.
    public init(_ flags: MethodFlags) {
        self = []
        if flags.contains(.needsInputAbsMax) { insert(.absMax) }
        if flags.contains(.needsInputMeanSquare) { insert(.meanSquare) }
        if flags.contains(.needsInputGram) { insert(.gram) }
        if flags.contains(.needsInputAbsMean) { insert(.absMean) }
    }
}

/// Computes calibration statistics of conv and linear layers' inputs (the header's
/// "Calibration statistics"): per feature of the weight viewed as `[out, D]`, over every input
/// row of every calibration batch, accumulated in float64.
///
/// The model runs in evaluation mode without gradients, through whatever the caller installs in
/// the forward context (masks, fake quantizers): the statistics are of the input each layer
/// really sees. A pass stops as soon as every requested layer has seen its input.
public enum InputStatisticsCollector {
    /// How a layer's input becomes rows of features.
    public struct Layout: Sendable, Equatable {
        /// G: one set of statistics per group of a grouped conv; 1 otherwise.
        public var groups: Int
        /// D: features per group (the weight's elements per output row).
        public var features: Int
        /// Conv geometry (kernel, stride, padding); nil for a linear layer.
        public var conv: (kernel: Int, stride: Int, padding: Int)?

        public static func == (a: Layout, b: Layout) -> Bool {
            a.groups == b.groups && a.features == b.features && a.conv?.kernel == b.conv?.kernel
                && a.conv?.stride == b.conv?.stride && a.conv?.padding == b.conv?.padding
        }

        /// Bytes of the float64 Gram accumulator, nil if it does not fit in an Int.
        public var gramBytes: Int? {
            let (dd, o1) = features.multipliedReportingOverflow(by: features)
            let (gdd, o2) = dd.multipliedReportingOverflow(by: groups)
            let (bytes, o3) = gdd.multipliedReportingOverflow(by: 8)
            return o1 || o2 || o3 ? nil : bytes
        }
    }

    /// The layout of `name` in `model`; the error names the layer and what was expected.
    public static func layout(of name: String, in model: Model) throws -> Layout {
        switch model.layer(named: name) {
        case let linear as Linear:
            return Layout(groups: 1, features: linear.inFeatures, conv: nil)
        case let conv as Conv2d:
            return Layout(groups: conv.groups, features: conv.weight.shape.dropFirst().reduce(1, *),
                          conv: (conv.kernel, conv.stride, conv.padding))
        case .some(let other):
            throw CalibrationError.unsupportedLayer(name, kind: String(describing: type(of: other)))
        case .none:
            throw CalibrationError.unknownLayer(name, candidates: model.layers.filter { $0 is Linear || $0 is Conv2d }.map(\.name))
        }
    }

    /// Checks every layer (exists, is conv or linear, its Gram matrix within the plan's limit)
    /// before anything is computed, and returns their layouts.
    public static func check(_ layers: [String], need: StatisticsNeed, model: Model, plan: CalibrationPlan) throws -> [String: Layout] {
        guard plan.batches > 0, plan.batchSize > 0 else {
            throw CalibrationError.invalidPlan("calibration needs at least one batch of at least one sample (got \(plan.batches) batch(es) of \(plan.batchSize))")
        }
        var out: [String: Layout] = [:]
        for name in layers {
            let layout = try layout(of: name, in: model)
            if need.contains(.gram) {
                let bytes = layout.gramBytes ?? Int.max
                if bytes > plan.gramLimitBytes {
                    throw CalibrationError.gramTooLarge(layer: name, groups: layout.groups, features: layout.features,
                                                        bytes: bytes, limit: plan.gramLimitBytes)
                }
            }
            out[name] = layout
        }
        return out
    }

    /// Statistics of each of `layers`' inputs over the plan's batches of `data`. `configure`
    /// installs the caller's transforms (masks, quantizers) into each pass's context.
    public static func collect(
        model: Model, layers: [String], need: StatisticsNeed, data: ImageDataset, plan: CalibrationPlan,
        configure: (ForwardContext) throws -> Void = { _ in }
    ) throws -> [String: InputStatistics] {
        let layouts = try check(layers, need: need, model: model, plan: plan)
        guard data.count > 0 else { throw CalibrationError.invalidPlan("calibration needs training data, but the training set is empty") }
        let batches = plan.batchIndices(count: data.count)
        return try collect(layouts: layouts, need: need, batches: batches.count, prepare: configure) { index, context in
            _ = try model.forward(try data.batch(batches[index]).images, context)
        }
    }

    /// The statistics of the layers in `layouts` (from `check`) over `batches` passes, each run
    /// by `run(batch, context)` with the context observing those layers' inputs: a model's
    /// forward, or a part of it on cached inputs (the solve stage runs one top-level block at a
    /// time on its cached inputs). `prepare` installs the caller's transforms first; the
    /// observers see the input after any input transform. A pass stops once every layer has seen
    /// its input.
    public static func collect(
        layouts: [String: Layout], need: StatisticsNeed, batches: Int, prepare: (ForwardContext) throws -> Void = { _ in },
        run: (Int, ForwardContext) throws -> Void
    ) throws -> [String: InputStatistics] {
        let accumulators = layouts.mapValues { _ in Accumulator(need: need) }
        try withNoGrad {
            for batch in 0..<batches {
                let context = ForwardContext(training: false)
                try prepare(context)
                var seen = Set<String>()
                for (name, layout) in layouts {
                    guard let accumulator = accumulators[name] else { continue }
                    let previous = context.inputTransforms[name]
                    context.inputTransforms[name] = { input in
                        let used = try previous?(input) ?? input
                        try accumulator.add(try rows(of: used, layout: layout, layer: name))
                        seen.insert(name)
                        if seen.count == layouts.count { throw StopForward() }
                        return used
                    }
                }
                do { try run(batch, context) } catch is StopForward {}
            }
        }
        return try accumulators.mapValues { try $0.statistics() }
    }

    /// A layer input as `[n, G, D]` float64 rows: one per input vector (linear) or per output
    /// position (conv, unfolded).
    public static func rows(of input: Tensor, layout: Layout, layer: String) throws -> Tensor {
        let x = try input.detached().converted(to: .float64)
        let width = layout.groups * layout.features
        if let conv = layout.conv {
            guard x.rank == 4 else { throw CalibrationError.invalidPlan("'\(layer)' got an input of shape \(x.shape); a conv expects [N, C, H, W]") }
            let columns = try x.im2col(kernel: (conv.kernel, conv.kernel), stride: (conv.stride, conv.stride),
                                       padding: (conv.padding, conv.padding))
            let s = columns.shape
            guard s.count == 3, s[1] == width else {
                throw CalibrationError.invalidPlan("'\(layer)': unfolded input \(s) does not have \(width) features")
            }
            return try columns.permuted([0, 2, 1]).contiguous().reshaped([s[0] * s[2], layout.groups, layout.features])
        }
        guard let last = x.shape.last, last == width else {
            throw CalibrationError.invalidPlan("'\(layer)' got an input of shape \(x.shape); expected \(width) features last")
        }
        return try x.contiguous().reshaped([x.count / width, 1, width])
    }

    struct StopForward: Error {}

    /// Running sums of one layer.
    final class Accumulator {
        let need: StatisticsNeed
        var absMax: Tensor?, sumSquares: Tensor?, gram: Tensor?, sumAbs: Tensor?
        var rows = 0

        init(need: StatisticsNeed) { self.need = need }

        func add(_ r: Tensor) throws {
            rows += r.shape[0]
            if need.contains(.absMax) {
                let m = try r.abs().max([0])
                absMax = try absMax.map { try $0.maximum(m) } ?? m
            }
            if need.contains(.meanSquare) {
                let s = try r.squared().sum([0])
                sumSquares = try sumSquares.map { try $0 + s } ?? s
            }
            if need.contains(.absMean) {
                let s = try r.abs().sum([0])
                sumAbs = try sumAbs.map { try $0 + s } ?? s
            }
            if need.contains(.gram) {
                let g = try r.permuted([1, 0, 2]).contiguous()
                let product = try g.transposed(1, 2).matmul(g)
                gram = try gram.map { try $0 + product } ?? product
            }
        }

        func statistics() throws -> InputStatistics {
            let n = Double(Swift.max(rows, 1))
            return InputStatistics(
                absMax: try absMax?.converted(to: .float32).contiguous(),
                meanSquare: try sumSquares.map { try ($0 / n).converted(to: .float32).contiguous() },
                gram: try gram.map { try ($0 / n).converted(to: .float32).contiguous() },
                absMean: try sumAbs.map { try ($0 / n).converted(to: .float32).contiguous() },
                rows: rows)
        }
    }
}

/// Why calibration statistics cannot be computed.
public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case unknownLayer(String, candidates: [String])
    case unsupportedLayer(String, kind: String)
    case gramTooLarge(layer: String, groups: Int, features: Int, bytes: Int, limit: Int)
    case invalidPlan(String)

    public var description: String {
        switch self {
        case let .unknownLayer(name, candidates):
            "the model has no conv or linear layer '\(name)'; expected one of: \(candidates.joined(separator: ", "))"
        case let .unsupportedLayer(name, kind):
            "'\(name)' is a \(kind); calibration statistics are taken of conv and linear layers' inputs"
        case let .gramTooLarge(layer, groups, features, bytes, limit):
            "the input Gram matrix of '\(layer)' (\(groups)×\(features)×\(features), \(Self.mib(bytes)) MiB as float64) exceeds the limit of \(Self.mib(limit)) MiB (calibration_gram_limit_mib): raise the limit or exclude the layer"
        case let .invalidPlan(message): message
        }
    }

    private static func mib(_ bytes: Int) -> String {
        let value = Double(bytes) / 1_048_576
        return value >= 10 ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }
}
