import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// One quantized weight tensor in the ledger.
public struct LayerQuant: Codable, Sendable, Equatable {
    public var layer: String
    public var kind: String
    public var elements: Int
    public var bits: Int
    public var scheme: String
    /// -1 per tensor, else the channel axis (0 for groups).
    public var axis: Int
    /// Bytes at the real bit width, with scales, zero points and codebook.
    public var bytes: Int
    /// Bytes in float32.
    public var fp32Bytes: Int
    /// Storage bits per weight with the scales, zero points and codebook (`QuantParams.effectiveBits`):
    /// 4.125 for INT4 in groups of 128 with fp16 scales.
    public var effectiveBits: Double
    /// Elements per group along a row (0: per tensor or per channel).
    public var groupSize: Int
    /// `ElementFormat` raw value: `int`, `fp8-e4m3`, …
    public var elementFormat: String
    /// `ScaleFormat` raw value: `fp32`, `fp16`, `bf16` or `e8m0`.
    public var scaleFormat: String

    public init(layer: String, kind: String, elements: Int, bits: Int, scheme: String, axis: Int, bytes: Int, fp32Bytes: Int,
                effectiveBits: Double, groupSize: Int = 0, elementFormat: String = ElementFormat.int.rawValue,
                scaleFormat: String = ScaleFormat.fp32.rawValue) {
        self.layer = layer
        self.kind = kind
        self.elements = elements
        self.bits = bits
        self.scheme = scheme
        self.axis = axis
        self.bytes = bytes
        self.fp32Bytes = fp32Bytes
        self.effectiveBits = effectiveBits
        self.groupSize = groupSize
        self.elementFormat = elementFormat
        self.scaleFormat = scaleFormat
    }

    enum CodingKeys: String, CodingKey {
        case layer, kind, elements, bits, scheme, axis, bytes, fp32Bytes, effectiveBits, groupSize, elementFormat, scaleFormat
    }

    /// Ledgers recorded before group and floating-point formats decode with no groups, integer
    /// elements, fp32 scales and the effective bits their bytes give (8 * bytes / elements).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let elements = try c.decode(Int.self, forKey: .elements), bytes = try c.decode(Int.self, forKey: .bytes)
        self.init(layer: try c.decode(String.self, forKey: .layer), kind: try c.decode(String.self, forKey: .kind), elements: elements,
                  bits: try c.decode(Int.self, forKey: .bits), scheme: try c.decode(String.self, forKey: .scheme),
                  axis: try c.decode(Int.self, forKey: .axis), bytes: bytes, fp32Bytes: try c.decode(Int.self, forKey: .fp32Bytes),
                  effectiveBits: try c.decodeIfPresent(Double.self, forKey: .effectiveBits) ?? (elements > 0 ? 8 * Double(bytes) / Double(elements) : 0),
                  groupSize: try c.decodeIfPresent(Int.self, forKey: .groupSize) ?? 0,
                  elementFormat: try c.decodeIfPresent(String.self, forKey: .elementFormat) ?? ElementFormat.int.rawValue,
                  scaleFormat: try c.decodeIfPresent(String.self, forKey: .scaleFormat) ?? ScaleFormat.fp32.rawValue)
    }

    /// "symmetric 4-bit g32 (fp16 scales)", "minifloat fp4-e2m1 g32 (e8m0 scales)", "affine 8-bit per channel".
    public var formatDescription: String {
        let element = elementFormat == ElementFormat.int.rawValue ? "\(bits)-bit" : elementFormat
        let layout = groupSize > 0 ? "g\(groupSize)" : axis < 0 ? "per tensor" : "per channel"
        return "\(scheme) \(element) \(layout) (\(scaleFormat) scales)"
    }
}

/// A layer whose weight can be quantized (convolution or fully connected).
struct QuantizableLayer {
    let name: String
    let kind: String
    let layer: any Layer
    var weight: Tensor { (layer.ownParameters.first { $0.0 == "weight" })?.1 ?? layer.ownParameters[0].1 }
}

/// The weight quantizer chosen for one layer.
public struct LayerQuantizer: @unchecked Sendable {
    public let layer: String
    public let method: PluginMethod
    public let params: BoundParams

    /// [1.3] Whether the quantizer reads the statistics of its layer's input.
    public var needsStatistics: Bool { !method.descriptor.flags.isDisjoint(with: .inputStatistics) }

