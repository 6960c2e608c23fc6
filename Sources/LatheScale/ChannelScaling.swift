import LatheModels
import LathePlugins
import LatheTensor

/// Where the factor 1/s of a channel scaling went.
public enum ScaleTarget: Sendable, Equatable, CustomStringConvertible {
    /// Into a LayerNorm's or batch norm's affine parameters (γ and β divided by s).
    case norm(String)
    /// Into the output rows (weight rows and bias) of a linear or conv layer; `offset` is the
    /// first row (attention's V rows start at 2·dim of the fused `qkv`).
    case rows(String, offset: Int)
    /// An explicit per-channel multiplication before the layer (`input_scale`); `reason` says
    /// why it could not be folded.
    case explicit(reason: String)

    public var description: String {
        switch self {
        case let .norm(name): "folded into \(name)"
        case let .rows(name, offset): offset == 0 ? "folded into \(name)'s output rows" : "folded into \(name)'s rows from \(offset)"
        case let .explicit(reason): "explicit input scale (\(reason))"
        }
    }

    /// Whether 1/s was folded into an existing op.
    public var isFolded: Bool { if case .explicit = self { false } else { true } }
}

/// Per-input-channel scaling of a conv or linear layer that leaves the model's function unchanged
/// (SmoothQuant, Xiao et al. 2023; AWQ, Lin et al. 2024): W′ = W·diag(s) and the layer's input
/// divided by s. The 1/s is folded into the op that produces the input when the graph allows —
/// a LayerNorm or batch norm (γ, β ← γ/s, β/s), a linear or conv layer's output rows, or the V
/// rows of an attention's `qkv` for its output projection — through ops that commute with a
/// positive per-channel factor (ReLU, max and average pooling, class-token selection, a flatten
/// of a 1×1 map). Otherwise the layer keeps an explicit `input_scale`.
public enum ChannelScaling {
    /// Where the 1/s of `layer`'s input channels would go, without changing anything.
    public static func target(for layer: String, in model: Model) throws -> ScaleTarget {
        guard let consumer = model.layer(named: layer) as? any InputScalable else {
            throw ScaleError.unknownLayer(key: "layer", layer: layer, candidates: candidates(model))
        }
        let parents = parentMap(model.root)
        var current: any Layer = consumer
        while let (parent, index) = parents[current.name] {
            switch parent {
            case let sequence as Sequential:
                var i = index - 1
                while i >= 0 {
                    let previous = sequence.layers[i]
                    if let op = previous as? Stateless {
                        guard commutes(op, before: i > 0 ? sequence.layers[i - 1] : nil) else {
                            let why = op.operation == .flatten ? "flattens channels and positions together" : "does not commute with a channel scale"
                            return .explicit(reason: "\(op.name) (\(op.operation)) \(why)")
                        }
                        i -= 1
                        continue
                    }
                    return producer(previous, channels: consumer.inputChannelCount)
                }
                current = sequence
            case let block as TransformerBlock:
                if current === block.attn { return producer(block.norm1, channels: consumer.inputChannelCount) }
                if current === block.mlp { return producer(block.norm2, channels: consumer.inputChannelCount) }
                return .explicit(reason: "the input of \(current.name) is \(block.name)'s residual stream")
            case let attention as MultiHeadAttention:
                if current === attention.proj {
                    let dim = attention.proj.inFeatures
                    guard attention.qkv.outFeatures == 3 * dim else {
                        return .explicit(reason: "\(attention.qkv.name) has \(attention.qkv.outFeatures) rows, not 3 × \(dim)")
                    }
                    return .rows(attention.qkv.name, offset: 2 * dim)
                }
                guard current === attention.qkv else {
                    return .explicit(reason: "\(current.name) inside \(attention.name)")
                }
                current = attention
            default:
                return .explicit(reason: "the input of \(current.name) comes from \(parent.name) (\(type(of: parent))), shared or not per-channel")
            }
        }
        return .explicit(reason: "its input is the model's input")
    }

