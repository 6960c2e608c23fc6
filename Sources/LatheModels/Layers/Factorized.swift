import LatheTensor

/// A conv or linear layer replaced by a low-rank pair (a factorizer's W ≈ A·B): `<name>.0`
/// computes the rank-r code (B: a linear [in → r], or a k×k conv with r filters and the
/// original stride and padding), `<name>.1` maps it back (A: a linear [r → out] or a 1×1
/// conv) with the original bias. Emits its output as the composite `name`, so taps on the
/// original layer still work. An explicit input scale of the original moves to `<name>.0`.
public final class Factorized: Layer {
    public let name: String
    public let first: any InputScalable
    public let second: any InputScalable
    /// r
    public let rank: Int

    /// The pair for `layer` (a `Linear`, or an ungrouped `Conv2d`) at `rank`, with placeholder
    /// tensors; `Model.factorize` fills them.
    init(replacing layer: any Layer, rank: Int) throws {
        name = layer.name
        self.rank = rank
        switch layer {
        case let linear as Linear:
            first = try Linear("\(name).0", linear.inFeatures, rank, bias: false, initialization: .placeholder)
            second = try Linear("\(name).1", rank, linear.outFeatures, bias: linear.bias != nil, initialization: .placeholder)
        case let conv as Conv2d:
            guard conv.groups == 1 else {
                throw ModelError.invalidOption("\(name): a grouped conv (\(conv.groups) groups) cannot be factorized")
            }
            first = try Conv2d("\(name).0", conv.inChannels, rank, kernel: conv.kernel, stride: conv.stride, padding: conv.padding,
                               groups: 1, bias: false, initialization: .placeholder)
            second = try Conv2d("\(name).1", rank, conv.outChannels, kernel: 1, stride: 1, padding: 0, groups: 1,
                                bias: conv.bias != nil, initialization: .placeholder)
        default:
            throw ModelError.invalidOption("\(name) is a \(type(of: layer)); only conv and linear layers can be factorized")
        }
    }

    public var children: [any Layer] { [first, second] }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let y = try second.forward(first.forward(x, context), context)
        context.emitComposite(name, y)
        return y
    }
}

extension Model {
    /// Replaces the conv or linear layer `name` (a direct child of a `Sequential`) by the pair
    /// A·B: `a` `[out, r]`, `b` `[r, D]` with D the weight's elements per output row. The bias
    /// and an explicit input scale carry over; channel groups that name the layer are dropped
    /// (its channels can no longer be pruned as one unit). Recorded in `factorized`.
    public func factorize(_ name: String, a: Tensor, b: Tensor) throws {
        guard let parent = parent(of: name) else {
            throw ModelError.invalidOption("\(name): only a conv or linear layer inside a sequential block or an imported graph can be factorized (\(architecture) nests it elsewhere)")
        }
        let layer: any Layer
        switch parent {
        case let .sequence(sequence, index): layer = sequence.layers[index]
        case let .graph(graph):
            guard let child = graph.layer(named: name) else { throw ModelError.unknownTensor(name) }
            layer = child
        }
        guard let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else {
            throw ModelError.invalidOption("\(name) has no weight to factorize")
        }
        let out = weight.shape[0], d = weight.shape.dropFirst().reduce(1, *), rank = a.shape.last ?? 0
        guard a.shape == [out, rank], b.shape == [rank, d], rank >= 1 else {
            throw ModelError.shapeMismatch("\(name) factors", expected: [out, rank, d], found: a.shape + b.shape)
        }
        let pair = try Factorized(replacing: layer, rank: rank)
        let firstShape = [rank] + weight.shape.dropFirst(), secondShape = pair.second is Conv2d ? [out, rank, 1, 1] : [out, rank]
        try withNoGrad {
            try pair.first.replace("weight", with: try b.detached().reshaped(firstShape).contiguous().requiringGrad())
            try pair.second.replace("weight", with: try a.detached().reshaped(secondShape).contiguous().requiringGrad())
            if let bias = layer.ownParameters.first(where: { $0.0 == "bias" })?.1 {
                try pair.second.replace("bias", with: try bias.detached().clone().requiringGrad())
            }
            if let scale = (layer as? any InputScalable)?.inputScale { try pair.first.replace("input_scale", with: try scale.detached().clone()) }
        }
        switch parent {
        case let .sequence(sequence, index): sequence.replaceChild(at: index, with: pair)
        case let .graph(graph): try graph.replaceLayer(pair)
        }
        factorized[name] = rank
        channelGroups.removeAll { group in
            ([group.producer] + group.coupled + group.consumers.map(\.layer)).contains(name)
        }
    }

    /// Gives this (freshly built) model the factorized structure of `ranks` (layer → rank),
    /// with placeholder factors that a `load` then fills: how checkpoints and copies of a
    /// factorized model are rebuilt.
    public func restructure(factorized ranks: [String: Int]) throws {
        for (name, rank) in ranks.sorted(by: { $0.key < $1.key }) {
            guard let weight = layer(named: name)?.ownParameters.first(where: { $0.0 == "weight" })?.1 else {
                throw ModelError.invalidOption("factorized layer '\(name)' is not a conv or linear layer of \(architecture)")
            }
            let out = weight.shape[0], d = weight.shape.dropFirst().reduce(1, *)
            guard rank >= 1, rank <= Swift.min(out, d) else {
                throw ModelError.invalidOption("factorized layer '\(name)': rank \(rank) outside 1...\(Swift.min(out, d))")
            }
            try factorize(name, a: try Tensor.zeros([]).expanded([out, rank]), b: try Tensor.zeros([]).expanded([rank, d]))
        }
    }

    /// Conv and linear layers `factorize` accepts: direct children of a sequential block or of
    /// an imported graph, convs ungrouped.
    public var factorizableLayers: [String] {
        layers.filter { layer in
            guard self.parent(of: layer.name) != nil else { return false }
            if let conv = layer as? Conv2d { return conv.groups == 1 }
            return layer is Linear
        }.map(\.name)
    }

    /// Where a conv or linear layer sits: a sequential block (with its index) or a graph.
    enum Parent {
        case sequence(Sequential, Int)
        case graph(GraphLayer)
    }

    func parent(of name: String) -> Parent? {
        for layer in layers {
            if let sequence = layer as? Sequential,
               let index = sequence.layers.firstIndex(where: { $0.name == name && ($0 is Linear || $0 is Conv2d) }) {
                return .sequence(sequence, index)
            }
            if let graph = layer as? GraphLayer, let child = graph.layer(named: name), child is Linear || child is Conv2d {
                return .graph(graph)
            }
        }
        return nil
    }
}
