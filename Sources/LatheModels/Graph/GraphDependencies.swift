/// The channel dependencies of a graph model, derived from its dataflow: which layers' output
/// channels must be pruned together (residual adds tie every producer feeding them), which
/// layers are indexed by the same channels (batch norm, depthwise conv), which layers read them
/// (and how many inputs each channel owns after a flatten), and which constructs keep a set of
/// channels from being pruned at all, each named by its node.
public struct GraphDependencies: Sendable, Equatable {
    /// Channel sets that can be pruned, as the zoo declares them by hand.
    public var groups: [ChannelGroup]
    /// Producers whose channels cannot be pruned, with why (naming the node).
    public var blocked: [(producers: [String], reason: String)]
    /// Producers tied together by element-wise nodes (pruned as one group), with the nodes.
    public var couplings: [String]

    public static func == (a: GraphDependencies, b: GraphDependencies) -> Bool {
        a.groups == b.groups && a.couplings == b.couplings
            && a.blocked.map { $0.producers + [$0.reason] } == b.blocked.map { $0.producers + [$0.reason] }
    }
}

extension GraphProgram {
    /// Derives the program's channel dependencies (see `GraphDependencies`).
    public func dependencies() -> GraphDependencies {
        var analysis = ChannelAnalysis()
        var info: [String: ChannelAnalysis.Info] = [:]
        var shapes: [String: [Int]] = [:]
        let inputSpace = analysis.newSpace()
        analysis.block(inputSpace, "they are the model input's channels")
        info[input] = .init(space: inputSpace, axis: 1, perChannel: 1)
        shapes[input] = inputShape
        for node in nodes {
            shapes[node.output] = node.shape
            let ins = node.inputs.map { info[$0] }
            let inShapes = node.inputs.map { shapes[$0] }
            let first = ins.first ?? nil
            var out: ChannelAnalysis.Info?
            switch node.op {
            case let .conv(layer, i, o, _, _, _, g, _):
                if g == 1 {
                    if let first { analysis.consume(first, layer: layer, axisExpected: 1, node: node.name) }
                    out = .init(space: analysis.newSpace(producer: layer), axis: 1, perChannel: 1)
                } else if g == i && g == o {
                    if let first { analysis.couple(first, layer: layer, node: node.name) }
                    out = first
                } else {
                    if let first { analysis.block(first.space, "grouped conv at node '\(node.name)' (\(g) groups) ties them in groups") }
                    let space = analysis.newSpace(producer: layer)
                    analysis.block(space, "grouped conv at node '\(node.name)' (\(g) groups) produces them in groups")
                    out = .init(space: space, axis: 1, perChannel: 1)
                }
            case let .linear(layer, _, _, _):
                let last = node.shape.count - 1
                if let first { analysis.consume(first, layer: layer, axisExpected: last, node: node.name) }
                out = .init(space: analysis.newSpace(producer: layer), axis: last, perChannel: 1)
            case let .batchNorm(layer, _, _):
                if let first { analysis.couple(first, layer: layer, node: node.name) }
                out = first
            case .layerNorm:
                if let first {
                    if first.axis == node.shape.count - 1 {
                        analysis.block(first.space, "layer norm at node '\(node.name)' normalizes over them (removing some changes the others)")
                    }
                }
                out = first
            case .parameter:
                out = nil
            case .relu, .sigmoid, .tanh, .gelu, .identity, .clip, .scalar, .maxPool, .avgPool, .globalAvgPool, .upsample:
                out = first
            case .add, .sub, .mul, .div:
                out = analysis.elementwise(ins, shapes: inShapes, node: node)
            case .matmul:
                for case let i? in ins { analysis.block(i.space, "matmul of two activations at node '\(node.name)' mixes them") }
                out = nil
            case let .flatten(axis):
                out = analysis.flatten(first, axis: axis, inShape: inShapes.first ?? nil, node: node.name)
            case .reshape:
                out = analysis.reshape(first, inShape: inShapes.first ?? nil, outShape: node.shape, node: node.name)
            case let .transpose(permutation):
                if let first {
                    if let axis = permutation.firstIndex(of: first.axis), first.perChannel == 1 {
                        out = .init(space: first.space, axis: axis, perChannel: 1)
                    } else {
                        analysis.block(first.space, "transpose at node '\(node.name)' rearranges them")
                    }
                }
            case let .concat(axis):
                out = analysis.concat(ins, axis: axis, rank: node.shape.count, node: node.name)
            case let .softmax(axis):
                if let first, first.axis == (axis < 0 ? axis + node.shape.count : axis) {
                    analysis.block(first.space, "softmax at node '\(node.name)' normalizes over them")
                }
                out = first
            case let .select(axis, _):
                out = analysis.removeAxis(first, axis: axis, rank: (inShapes.first ?? nil)?.count ?? 0, node: node.name)
            case let .squeeze(axes):
                out = first
                let rank = (inShapes.first ?? nil)?.count ?? 0
                for axis in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted(by: >) {
                    out = analysis.removeAxis(out, axis: axis, rank: rank, node: node.name)
                }
            case let .slice(axis, _, _):
                if let first, first.axis == (axis < 0 ? axis + node.shape.count : axis) {
                    analysis.block(first.space, "slice at node '\(node.name)' drops some of them")
                }
                out = first
            case let .unsqueeze(axes):
                if let first {
                    var axis = first.axis
                    for a in axes.sorted() where a <= axis { axis += 1 }
                    out = .init(space: first.space, axis: axis, perChannel: first.perChannel)
                }
            case .expand:
                out = first
            }
            if let out { info[node.output] = out }
        }
        if let out = info[output] { analysis.block(out.space, "they reach the graph output '\(output)'") }
        return analysis.result()
    }
}