    /// Scales `layer`'s input channels by `scales` (`[inputChannels]`, every value finite and
    /// > 0): its weight columns are multiplied and the input divided, folded where
    /// `target(for:in:)` says. Returns where 1/s went.
    @discardableResult
    public static func apply(_ scales: Tensor, to layer: String, in model: Model, fold: Bool = true) throws -> ScaleTarget {
        guard let consumer = model.layer(named: layer) as? any InputScalable else {
            throw ScaleError.unknownLayer(key: "layer", layer: layer, candidates: candidates(model))
        }
        let channels = consumer.inputChannelCount
        let s = try scales.detached().converted(to: .float32).contiguous().reshaped([scales.count])
        guard s.count == channels else {
            throw ScaleError.invalidScales(layer: layer, "\(s.count) scales for \(channels) input channels")
        }
        let values = try s.scalars(as: Float.self)
        if let bad = values.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
            throw ScaleError.invalidScales(layer: layer, "scale \(values[bad]) of channel \(bad) is not finite and > 0")
        }
        let target = fold ? try Self.target(for: layer, in: model) : .explicit(reason: "folding off")
        let inverse = try s.reciprocal()
        try withNoGrad {
            try scaleColumns(of: consumer, by: s)
            switch target {
            case let .norm(name), let .rows(name, _):
                guard let producer = model.layer(named: name) else { throw ScaleError.unknownLayer(key: "fold", layer: name, candidates: []) }
                let offset = if case let .rows(_, o) = target { o } else { 0 }
                for short in ["weight", "bias"] {
                    guard let tensor = producer.ownParameters.first(where: { $0.0 == short })?.1 else { continue }
                    try producer.replace(short, with: try divideRows(tensor, by: inverse, offset: offset).requiringGrad(tensor.requiresGrad))
                }
            case .explicit:
                let current = try consumer.inputScale?.detached() ?? Tensor.ones([channels])
                try consumer.replace("input_scale", with: try (current * inverse).contiguous())
            }
        }
        return target
    }

    // MARK: Graph

    private static func parentMap(_ root: any Layer) -> [String: (any Layer, Int)] {
        var map: [String: (any Layer, Int)] = [:]
        func visit(_ layer: any Layer) {
            for (index, child) in layer.children.enumerated() {
                map[child.name] = (layer, index)
                visit(child)
            }
        }
        visit(root)
        return map
    }

    /// Whether a positive per-channel factor passes through `op` unchanged in meaning:
    /// relu(x/s) = relu(x)/s for s > 0, and likewise for pooling and token selection. A flatten
    /// keeps channels only after a global average pool (a 1×1 map).
    private static func commutes(_ op: Stateless, before previous: (any Layer)?) -> Bool {
        switch op.operation {
        case .relu, .maxPool, .avgPool, .globalAvgPool, .classToken: true
        case .flatten: (previous as? Stateless)?.operation == .globalAvgPool
        case .relu6, .gelu: false
        }
    }

    private static func producer(_ layer: any Layer, channels: Int) -> ScaleTarget {
        let produced: Int?
        switch layer {
        case let norm as LayerNorm: produced = norm.features
        case let norm as BatchNorm2d: produced = norm.channels
        case let linear as Linear: produced = linear.outFeatures
        case let conv as Conv2d: produced = conv.outChannels
        default:
            return .explicit(reason: "its input comes from \(layer.name) (\(type(of: layer))), which has no per-channel parameters to fold into")
        }
        guard produced == channels else {
            return .explicit(reason: "\(layer.name) produces \(produced ?? 0) channels, the layer takes \(channels)")
        }
        return layer is LayerNorm || layer is BatchNorm2d ? .norm(layer.name) : .rows(layer.name, offset: 0)
    }

    static func candidates(_ model: Model) -> [String] {
        model.layers.filter { $0 is any InputScalable }.map(\.name)
    }

    // MARK: Tensors

    /// W ← W·diag(s) on the input channels (`columnScaled`).
    private static func scaleColumns(of layer: any InputScalable, by s: Tensor) throws {
        guard let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else { return }
        let perGroup = weight.rank >= 2 ? weight.shape[1] : 1
        let grouped = try s.reshaped([layer.inputChannelCount / Swift.max(perGroup, 1), perGroup])
        try layer.replace("weight", with: try columnScaled(try weight.detached(), grouped).requiringGrad(weight.requiresGrad))
    }

    /// `w` with its input channels multiplied by `s` (`[G, C]`): dimension 1 of a linear weight;
    /// for a conv `[out, C, k, k]` with G groups, output o of group g = o / (out/G) meets channel
    /// g·C + c.
    public static func columnScaled(_ w: Tensor, _ s: Tensor) throws -> Tensor {
        let shape = w.shape
        let groups = s.shape[0], perGroup = s.shape[1]
        let rest = shape.count > 2 ? Array(shape[2...]) : []
        let grouped = try w.reshaped([groups, shape[0] / groups, perGroup] + rest)
        return try (grouped * s.reshaped([groups, 1, perGroup] + rest.map { _ in 1 })).reshaped(shape).contiguous()
    }

    /// Rows `offset ..< offset + inverse.count` of `tensor` (dimension 0) multiplied by `inverse`.
    private static func divideRows(_ tensor: Tensor, by inverse: Tensor, offset: Int) throws -> Tensor {
        let t = try tensor.detached()
        let rows = t.shape[0], n = inverse.count
        var parts: [Tensor] = []
        if offset > 0 { parts.append(try Tensor.ones([offset])) }
        parts.append(inverse)
        if rows - n - offset > 0 { parts.append(try Tensor.ones([rows - n - offset])) }
        let factor = try Tensor.cat(parts, dim: 0).reshaped([rows] + t.shape.dropFirst().map { _ in 1 })
        return try (t * factor).contiguous()
    }
}

extension InputStatistics {
    /// The statistics of the input divided by channel scales `s` (`[G, C]`; each channel's K
    /// unfolded features share its scale): abs-max and abs-mean / s, mean square / s², Gram
    /// S⁻¹·H·S⁻¹. What a layer scaled by s sees.
    public func dividing(channelsBy s: Tensor) throws -> InputStatistics {
        let groups = s.shape[0], channels = s.shape[1]
        let features = [absMax, meanSquare, absMean, gram].compactMap { $0?.shape[1] }.first ?? channels
        let k = features / Swift.max(channels, 1)
        let f = try s.reshaped([groups, channels, 1]).expanded([groups, channels, k]).contiguous().reshaped([groups, features])
        return InputStatistics(
            absMax: try absMax.map { try ($0 / f).contiguous() }, meanSquare: try meanSquare.map { try ($0 / (f * f)).contiguous() },
            gram: try gram.map { try ($0 / (f.reshaped([groups, features, 1]) * f.reshaped([groups, 1, features]))).contiguous() },
            absMean: try absMean.map { try ($0 / f).contiguous() }, rows: rows)
    }
}