    /// The input statistics `quantizers` need, computed in evaluation mode on the calibration
    /// batches of `train` (empty when none needs any).
    public static func statistics(_ quantizers: [LayerQuantizer], model: Model, train: ImageDataset, plan: CalibrationPlan) throws
        -> [String: InputStatistics]
    {
        let needing = quantizers.filter(\.needsStatistics)
        guard !needing.isEmpty else { return [:] }
        var need = StatisticsNeed()
        for q in needing { need.formUnion(StatisticsNeed(q.method.descriptor.flags)) }
        return try InputStatisticsCollector.collect(model: model, layers: needing.map(\.layer), need: need, data: train, plan: plan)
    }
}

/// Host-side quantization machinery shared by the workflows.
public enum Quantization {
    /// Convolution and linear layers, in forward order.
    static func quantizableLayers(_ model: Model) -> [QuantizableLayer] {
        model.layers.compactMap { layer in
            if layer is Conv2d { return QuantizableLayer(name: layer.name, kind: "conv2d", layer: layer) }
            if layer is Linear { return QuantizableLayer(name: layer.name, kind: "linear", layer: layer) }
            return nil
        }
    }

    /// Resolves the weight quantizer of every quantized layer: the config's method and
    /// parameters, with `bits` overridden per layer (`layer_bits`, `first_last_bits`).
    /// Unknown layer names and a `bits` override for a method without `bits` are errors.
    public static func weightQuantizers(_ model: Model, config: QuantConfig, registry: Registry) throws -> [LayerQuantizer] {
        let method = try registry.method(config.method)
        guard method.descriptor.kind == .quantizer else {
            throw QuantError("method '\(config.method)' is a \(method.descriptor.kind.rawValue), not a quantizer")
        }
        let layers = quantizableLayers(model)
        let names = Set(layers.map(\.name))
        for name in config.exclude + Array(config.layerBits.keys) where !names.contains(name) {
            throw QuantError("layer '\(name)' is not a conv or linear layer of \(model.architecture) (its layers: \(layers.map(\.name).joined(separator: ", ")))")
        }
        let included = layers.filter { !config.exclude.contains($0.name) }
        let hasBits = method.descriptor.params.contains { $0.name == "bits" }
        var result: [LayerQuantizer] = []
        for (index, layer) in included.enumerated() {
            var values = config.params
            var bits = config.layerBits[layer.name]
            if bits == nil, let edge = config.firstLastBits, index == 0 || index == included.count - 1 { bits = edge }
            if let bits {
                guard hasBits else {
                    throw QuantError("layer '\(layer.name)': \(config.method) has no 'bits' parameter to override")
                }
                values["bits"] = .int(Int64(bits))
            }
            do {
                result.append(LayerQuantizer(layer: layer.name, method: method, params: try method.bind(values)))
            } catch let error as PluginError {
                throw QuantError("layer '\(layer.name)': \(error.message)")
            }
        }
        return result
    }

    /// Post-training quantization of the weights, in place: each weight is replaced by its
    /// fake-quantized value. A quantizer with learnables uses its instance in `learned` (the
    /// trained values), or a fresh one initialised from the weight. Returns the ledger entries
    /// with the reported parameters.
    /// A quantizer that declares `needs-input-*` gets its layer's entry of `statistics`.
    public static func quantizeWeights(_ model: Model, with quantizers: [LayerQuantizer], learned: LearnedQuantizers? = nil,
                                       statistics: [String: InputStatistics] = [:]) throws
        -> [(record: LayerQuant, qparams: QuantParams)]
    {
        var records: [(LayerQuant, QuantParams)] = []
        for q in quantizers {
            guard let layer = model.layer(named: q.layer), let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else {
                throw QuantError("layer '\(q.layer)' has no weight")
            }
            let (output, qparams): (Tensor, QuantParams)
            if let done = try learned?.quantizeWeight(layer: q.layer, weight) {
                (output, qparams) = done
            } else if LearnedQuantizers.runsAsInstance(q.method) {
                let instance = MethodInstance(method: q.method, params: q.params)
                let context = LearnedQuantizers.context(q.layer, .weight, position: nil)
                let w = try weight.detached().contiguous()
                try instance.initialize(input: w, context: context)
                (output, qparams) = try instance.quantize(w, context: context)
            } else if q.needsStatistics {
                (output, qparams) = try q.method.quantize(weight: try weight.detached(), statistics: statistics[q.layer], params: q.params,
                                                          context: CallContext(layer: q.layer, role: .weight, axis: 0))
            } else {
                (output, qparams) = try q.method.quantize(try weight.detached(), params: q.params)
            }
            try layer.replace("weight", with: try output.requiringGrad(weight.requiresGrad))
            records.append((record(layer: q.layer, kind: layer is Conv2d ? "conv2d" : "linear", elements: weight.count, qparams: qparams), qparams))
        }
        return records
    }