/// Union-find over channel spaces (the channel index sets that values are indexed by).
struct ChannelAnalysis {
    /// Which dimension of a value indexes a space's channels, and how many consecutive entries
    /// of that dimension each channel owns (H·W after flattening a feature map).
    struct Info {
        var space: Int
        var axis: Int
        var perChannel: Int
    }

    private var parent: [Int] = []
    private var producers: [[String]] = []
    private var coupled: [[String]] = []
    private var consumers: [[ChannelGroup.Consumer]] = []
    private var reasons: [[String]] = []
    private var links: [[String]] = []

    mutating func newSpace(producer: String? = nil) -> Int {
        parent.append(parent.count)
        producers.append(producer.map { [$0] } ?? [])
        coupled.append([])
        consumers.append([])
        reasons.append([])
        links.append([])
        return parent.count - 1
    }

    mutating func find(_ s: Int) -> Int {
        var s = s
        while parent[s] != s {
            parent[s] = parent[parent[s]]
            s = parent[s]
        }
        return s
    }

    mutating func union(_ a: Int, _ b: Int, node: String) {
        let ra = find(a), rb = find(b)
        guard ra != rb else { return }
        let (keep, gone) = ra < rb ? (ra, rb) : (rb, ra)
        parent[gone] = keep
        let names = (producers[keep] + producers[gone]).joined(separator: ", ")
        links[keep] += links[gone] + ["node '\(node)' adds the outputs of \(names.isEmpty ? "the model input" : names): pruned together"]
        producers[keep] += producers[gone]
        coupled[keep] += coupled[gone]
        consumers[keep] += consumers[gone]
        reasons[keep] += reasons[gone]
    }

    mutating func block(_ s: Int, _ reason: String) {
        let r = find(s)
        if !reasons[r].contains(reason) { reasons[r].append(reason) }
    }

    mutating func consume(_ info: Info, layer: String, axisExpected: Int, node: String) {
        guard info.axis == axisExpected else {
            return block(info.space, "node '\(node)' reads them along dimension \(axisExpected), not \(info.axis)")
        }
        let r = find(info.space)
        consumers[r].append(.init(layer: layer, inputsPerChannel: info.perChannel))
    }

    mutating func couple(_ info: Info, layer: String, node: String) {
        guard info.axis == 1, info.perChannel == 1 else {
            return block(info.space, "node '\(node)' is indexed by them along another dimension")
        }
        let r = find(info.space)
        coupled[r].append(layer)
    }

