import Foundation

/// A model given as a dataflow graph rather than built by the zoo: what `lathe import` makes
/// of an ONNX file. Its nodes are in execution (topological) order; each computes one value
/// from earlier values. Nodes with parameters name a layer (`Conv2d`, `Linear`, `BatchNorm2d`,
/// `LayerNorm`, or a free trainable tensor), and those layers are the model's layers: they
/// train, quantize, prune and checkpoint like the zoo's.
///
/// The program holds no weights; a checkpoint stores it as JSON in its metadata beside the
/// tensors, so that the model can be rebuilt without the ONNX file.
///
/// Shapes: every value's shape is known at import time, with `-1` for the batch dimension
/// (always the leading dimension of activations; parameter values have no batch dimension).
public struct GraphProgram: Sendable, Codable, Equatable {
    /// Format version of this JSON.
    public var version: Int = 1
    /// The graph's name (the ONNX graph name).
    public var name: String
    /// The value holding the input batch `[N, C, H, W]`.
    public var input: String
    /// The input's shape, `[-1, C, H, W]`.
    public var inputShape: [Int]
    /// The value holding the logits `[N, classes]`.
    public var output: String
    /// Nodes in execution order.
    public var nodes: [GraphNode]

    /// A program computing `output` from `input` through `nodes`.
    public init(name: String, input: String, inputShape: [Int], output: String, nodes: [GraphNode]) {
        self.name = name
        self.input = input
        self.inputShape = inputShape
        self.output = output
        self.nodes = nodes
    }

    /// The nodes that name a layer, with it.
    public var layerNodes: [(node: GraphNode, layer: String)] {
        nodes.compactMap { node in node.op.layer.map { (node, $0) } }
    }

    /// Checks the program is well formed: every value defined once before it is read, the
    /// output defined, layer names unique and non-empty, operands counted right. Programs come
    /// from checkpoints' metadata, so nothing is assumed.
    public func validate() throws {
        var defined: Set<String> = [input]
        var layers: Set<String> = []
        for node in nodes {
            for value in node.inputs where !defined.contains(value) {
                throw ModelError.invalidOption("graph node '\(node.name)' reads value '\(value)' before anything defines it")
            }
            guard node.op.operandCount.map({ node.inputs.count == $0 }) ?? (1...64).contains(node.inputs.count) else {
                throw ModelError.invalidOption("graph node '\(node.name)' (\(node.op.kind)) has \(node.inputs.count) input(s); expected \(node.op.operandCount.map(String.init) ?? "1 to 64")")
            }
            guard !defined.contains(node.output) else {
                throw ModelError.invalidOption("graph node '\(node.name)' redefines value '\(node.output)'")
            }
            guard node.shape.allSatisfy({ $0 >= -1 && $0 != 0 }) || node.shape.isEmpty else {
                throw ModelError.invalidOption("graph node '\(node.name)' has shape \(node.shape): expected positive sizes (-1 for the batch)")
            }
            defined.insert(node.output)
            if let layer = node.op.layer {
                guard !layer.isEmpty, !layers.contains(layer) else {
                    throw ModelError.invalidOption("graph node '\(node.name)' names layer '\(layer)', which is empty or already used")
                }
                layers.insert(layer)
            }
            try node.op.validate(node: node.name)
        }
        guard defined.contains(output) else {
            throw ModelError.invalidOption("graph output '\(output)' is not computed by any node")
        }
    }
}

/// One node: an operation on earlier values.
public struct GraphNode: Sendable, Codable, Equatable {
    /// The source graph's node name (named in errors and the pre-flight report).
    public var name: String
    /// What it computes.
    public var op: GraphOp
    /// Values it reads, in the operation's order.
    public var inputs: [String]
    /// The value it defines.
    public var output: String
    /// The output's shape, `-1` for the batch dimension.
    public var shape: [Int]

    /// A node computing `output` (of `shape`) from `inputs`.
    public init(name: String, op: GraphOp, inputs: [String], output: String, shape: [Int]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.output = output
        self.shape = shape
    }
}

/// Element-wise operations of a value with a constant number.
public enum ScalarOperation: String, Sendable, Codable, Equatable {
    /// x + c, x − c, c − x, x · c, x / c, c / x, x^c.
    case add, sub, rsub, mul, div, rdiv, pow
}

/// What a graph node computes. Layers are named by `layer`; shapes use `-1` for the batch.
public enum GraphOp: Sendable, Codable, Equatable {
    /// 2-D convolution (square kernel and stride, symmetric padding), a `Conv2d` layer.
    case conv(layer: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool)
    /// y = x Wᵀ + b on the last dimension, a `Linear` layer.
    case linear(layer: String, inFeatures: Int, outFeatures: Int, bias: Bool)
    /// Inference-style batch norm over dimension 1, a `BatchNorm2d` layer.
    case batchNorm(layer: String, channels: Int, eps: Double)
    /// Layer norm over the last dimension, a `LayerNorm` layer.
    case layerNorm(layer: String, features: Int, eps: Double)
    /// A free trainable tensor (class token, position embedding); no inputs.
    case parameter(layer: String, shape: [Int])
    case relu, sigmoid, tanh, identity
    /// The exact (erf) GELU.
    case gelu
    /// min(max(x, low), high).
    case clip(low: Double, high: Double)
    /// Element-wise with broadcasting, two values.
    case add, sub, mul, div
    /// Element-wise with a constant.
    case scalar(ScalarOperation, Double)
    /// Matrix product of two values.
    case matmul
    case maxPool(kernel: Int, stride: Int, padding: Int)
    /// Nearest-neighbour upsampling of the spatial dimensions by an integer factor (ONNX
    /// Resize, mode nearest, with integer scales): every pixel becomes a `scale × scale` block.
    case upsample(scale: Int)
    case avgPool(kernel: Int, stride: Int, padding: Int)
    /// Mean over the spatial dimensions, keeping them as 1×1.
    case globalAvgPool
    /// `[d0, …, d(axis−1), rest]`: ONNX Flatten with the batch kept (axis ≥ 1).
    case flatten(axis: Int)
    /// To `shape` (`-1`: the batch).
    case reshape(shape: [Int])
    /// Broadcast to `shape` (`-1`: the batch).
    case expand(shape: [Int])
    case transpose(permutation: [Int])
    case concat(axis: Int)
    case softmax(axis: Int)
    /// Index `index` of dimension `axis`, which disappears (ONNX Gather with a scalar index).
    case select(axis: Int, index: Int)
    /// `length` entries of dimension `axis` from `start`.
    case slice(axis: Int, start: Int, length: Int)
    case unsqueeze(axes: [Int])
    case squeeze(axes: [Int])

