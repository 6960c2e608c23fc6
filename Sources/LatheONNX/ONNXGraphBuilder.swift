import Foundation
import LatheModels
import LatheTensor

/// Accumulates the nodes and initializers of an exported graph, layer by layer.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var used: Set<String> = ["input"]
    /// Layers exported in QDQ form (int8 weights, quantized activations), by name.
    var quantization: [String: QDQLayer] = [:]
    /// The layers of `quantization` emitted so far.
    private(set) var quantized: Set<String> = []

    /// A fresh value name derived from `base`.
    mutating func fresh(_ base: String) -> String {
        var name = base
        var i = 1
        while used.contains(name) {
            name = "\(base)_\(i)"
            i += 1
        }
        used.insert(name)
        return name
    }

    /// Adds `op` and returns its (single) output's name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], name: String, attributes: [Onnx_AttributeProto] = []) -> String {
        let output = fresh(name)
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = output
        n.input = inputs
        n.output = [output]
        n.attribute = attributes
        nodes.append(n)
        return output
    }

    /// Adds a float32 initializer holding `tensor` (any float type, converted), named `name`.
    mutating func initializer(_ name: String, _ tensor: Tensor, shape: [Int]? = nil) throws -> String {
        let values = try tensor.detached().converted(to: .float32).contiguous().scalars(as: Float.self)
        return floats(name, values, shape: shape ?? tensor.shape)
    }

    /// Adds a float32 initializer of `values` with `shape`.
    mutating func floats(_ name: String, _ values: [Float], shape: [Int]) -> String {
        add(name, .float, shape) { t in
            var data = Data(capacity: values.count * 4)
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            t.rawData = data
        }
    }

    /// Adds an int64 initializer (shapes, indices, axes).
    mutating func int64s(_ name: String, _ values: [Int64], shape: [Int]) -> String {
        add(name, .int64, shape) { $0.int64Data = values }
    }

    /// Adds an initializer of `type` and `shape` under a fresh name derived from `name`, its values set by `fill`.
    mutating func add(_ name: String, _ type: Onnx_TensorProto.DataType, _ shape: [Int], _ fill: (inout Onnx_TensorProto) -> Void) -> String {
        var t = Onnx_TensorProto()
        t.name = fresh(name)
        t.dataType = Int32(type.rawValue)
        t.dims = shape.map(Int64.init)
        fill(&t)
        initializers.append(t)
        return t.name
    }

    /// An attribute named `name` of `type`, its value set by `fill`.
    static func attribute(_ name: String, _ type: Onnx_AttributeProto.AttributeType, _ fill: (inout Onnx_AttributeProto) -> Void) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = type
        fill(&a)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto { attribute(name, .ints) { $0.ints = values.map(Int64.init) } }
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto { attribute(name, .int) { $0.i = Int64(value) } }
    static func float(_ name: String, _ value: Double) -> Onnx_AttributeProto { attribute(name, .float) { $0.f = Float(value) } }
    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto { attribute(name, .string) { $0.s = Data(value.utf8) } }

    // MARK: Layers

    /// Emits `layer` applied to `x` and returns its output.
    mutating func emit(_ layer: any Layer, input x: Value) throws -> Value {
        switch layer {
        case let s as Sequential:
            var h = x
            for child in s.layers { h = try emit(child, input: h) }
            return h
        case let r as Residual:
            let main = try emit(r.body, input: x)
            let skip = try r.shortcut.map { try emit($0, input: x) } ?? x
            let sum = node("Add", [main.name, skip.name], name: "\(r.name).add")
            return Value(name: node("Relu", [sum], name: "\(r.name).relu"), rank: main.rank)
        case let conv as Conv2d:
            return try emitConv(conv, x)
        case let linear as Linear:
            return try emitLinear(linear, x)
        case let f as Factorized:
            return try emit(f.second, input: emit(f.first, input: x))
        case let bn as BatchNorm2d:
            let inputs = [x.name, try initializer("\(bn.name).weight", bn.weight), try initializer("\(bn.name).bias", bn.bias),
                          try initializer("\(bn.name).running_mean", bn.runningMean), try initializer("\(bn.name).running_var", bn.runningVar)]
            return Value(name: node("BatchNormalization", inputs, name: bn.name, attributes: [Self.float("epsilon", bn.eps)]), rank: x.rank)
        case let ln as LayerNorm:
            let inputs = [x.name, try initializer("\(ln.name).weight", ln.weight), try initializer("\(ln.name).bias", ln.bias)]
            return Value(name: node("LayerNormalization", inputs, name: ln.name,
                                    attributes: [Self.int("axis", -1), Self.float("epsilon", ln.eps)]), rank: x.rank)
        case let s as Stateless:
            return try emitStateless(s, x)
        case let block as TransformerBlock:
            let a = try emit(block.attn, input: emit(block.norm1, input: x))
            let h = Value(name: node("Add", [x.name, a.name], name: "\(block.name).add1"), rank: x.rank)
            let m = try emit(block.mlp, input: emit(block.norm2, input: h))
            return Value(name: node("Add", [h.name, m.name], name: "\(block.name).add2"), rank: x.rank)
        case let attention as MultiHeadAttention:
            return try emit(attention.proj, input: emitAttention(attention.core, emit(attention.qkv, input: x)))
        case let patches as PatchEmbedding:
            let y = try emitConv(patches.proj, x)
            let flat = node("Reshape", [y.name, int64s("\(patches.name).shape", [0, 0, -1], shape: [3])], name: "\(patches.name).flatten")
            return Value(name: node("Transpose", [flat], name: patches.name, attributes: [Self.ints("perm", [0, 2, 1])]), rank: 3)
        case let tokens as TokenEmbedding:
            return try emitTokens(tokens, x)
        case let graph as GraphLayer:
            return try emitGraph(graph, x)
        default:
            throw ONNXExportError(layer: layer.name, reason: "\(type(of: layer)) has no ONNX mapping")
        }
    }

    /// An explicit input scale as a Mul (broadcast over channels, dim 1 of a conv input; the last of a linear's).
    mutating func scaled(_ layer: any InputScalable, _ x: Value, convolution: Bool) throws -> String {
        guard let scale = layer.inputScale else { return x.name }
        let shape = convolution ? [1, scale.count, 1, 1] : [scale.count]
        return node("Mul", [x.name, try initializer("\(layer.name).input_scale", scale, shape: shape)], name: "\(layer.name).scaled")
    }

    private mutating func emitConv(_ conv: Conv2d, _ x: Value) throws -> Value {
        if let q = quantization[conv.name] {
            quantized.insert(conv.name)
            return try emitQuantizedConv(conv, x, q)
        }
        guard x.rank == 4 else { throw ONNXExportError(layer: conv.name, reason: "expected a 4-D input, got rank \(x.rank)") }
        var inputs = [try scaled(conv, x, convolution: true), try initializer("\(conv.name).weight", conv.weight)]
        if let bias = conv.bias { inputs.append(try initializer("\(conv.name).bias", bias)) }
        let p = conv.padding, s = conv.stride, k = conv.kernel
        return Value(name: node("Conv", inputs, name: conv.name, attributes: [
            Self.ints("kernel_shape", [k, k]), Self.ints("strides", [s, s]), Self.ints("pads", [p, p, p, p]),
            Self.ints("dilations", [1, 1]), Self.int("group", conv.groups),
        ]), rank: 4)
    }

    private mutating func emitLinear(_ linear: Linear, _ x: Value) throws -> Value {
        if let q = quantization[linear.name] {
            quantized.insert(linear.name)
            return try emitQuantizedLinear(linear, x, q)
        }
        let input = try scaled(linear, x, convolution: false)
        if x.rank == 2 {
            var inputs = [input, try initializer("\(linear.name).weight", linear.weight)]
            if let bias = linear.bias { inputs.append(try initializer("\(linear.name).bias", bias)) }
            return Value(name: node("Gemm", inputs, name: linear.name, attributes: [Self.int("transB", 1)]), rank: 2)
        }
        let w = try initializer("\(linear.name).weight_t", linear.weight.transposed().contiguous())
        let product = node("MatMul", [input, w], name: linear.bias == nil ? linear.name : "\(linear.name).matmul")
        guard let bias = linear.bias else { return Value(name: product, rank: x.rank) }
        return Value(name: node("Add", [product, try initializer("\(linear.name).bias", bias)], name: linear.name), rank: x.rank)
    }

    mutating func emitStateless(_ s: Stateless, _ x: Value) throws -> Value {
        switch s.operation {
        case .relu: return Value(name: node("Relu", [x.name], name: s.name), rank: x.rank)
        case .relu6:
            let low = floats("\(s.name).min", [0], shape: []), high = floats("\(s.name).max", [6], shape: [])
            return Value(name: node("Clip", [x.name, low, high], name: s.name), rank: x.rank)
        case .gelu:
            // x · ½(1 + erf(x / √2)), the exact GELU, as PyTorch exports it before opset 20.
            let scaled = node("Div", [x.name, floats("\(s.name).sqrt2", [Float(2.0.squareRoot())], shape: [])], name: "\(s.name).div")
            let erf = node("Erf", [scaled], name: "\(s.name).erf")
            let plus = node("Add", [erf, floats("\(s.name).one", [1], shape: [])], name: "\(s.name).add")
            let times = node("Mul", [x.name, plus], name: "\(s.name).mul")
            return Value(name: node("Mul", [times, floats("\(s.name).half", [0.5], shape: [])], name: s.name), rank: x.rank)
        case let .maxPool(k, stride):
            return Value(name: node("MaxPool", [x.name], name: s.name,
                                    attributes: [Self.ints("kernel_shape", [k, k]), Self.ints("strides", [stride, stride])]), rank: 4)
        case let .avgPool(k, stride):
            return Value(name: node("AveragePool", [x.name], name: s.name,
                                    attributes: [Self.ints("kernel_shape", [k, k]), Self.ints("strides", [stride, stride])]), rank: 4)
        case .globalAvgPool: return Value(name: node("GlobalAveragePool", [x.name], name: s.name), rank: 4)
        case .flatten: return Value(name: node("Flatten", [x.name], name: s.name, attributes: [Self.int("axis", 1)]), rank: 2)
        case .classToken:
            let index = int64s("\(s.name).index", [0], shape: [])
            return Value(name: node("Gather", [x.name, index], name: s.name, attributes: [Self.int("axis", 1)]), rank: 2)
        }
    }

    /// `[N, T, 3·H·d]` (q, k, v of H heads) → softmax(q·kᵀ/√d)·v → `[N, T, H·d]`.
    private mutating func emitAttention(_ core: AttentionCore, _ x: Value) throws -> Value {
        guard x.rank == 3 else { throw ONNXExportError(layer: core.name, reason: "expected tokens [N, T, features], got rank \(x.rank)") }
        let d = core.headDim
        let split = node("Reshape", [x.name, int64s("\(core.name).qkv_shape", [0, 0, 3, -1, Int64(d)], shape: [5])], name: "\(core.name).split")
        let heads = node("Transpose", [split], name: "\(core.name).heads", attributes: [Self.ints("perm", [2, 0, 3, 1, 4])])
        func part(_ i: Int64, _ label: String) -> String {
            node("Gather", [heads, int64s("\(core.name).\(label)_index", [i], shape: [])], name: "\(core.name).\(label)",
                 attributes: [Self.int("axis", 0)])
        }
        let (q, k, v) = (part(0, "q"), part(1, "k"), part(2, "v"))
        let kt = node("Transpose", [k], name: "\(core.name).kt", attributes: [Self.ints("perm", [0, 1, 3, 2])])
        let scores = node("MatMul", [q, kt], name: "\(core.name).scores")
        let scaled = node("Mul", [scores, floats("\(core.name).scale", [Float(1 / Double(d).squareRoot())], shape: [])], name: "\(core.name).scaled")
        let map = node("Softmax", [scaled], name: core.mapName, attributes: [Self.int("axis", -1)])
        let mixed = node("MatMul", [map, v], name: "\(core.name).mixed")
        let tokens = node("Transpose", [mixed], name: "\(core.name).tokens", attributes: [Self.ints("perm", [0, 2, 1, 3])])
        return Value(name: node("Reshape", [tokens, int64s("\(core.name).out_shape", [0, 0, -1], shape: [3])], name: core.name), rank: 3)
    }

    /// Prepends the class token (expanded to the batch) and adds the position embedding.
    private mutating func emitTokens(_ tokens: TokenEmbedding, _ x: Value) throws -> Value {
        let dim = tokens.cls.shape[2]
        let shape = node("Shape", [x.name], name: "\(tokens.name).input_shape")
        let batch = node("Slice", [shape, int64s("\(tokens.name).start", [0], shape: [1]), int64s("\(tokens.name).end", [1], shape: [1])],
                         name: "\(tokens.name).batch")
        let target = node("Concat", [batch, int64s("\(tokens.name).token_dims", [1, Int64(dim)], shape: [2])], name: "\(tokens.name).cls_shape",
                          attributes: [Self.int("axis", 0)])
        let cls = node("Expand", [try initializer("\(tokens.name).cls", tokens.cls), target], name: "\(tokens.name).cls_batch")
        let joined = node("Concat", [cls, x.name], name: "\(tokens.name).concat", attributes: [Self.int("axis", 1)])
        return Value(name: node("Add", [joined, try initializer("\(tokens.name).pos", tokens.pos)], name: tokens.name), rank: 3)
    }
}