    /// Binary element-wise nodes: two channel-indexed operands are tied; a constant or free
    /// parameter broadcast along the channels is harmless, one indexed by them blocks.
    mutating func elementwise(_ ins: [Info?], shapes: [[Int]?], node: GraphNode) -> Info? {
        let indexed = ins.compactMap { $0 }
        guard let first = indexed.first else { return nil }
        for other in indexed.dropFirst() {
            if other.axis == first.axis, other.perChannel == first.perChannel {
                union(first.space, other.space, node: node.name)
            } else {
                block(first.space, "node '\(node.name)' combines them with channels along another dimension")
                block(other.space, "node '\(node.name)' combines them with channels along another dimension")
            }
        }
        for (i, info) in ins.enumerated() where info == nil {
            let shape = shapes[i] ?? []
            // Right-aligned broadcasting: the operand's size along the channel axis.
            let offset = node.shape.count - shape.count
            let k = first.axis - offset
            if k >= 0, k < shape.count, shape[k] != 1 {
                block(first.space, "node '\(node.name)' (\(node.op.kind)) combines them with a tensor indexed by the same channels")
            }
        }
        return first
    }

    mutating func flatten(_ info: Info?, axis: Int, inShape: [Int]?, node: String) -> Info? {
        guard let info else { return nil }
        guard info.axis == axis, let shape = inShape, axis == 1 else {
            block(info.space, "flatten at node '\(node)' merges them with other dimensions")
            return nil
        }
        let rest = shape.dropFirst(axis + 1).reduce(1, *)
        return .init(space: info.space, axis: 1, perChannel: info.perChannel * rest)
    }

    /// A reshape keeps the channels when it is a flatten from dimension 1 or only drops or adds
    /// trailing singleton dimensions.
    mutating func reshape(_ info: Info?, inShape: [Int]?, outShape: [Int], node: String) -> Info? {
        guard let info else { return nil }
        if let inShape, info.axis == 1, inShape.count >= 2, outShape.count == 2, outShape[0] == -1, inShape[0] == -1,
           outShape[1] == inShape.dropFirst().reduce(1, *) {
            return flatten(info, axis: 1, inShape: inShape, node: node)
        }
        if let inShape, Array(inShape.prefix(info.axis + 1)) == Array(outShape.prefix(info.axis + 1)),
           inShape.dropFirst(info.axis + 1).allSatisfy({ $0 == 1 }), outShape.dropFirst(info.axis + 1).allSatisfy({ $0 == 1 }) {
            return info
        }
        block(info.space, "reshape at node '\(node)' rearranges them")
        return nil
    }

    mutating func concat(_ ins: [Info?], axis: Int, rank: Int, node: String) -> Info? {
        let axis = axis < 0 ? axis + rank : axis
        let indexed = ins.compactMap { $0 }
        guard let first = indexed.first else { return nil }
        if indexed.contains(where: { $0.axis == axis }) {
            for i in indexed { block(i.space, "concat at node '\(node)' joins them with other channels (Lathe does not prune across a concat)") }
            return nil
        }
        if indexed.count < ins.count {
            block(first.space, "concat at node '\(node)' joins them with a tensor indexed by the same channels")
        }
        for other in indexed.dropFirst() { union(first.space, other.space, node: node) }
        return first
    }

    mutating func removeAxis(_ info: Info?, axis: Int, rank: Int, node: String) -> Info? {
        guard let info else { return nil }
        let axis = axis < 0 ? axis + rank : axis
        if axis == info.axis {
            block(info.space, "node '\(node)' selects one of them")
            return nil
        }
        return .init(space: info.space, axis: axis < info.axis ? info.axis - 1 : info.axis, perChannel: info.perChannel)
    }

    mutating func result() -> GraphDependencies {
        var groups: [ChannelGroup] = [], blocked: [(producers: [String], reason: String)] = [], couplings: [String] = []
        for s in parent.indices where find(s) == s {
            couplings += links[s]
            guard let producer = producers[s].first else { continue }
            if !reasons[s].isEmpty {
                let shown = reasons[s].prefix(3).joined(separator: "; ")
                blocked.append((producers[s], reasons[s].count > 3 ? "\(shown); and \(reasons[s].count - 3) more" : shown))
                continue
            }
            groups.append(ChannelGroup(producer: producer, coupled: Array(producers[s].dropFirst()) + coupled[s], consumers: consumers[s]))
        }
        return GraphDependencies(groups: groups, blocked: blocked, couplings: couplings)
    }
}
