import LatheTensor

/// A free trainable tensor of a graph model (a class token, a position embedding): its
/// forward pass returns the tensor, whatever its input.
public final class ParameterLayer: Layer {
    public let name: String
    /// The tensor.
    public private(set) var value: Tensor

    init(_ name: String, shape: [Int], initialization: Initialization) throws {
        self.name = name
        value = try initialization.constant(shape, 0)
    }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try context.emit(self, kind: "parameter", input: value, output: value)
    }

    public var ownParameters: [(String, Tensor)] { [("value", value)] }

    public func replace(_ shortName: String, with tensor: Tensor) throws {
        guard shortName == "value" else { throw ModelError.unknownTensor("\(name).\(shortName)") }
        value = tensor
    }
}

/// Runs a `GraphProgram`: its parameterised nodes are child layers (so that taps, weight
/// transforms, quantization and pruning see them as they see the zoo's), the other nodes are
/// tensor operations evaluated in order.
public final class GraphLayer: Layer {
    public let name: String
    /// The program executed.
    public let program: GraphProgram
    private var layers: [String: any Layer]
    private var order: [String]
    /// For each node, the values whose last reader it is (released after it runs).
    private let releases: [[String]]

    init(_ name: String, program: GraphProgram, initialization: Initialization) throws {
        try program.validate()
        self.name = name
        self.program = program
        var layers: [String: any Layer] = [:]
        var order: [String] = []
        for node in program.nodes {
            guard let layerName = node.op.layer else { continue }
            let layer: any Layer
            switch node.op {
            case let .conv(_, i, o, k, s, p, g, bias):
                layer = try Conv2d(layerName, i, o, kernel: k, stride: s, padding: p, groups: g, bias: bias, initialization: initialization)
            case let .linear(_, i, o, bias):
                layer = try Linear(layerName, i, o, bias: bias, initialization: initialization)
            case let .batchNorm(_, c, eps):
                layer = try BatchNorm2d(layerName, c, eps: eps)
            case let .layerNorm(_, f, eps):
                layer = try LayerNorm(layerName, f, eps: eps, initialization: initialization)
            case let .parameter(_, shape):
                layer = try ParameterLayer(layerName, shape: shape, initialization: initialization)
            default:
                continue
            }
            layers[layerName] = layer
            order.append(layerName)
        }
        self.layers = layers
        self.order = order
        var lastReader: [String: Int] = [:]
        for (i, node) in program.nodes.enumerated() { for value in node.inputs { lastReader[value] = i } }
        var releases = Array(repeating: [String](), count: program.nodes.count)
        for (value, i) in lastReader where value != program.output { releases[i].append(value) }
        self.releases = releases
    }

    public var children: [any Layer] { order.compactMap { layers[$0] } }

    /// Puts `layer` in place of the child of the same name (low-rank factorization).
    func replaceLayer(_ layer: any Layer) throws {
        guard layers[layer.name] != nil else { throw ModelError.unknownTensor(layer.name) }
        layers[layer.name] = layer
    }

    /// The child layer of this name (a factorized pair after `factorize`).
    public func layer(named name: String) -> (any Layer)? { layers[name] }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let batch = x.shape.first ?? 1
        func concrete(_ shape: [Int]) -> [Int] { shape.map { $0 == -1 ? batch : $0 } }
        var values: [String: Tensor] = [program.input: x]
        for (index, node) in program.nodes.enumerated() {
            let a = try node.inputs.map { value -> Tensor in
                guard let t = values[value] else { throw ModelError.invalidOption("graph node '\(node.name)' reads '\(value)', which is not computed") }
                return t
            }
            let y: Tensor
            switch node.op {
            case .conv, .linear, .batchNorm, .layerNorm, .parameter:
                guard let layerName = node.op.layer, let layer = layers[layerName] else {
                    throw ModelError.invalidOption("graph node '\(node.name)' names a layer the model does not have")
                }
                y = try layer.forward(a.first ?? x, context)
            case .relu: y = try a[0].relu()
            case .sigmoid: y = try a[0].sigmoid()
            case .tanh: y = try a[0].tanh()
            case .gelu: y = try a[0].gelu()
            case .identity: y = a[0]
            case let .clip(low, high): y = low == 0 && high == 6 ? try a[0].relu6() : try a[0].clamped(low, high)
            case .add: y = try a[0] + a[1]
            case .sub: y = try a[0] - a[1]
            case .mul: y = try a[0] * a[1]
            case .div: y = try a[0] / a[1]
            case let .scalar(op, c):
                switch op {
                case .add: y = try a[0] + c
                case .sub: y = try a[0] - c
                case .rsub: y = try c - a[0]
                case .mul: y = try a[0] * c
                case .div: y = try a[0] / c
                case .rdiv: y = try c / a[0]
                case .pow: y = try a[0].pow(c)
                }
            case .matmul: y = try a[0].matmul(a[1])
            case let .maxPool(k, s, p): y = try a[0].maxPool2d(kernel: k, stride: s, padding: p)
            case let .avgPool(k, s, p): y = try a[0].avgPool2d(kernel: k, stride: s, padding: p)
            case let .upsample(scale): y = try a[0].upsampledNearest(scale)
            case .globalAvgPool: y = try a[0].adaptiveAvgPool2d(1, 1)
            case let .flatten(axis):
                let lead = a[0].shape.prefix(axis).reduce(1, *)
                y = try a[0].reshaped([lead, -1])
            case let .reshape(shape): y = try a[0].reshaped(concrete(shape))
            case let .expand(shape): y = try a[0].expanded(concrete(shape))
            case let .transpose(permutation): y = try a[0].permuted(permutation)
            case let .concat(axis): y = try Tensor.cat(a, dim: axis)
            case let .softmax(axis): y = try a[0].softmax(axis)
            case let .select(axis, i): y = try a[0].narrowed(axis, start: i, length: 1).squeezed(axis)
            case let .slice(axis, start, length): y = try a[0].narrowed(axis, start: start, length: length)
            case let .unsqueeze(axes):
                var t = a[0]
                for axis in axes.sorted() { t = try t.unsqueezed(axis) }
                y = t
            case let .squeeze(axes):
                var t = a[0]
                for axis in axes.sorted(by: >) { t = try t.squeezed(axis) }
                y = t
            }
            values[node.output] = y
            if node.op.layer == nil { context.emitComposite(node.name, y) }
            for value in releases[index] { values[value] = nil }
        }
        guard let out = values[program.output] else { throw ModelError.invalidOption("graph output '\(program.output)' was not computed") }
        context.emitComposite(name, out)
        return out
    }
}