    public static func record(layer: String, kind: String, elements: Int, qparams: QuantParams) -> LayerQuant {
        LayerQuant(layer: layer, kind: kind, elements: elements, bits: qparams.bits, scheme: qparams.scheme.rawValue,
                   axis: qparams.axis, bytes: qparams.storageBytes(elements: elements), fp32Bytes: 4 * elements,
                   effectiveBits: qparams.effectiveBits(elements: elements), groupSize: qparams.groupSize,
                   elementFormat: qparams.elementFormat.rawValue, scaleFormat: qparams.scaleFormat.rawValue)
    }

    /// Storage bits per quantized weight over the whole ledger (its layers weighted by their
    /// element counts), parameters included; nil for an empty ledger.
    public static func bitsPerWeight(_ layers: [LayerQuant]) -> Double? {
        let elements = layers.reduce(0) { $0 + $1.elements }
        guard elements > 0 else { return nil }
        return layers.reduce(0.0) { $0 + $1.effectiveBits * Double($1.elements) } / Double(elements)
    }

    /// Model size with the ledger's weights at their real width and every other tensor in fp32.
    public static func sizeBytes(_ model: Model, quantized: [LayerQuant]) -> (bytes: Int, fp32Bytes: Int) {
        let fp32 = model.state.reduce(0) { $0 + 4 * $1.1.count }
        let saved = quantized.reduce(0) { $0 + $1.fp32Bytes - $1.bytes }
        return (fp32 - saved, fp32)
    }

    // MARK: Straight-through estimator

    /// A weight transform for QAT: the forward value is the plugin's q(w); the gradient is the
    /// identity (STE, Bengio et al. 2013), zeroed outside the quantizer's clipping range when
    /// `clipped` (affine and symmetric schemes; other schemes have no clipping range).
    static func steTransform(_ q: LayerQuantizer, clipped: Bool) -> (Tensor) throws -> Tensor {
        return { w in
            let (value, qparams) = try q.method.quantize(try w.detached(), params: q.params)
            let passthrough = try w - w.detached()  // value 0, gradient 1
            guard clipped, let (low, high) = try clipRange(qparams, like: w) else {
                return try value + passthrough
            }
            let inside = try withNoGrad { try w.ge(low).logicalAnd(high.ge(w)).converted(to: .float32) }
            return try value + passthrough * inside
        }
    }

    /// The representable range of affine, symmetric and minifloat parameters, broadcastable to
    /// `w`: [scale * (qmin - zero point), scale * (qmax - zero point)] for the integer schemes,
    /// scale * [-max, max] (the element format's largest finite value) for minifloat; per
    /// tensor, per channel along `axis`, or per group (expanded to `w`'s shape). nil for the
    /// other schemes, which have no clipping range.
    static func clipRange(_ q: QuantParams, like w: Tensor) throws -> (Tensor, Tensor)? {
        guard !q.scales.isEmpty else { return nil }
        let zeros = q.zeroPoints.isEmpty ? [Int32](repeating: 0, count: q.scales.count) : q.zeroPoints
        let low: [Float], high: [Float]
        switch q.scheme {
        case .affine, .symmetric:
            low = zip(q.scales, zeros).map { Float($0) * Float(q.qmin - Int($1)) }
            high = zip(q.scales, zeros).map { Float($0) * Float(q.qmax - Int($1)) }
        case .minifloat:
            guard let top = q.elementFormat.maxFinite else { return nil }
            high = q.scales.map { $0 * top }
            low = high.map { -$0 }
        case .binary, .ternary, .powerOfTwo, .codebook:
            return nil
        }
        if q.groupSize > 0 {
            let expand = try groupExpansion(q, like: w)
            return (try Tensor(expand.map { low[$0] }, shape: w.shape), try Tensor(expand.map { high[$0] }, shape: w.shape))
        }
        var shape = [Int](repeating: 1, count: w.rank)
        if q.axis >= 0, q.axis < w.rank { shape[q.axis] = q.scales.count }
        return (try Tensor(low, shape: shape), try Tensor(high, shape: shape))
    }