    /// The layer the node owns, if any.
    public var layer: String? {
        switch self {
        case let .conv(layer, _, _, _, _, _, _, _), let .linear(layer, _, _, _), let .batchNorm(layer, _, _),
             let .layerNorm(layer, _, _), let .parameter(layer, _): layer
        default: nil
        }
    }

    /// Values the node reads (nil: any number from 1, for concat).
    public var operandCount: Int? {
        switch self {
        case .parameter: 0
        case .add, .sub, .mul, .div, .matmul: 2
        case .concat: nil
        default: 1
        }
    }

    /// A short name for messages.
    public var kind: String {
        switch self {
        case .conv: "conv"
        case .linear: "linear"
        case .batchNorm: "batchnorm"
        case .layerNorm: "layernorm"
        case .parameter: "parameter"
        case .relu: "relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .identity: "identity"
        case .gelu: "gelu"
        case .clip: "clip"
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .div: "div"
        case let .scalar(op, _): "scalar-\(op.rawValue)"
        case .matmul: "matmul"
        case .maxPool: "maxpool"
        case .upsample: "upsample"
        case .avgPool: "avgpool"
        case .globalAvgPool: "globalavgpool"
        case .flatten: "flatten"
        case .reshape: "reshape"
        case .expand: "expand"
        case .transpose: "transpose"
        case .concat: "concat"
        case .softmax: "softmax"
        case .select: "select"
        case .slice: "slice"
        case .unsqueeze: "unsqueeze"
        case .squeeze: "squeeze"
        }
    }

    /// Range checks of the attributes (a program may come from an edited checkpoint).
    func validate(node: String) throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw ModelError.invalidOption("graph node '\(node)' (\(kind)): \(what)") }
        }
        let limit = 1 << 24
        switch self {
        case let .conv(_, i, o, k, s, p, g, _):
            try check((1...limit).contains(i) && (1...limit).contains(o) && (1...64).contains(k) && (1...64).contains(s)
                      && (0...64).contains(p) && g >= 1 && i % g == 0 && o % g == 0, "channels \(i)→\(o), kernel \(k), stride \(s), padding \(p), groups \(g) out of range")
        case let .linear(_, i, o, _):
            try check((1...limit).contains(i) && (1...limit).contains(o), "features \(i)→\(o) out of range")
        case let .batchNorm(_, c, eps), let .layerNorm(_, c, eps):
            try check((1...limit).contains(c) && eps >= 0 && eps.isFinite, "size \(c) or epsilon \(eps) out of range")
        case let .parameter(_, shape):
            try check(!shape.isEmpty && shape.count <= 8 && shape.allSatisfy { (1...limit).contains($0) }
                      && shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= limit, "shape \(shape) out of range")
        case let .maxPool(k, s, p), let .avgPool(k, s, p):
            try check((1...64).contains(k) && (1...64).contains(s) && (0...k / 2).contains(p), "kernel \(k), stride \(s), padding \(p) out of range")
        case let .upsample(scale):
            try check((2...16).contains(scale), "scale \(scale) out of range 2...16")
        case let .reshape(shape), let .expand(shape):
            try check(!shape.isEmpty && shape.count <= 8 && shape.allSatisfy { $0 == -1 || (1...limit).contains($0) }
                      && shape.filter { $0 == -1 }.count <= 1, "shape \(shape): expected positive sizes and at most one -1 (the batch)")
        case let .transpose(permutation):
            try check(permutation.sorted() == Array(0..<permutation.count), "\(permutation) is not a permutation")
        case let .flatten(axis):
            try check((1...8).contains(axis), "axis \(axis) out of range 1...8")
        case let .concat(axis), let .softmax(axis), let .select(axis, _):
            try check((-8...8).contains(axis), "axis \(axis) out of range")
        case let .slice(axis, start, length):
            try check((-8...8).contains(axis) && start >= 0 && length >= 1, "axis \(axis), start \(start), length \(length) out of range")
        case let .unsqueeze(axes), let .squeeze(axes):
            try check(axes.count <= 8 && axes.allSatisfy { (-8...8).contains($0) }, "axes \(axes) out of range")
        case let .clip(low, high):
            try check(low <= high, "low \(low) above high \(high)")
        case let .scalar(_, value):
            try check(value.isFinite, "constant \(value) is not finite")
        default: break
        }
    }
}