    /// For each element of `w` (row-major), the index of its group's scale in `q.scales`.
    static func groupExpansion(_ q: QuantParams, like w: Tensor) throws -> [Int] {
        let rows = w.shape.first ?? 1
        let row = rows > 0 ? w.count / rows : 0
        let perRow = (row + q.groupSize - 1) / q.groupSize
        guard w.rank >= 1, rows * perRow == q.scales.count else {
            throw QuantError("group parameters: \(q.scales.count) scales for groups of \(q.groupSize) do not fit a weight of shape \(w.shape)")
        }
        var index: [Int] = []
        index.reserveCapacity(w.count)
        for r in 0..<rows {
            for i in 0..<row { index.append(r * perRow + i / q.groupSize) }
        }
        return index
    }

    // MARK: Activations

    /// Fake quantization with fixed parameters (static activations). 8-bit affine parameters
    /// go through libtorch's quint8 quantize/dequantize, the same rounding the int8 engines use.
    static func fakeQuantize(_ x: Tensor, _ q: QuantParams) throws -> Tensor {
        let scale = Double(q.scales.first ?? 1), zero = Int(q.zeroPoints.first ?? 0)
        if q.qmin == 0, q.qmax == 255 {
            return try x.quantized(scale: scale, zeroPoint: zero, dtype: .quint8).dequantized()
        }
        return try (((x / scale).rounded() + Double(zero)).clamped(Double(q.qmin), Double(q.qmax)) - Double(zero)) * scale
    }

    /// Calibration: runs up to `batches` training batches and returns, per layer name, the first
    /// `valueLimit` values of the inputs and of the outputs of each quantizable layer (in batch
    /// order, concatenated, flattened). Values past the limit are never kept, and batches stop
    /// once every layer has its share, so memory is bounded by the limit, not by the images'
    /// size (a 96×96 segmenter kept 12 GB of activations to use 2^20 values of each).
    static func calibrate(_ model: Model, layers: [String], data: ImageDataset, batches: Int, batchSize: Int,
                          valueLimit: Int = Int.max) throws -> (inputs: [String: Tensor], outputs: [String: Tensor])
    {
        final class Collector {
            var parts: [String: [Tensor]] = [:]
            var counts: [String: Int] = [:]
            let limit: Int
            init(limit: Int) { self.limit = limit }
            func keep(_ key: String, _ x: Tensor) throws {
                let have = counts[key, default: 0]
                guard have < limit else { return }
                let flat = try x.flattened(from: 0)
                let part = flat.count > limit - have ? try flat.narrowed(0, start: 0, length: limit - have) : flat
                parts[key, default: []].append(part)
                counts[key] = have + part.count
            }
            func full(_ keys: [String]) -> Bool { keys.allSatisfy { counts[$0, default: 0] >= limit } }
        }
        let collector = Collector(limit: max(1, valueLimit))
        let context = ForwardContext(training: false)
        for name in layers {
            context.inputTransforms[name] = { x in try collector.keep("in:" + name, x); return x }
            context.outputTransforms[name] = { y in try collector.keep("out:" + name, y); return y }
        }
        let keys = layers.flatMap { ["in:" + $0, "out:" + $0] }
        let count = Swift.min(data.count, batches * batchSize)
        let plan = BatchPlan(count: count, batchSize: batchSize, shuffle: false, seed: 0, epoch: 0)
        try withNoGrad {
            for indices in plan where !collector.full(keys) {
                _ = try model.forward(try data.batch(indices[...]).images, context)
            }
        }
        func join(_ prefix: String) throws -> [String: Tensor] {
            var joined: [String: Tensor] = [:]
            for name in layers {
                if let parts = collector.parts[prefix + name] { joined[name] = try Tensor.cat(parts, dim: 0) }
            }
            return joined
        }
        return (try join("in:"), try join("out:"))
    }
}
