import Foundation
import LatheModels

extension GraphConverter {
    /// The ONNX operators `lathe import` converts.
    static let supportedOps: Set<String> = [
        "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "Sigmoid", "Tanh", "Erf", "Gelu", "MaxPool",
        "AveragePool", "GlobalAveragePool", "BatchNormalization", "Flatten", "Reshape", "Transpose", "Concat", "Softmax",
        "LayerNormalization", "Dropout", "Identity", "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Expand", "Slice",
        "ConstantOfShape", "Equal", "Where",
    ]

    /// Converts node `index` of the sorted graph.
    mutating func convert(_ node: Onnx_NodeProto, index: Int) throws {
        opCounts[node.opType, default: 0] += 1
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw ImportProblem("node '\(node.label)': operator \(node.domain)::\(node.opType) is not in the default ONNX domain; Lathe imports standard operators only")
        }
        if absorbed.contains(index) { return }
        if let input = gelu[index] {
            return emit(node, .gelu, inputs: [input], shape: try activation(input, node))
        }
        let x = node.input.first ?? ""
        switch node.opType {
        case "Conv": try conv(node)
        case "Gemm": try gemm(node)
        case "MatMul": try matmul(node, index: index)
        case "Add", "Sub", "Mul", "Div": try binary(node)
        case "Relu", "Sigmoid", "Tanh", "Identity", "Dropout":
            if node.opType == "Dropout", node.output.count > 1, !node.output[1].isEmpty {
                throw ImportProblem("node '\(node.label)' (Dropout): its mask output is used; Lathe imports inference graphs")
            }
            if case let .constant(c) = values[x] { values[node.output[0]] = .constant(c); return }
            let op: GraphOp = switch node.opType { case "Relu": .relu; case "Sigmoid": .sigmoid; case "Tanh": .tanh; default: .identity }
            emit(node, op, inputs: [x], shape: try activation(x, node))
        case "Clip":
            let low = try optionalInput(node, 1).map { try constant($0, node, "min").scalar ?? -.greatestFiniteMagnitude }
                ?? Double(node.float("min", default: -.greatestFiniteMagnitude))
            let high = try optionalInput(node, 2).map { try constant($0, node, "max").scalar ?? .greatestFiniteMagnitude }
                ?? Double(node.float("max", default: .greatestFiniteMagnitude))
            guard low <= high else { throw ImportProblem("node '\(node.label)' (Clip): min \(low) is above max \(high)") }
            emit(node, .clip(low: low, high: high), inputs: [x], shape: try activation(x, node))
        case "Gelu":
            guard node.string("approximate") ?? "none" == "none" else {
                throw ImportProblem("node '\(node.label)' (Gelu): approximate = \(node.string("approximate") ?? "") is not supported; Lathe has the exact (erf) GELU")
            }
            emit(node, .gelu, inputs: [x], shape: try activation(x, node))
        case "Erf":
            throw ImportProblem("node '\(node.label)' (Erf) is not part of a GELU pattern (x · 0.5 · (1 + erf(x / √2))); Lathe supports Erf only there")
        case "MaxPool", "AveragePool": try pool(node)
        case "GlobalAveragePool":
            let s = try activation(x, node)
            guard s.count == 4 else { throw ImportProblem("node '\(node.label)' (GlobalAveragePool): input \(s) is not [N, C, H, W]") }
            emit(node, .globalAvgPool, inputs: [x], shape: [s[0], s[1], 1, 1])
        case "BatchNormalization": try batchNorm(node)
        case "LayerNormalization": try layerNorm(node)
        case "Softmax":
            let s = try activation(x, node)
            let axis = try Self.axis(node.int("axis", default: opset >= 13 ? -1 : 1), rank: s.count, node)
            guard opset >= 13 || axis == s.count - 1 else {
                throw ImportProblem("node '\(node.label)' (Softmax, opset \(opset)): axis \(axis) flattens trailing dimensions; Lathe supports the last axis")
            }
            guard s[axis] != -1 else { throw ImportProblem("node '\(node.label)' (Softmax): normalizes over the batch dimension") }
            emit(node, .softmax(axis: axis), inputs: [x], shape: s)
        default:
            try reshaping(node)
        }
    }

    private mutating func conv(_ node: Onnx_NodeProto) throws {
        let x = node.input.first ?? ""
        let s = try activation(x, node)
        guard node.input.count >= 2 else { throw ImportProblem("node '\(node.label)' (Conv) has no weight input") }
        let w = try constant(node.input[1], node, "weight")
        guard s.count == 4, w.shape.count == 4, w.isFloat else {
            throw ImportProblem("node '\(node.label)' (Conv): Lathe imports 2-D convolutions (input \(s), weight \(w.shape))")
        }
        let groups = node.int("group", default: 1)
        let kernel = node.ints("kernel_shape") ?? Array(w.shape.suffix(2))
        let strides = node.ints("strides") ?? [1, 1], pads = node.ints("pads") ?? [0, 0, 0, 0], dilations = node.ints("dilations") ?? [1, 1]
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        guard autoPad == "NOTSET" || (autoPad == "VALID" && pads.allSatisfy { $0 == 0 }) else {
            throw ImportProblem("node '\(node.label)' (Conv): auto_pad \(autoPad) is not supported; export with explicit pads")
        }
        guard kernel.count == 2, kernel[0] == kernel[1], kernel == Array(w.shape.suffix(2)), strides.count == 2, strides[0] == strides[1],
              pads.count == 4, Set(pads).count == 1, dilations.allSatisfy({ $0 == 1 }), strides[0] >= 1 else {
            throw ImportProblem("node '\(node.label)' (Conv): kernel \(kernel), strides \(strides), pads \(pads), dilations \(dilations); Lathe's conv has a square kernel and stride, equal pads on every side, no dilation")
        }
        guard groups >= 1, s[1] != -1, w.shape[1] * groups == s[1], w.shape[0] % groups == 0 else {
            throw ImportProblem("node '\(node.label)' (Conv): weight \(w.shape) with \(groups) group(s) does not fit input \(s)")
        }
        let (k, st, p) = (kernel[0], strides[0], pads[0])
        let h = (s[2] + 2 * p - k) / st + 1, wd = (s[3] + 2 * p - k) / st + 1
        guard h >= 1, wd >= 1 else { throw ImportProblem("node '\(node.label)' (Conv): kernel \(k) does not fit input \(s)") }
        let layer = try layerName(node, weight: node.input[1])
        try own(node.input[1], layer: layer, node)
        tensors["\(layer).weight"] = w
        var bias = false
        if let b = optionalInput(node, 2) {
            let c = try constant(b, node, "bias")
            guard c.count == w.shape[0], c.isFloat else { throw ImportProblem("node '\(node.label)' (Conv): bias '\(b)' has \(c.count) values, expected \(w.shape[0])") }
            tensors["\(layer).bias"] = .float(c.floats, shape: [w.shape[0]])
            bias = true
        }
        emit(node, .conv(layer: layer, inChannels: s[1], outChannels: w.shape[0], kernel: k, stride: st, padding: p, groups: groups, bias: bias),
             inputs: [x], shape: [s[0], w.shape[0], h, wd])
    }

    /// `[in, out]` → `[out, in]`.
    static func transposed(_ c: ConstantTensor) -> ConstantTensor {
        let (rows, cols) = (c.shape[0], c.shape[1])
        var out = [Float](repeating: 0, count: c.count)
        for r in 0..<rows { for k in 0..<cols { out[k * rows + r] = c.floats[r * cols + k] } }
        return .float(out, shape: [cols, rows], source: c.source)
    }

    private mutating func gemm(_ node: Onnx_NodeProto) throws {
        let x = node.input.first ?? ""
        let s = try activation(x, node)
        guard node.input.count >= 2 else { throw ImportProblem("node '\(node.label)' (Gemm) has no B input") }
        var w = try constant(node.input[1], node, "weight (B)")
        guard s.count == 2, w.shape.count == 2, w.isFloat, node.int("transA", default: 0) == 0 else {
            throw ImportProblem("node '\(node.label)' (Gemm): Lathe imports x·Bᵀ or x·B with x [N, D] and an initializer B (input \(s), B \(w.shape), transA \(node.int("transA", default: 0)))")
        }
        if node.int("transB", default: 0) == 0 { w = Self.transposed(w) }
        guard w.shape[1] == s[1] else { throw ImportProblem("node '\(node.label)' (Gemm): B \(w.shape) does not fit input \(s)") }
        let alpha = node.float("alpha", default: 1), beta = node.float("beta", default: 1)
        if alpha != 1 { w.floats = w.floats.map { $0 * alpha } }
        let layer = try layerName(node, weight: node.input[1])
        try own(node.input[1], layer: layer, node)
        tensors["\(layer).weight"] = w
        var bias = false
        if let b = optionalInput(node, 2) {
            let c = try constant(b, node, "bias (C)")
            let out = w.shape[0]
            guard c.isFloat, c.count == out || c.count == 1, c.shape.last.map({ $0 == out || $0 == 1 }) ?? true, c.shape.dropLast().allSatisfy({ $0 == 1 }) else {
                throw ImportProblem("node '\(node.label)' (Gemm): C '\(b)' has shape \(c.shape); Lathe imports a bias of [\(out)]")
            }
            tensors["\(layer).bias"] = .float(c.count == 1 ? Array(repeating: c.floats[0] * beta, count: out) : c.floats.map { $0 * beta }, shape: [out])
            bias = true
        }
        emit(node, .linear(layer: layer, inFeatures: s[1], outFeatures: w.shape[0], bias: bias), inputs: [x], shape: [s[0], w.shape[0]])
    }

    private mutating func matmul(_ node: Onnx_NodeProto, index: Int) throws {
        guard node.input.count == 2 else { throw ImportProblem("node '\(node.label)' (MatMul) needs two inputs") }
        let (a, b) = (node.input[0], node.input[1])
        if case let .constant(w)? = values[b], case let .activation(s)? = values[a] {
            guard w.shape.count == 2, w.isFloat, s.last == w.shape[0] else {
                throw ImportProblem("node '\(node.label)' (MatMul): weight '\(b)' \(w.shape) does not fit input \(s)")
            }
            let layer = try layerName(node, weight: b)
            try own(b, layer: layer, node)
            tensors["\(layer).weight"] = Self.transposed(w)
            var output = node.output.first ?? ""
            var bias = false
            if let (add, c) = fusedBias[index] {
                tensors["\(layer).bias"] = .float(c.floats, shape: [w.shape[1]])
                output = add.output.first ?? output
                bias = true
            }
            return emit(node, .linear(layer: layer, inFeatures: w.shape[0], outFeatures: w.shape[1], bias: bias), inputs: [a],
                        shape: s.dropLast() + [w.shape[1]], output: output)
        }
        let sa = try activation(a, node), sb = try activation(b, node)
        guard sa.count >= 2, sb.count >= 2, sa.last == sb[sb.count - 2] else {
            throw ImportProblem("node '\(node.label)' (MatMul): shapes \(sa) and \(sb) do not multiply")
        }
        let lead = try Self.broadcast(Array(sa.dropLast(2)), Array(sb.dropLast(2)), node)
        emit(node, .matmul, inputs: [a, b], shape: lead + [sa[sa.count - 2], sb[sb.count - 1]])
    }

    private mutating func binary(_ node: Onnx_NodeProto) throws {
        guard node.input.count == 2 else { throw ImportProblem("node '\(node.label)' (\(node.opType)) needs two inputs") }
        let (a, b) = (node.input[0], node.input[1])
        guard let va = values[a], let vb = values[b] else {
            throw ImportProblem("node '\(node.label)' reads '\(values[a] == nil ? a : b)', which nothing defines")
        }
        let kind = node.opType
        switch (va, vb) {
        case let (.constant(ca), .constant(cb)):
            values[node.output.first ?? ""] = .constant(try Self.fold(kind, ca, cb, node))
        case let (.activation(s), .constant(c)) where c.count == 1, let (.constant(c), .activation(s)) where c.count == 1:
            let constantFirst = if case .constant = va { true } else { false }
            let value = c.doubles[0]
            let op: ScalarOperation = switch kind {
            case "Add": .add
            case "Mul": .mul
            case "Sub": constantFirst ? .rsub : .sub
            default: constantFirst ? .rdiv : .div
            }
            let shape = try Self.broadcast(s, c.shape, node)
            emit(node, .scalar(op, value), inputs: [constantFirst ? b : a], shape: shape)
        default:
            if va.shapeEntries != nil || vb.shapeEntries != nil, case .shape = va {
                throw ImportProblem("node '\(node.label)' (\(kind)): arithmetic on a shape that holds the batch size is not supported")
            }
            let (na, sa) = try operand(a, node), (nb, sb) = try operand(b, node)
            let op: GraphOp = switch kind { case "Add": .add; case "Sub": .sub; case "Mul": .mul; default: .div }
            emit(node, op, inputs: [na, nb], shape: try Self.broadcast(sa, sb, node))
        }
    }

    static func fold(_ kind: String, _ a: ConstantTensor, _ b: ConstantTensor, _ node: Onnx_NodeProto) throws -> ConstantTensor {
        guard a.shape == b.shape || a.count == 1 || b.count == 1 else {
            throw ImportProblem("node '\(node.label)' (\(kind)): constant operands \(a.shape) and \(b.shape) (Lathe folds equal shapes or scalars)")
        }
        let n = max(a.count, b.count), shape = a.count >= b.count ? a.shape : b.shape
        let x = a.doubles, y = b.doubles
        let values: [Double] = (0..<n).map { i in
            let (p, q) = (x[a.count == 1 ? 0 : i], y[b.count == 1 ? 0 : i])
            switch kind {
            case "Add": return p + q
            case "Sub": return p - q
            case "Mul": return p * q
            default: return q == 0 ? .nan : (a.isFloat || b.isFloat ? p / q : (p / q).rounded(.towardZero))
            }
        }
        return a.isFloat || b.isFloat ? .float(values.map { Float($0) }, shape: shape) : .int(values.map { Int64($0) }, shape: shape)
    }

    private mutating func pool(_ node: Onnx_NodeProto) throws {
        let x = node.input.first ?? ""
        let s = try activation(x, node)
        let kernel = node.ints("kernel_shape") ?? []
        let strides = node.ints("strides") ?? [1, 1], pads = node.ints("pads") ?? [0, 0, 0, 0]
        guard s.count == 4, kernel.count == 2, kernel[0] == kernel[1], strides.count == 2, strides[0] == strides[1], strides[0] >= 1,
              pads.count == 4, Set(pads).count == 1, pads[0] <= kernel[0] / 2, node.int("ceil_mode", default: 0) == 0,
              (node.ints("dilations") ?? [1, 1]).allSatisfy({ $0 == 1 }), node.string("auto_pad") ?? "NOTSET" == "NOTSET" else {
            throw ImportProblem("node '\(node.label)' (\(node.opType)): kernel \(kernel), strides \(strides), pads \(pads); Lathe pools with a square kernel and stride, equal pads (at most half the kernel), no ceil mode or dilation")
        }
        if node.opType == "AveragePool", pads[0] > 0, node.int("count_include_pad", default: 0) == 0 {
            throw ImportProblem("node '\(node.label)' (AveragePool): padding without count_include_pad; Lathe's average pool counts the padding")
        }
        if node.output.count > 1, !node.output[1].isEmpty {
            throw ImportProblem("node '\(node.label)' (MaxPool): the indices output is not supported")
        }
        let (k, st, p) = (kernel[0], strides[0], pads[0])
        let h = (s[2] + 2 * p - k) / st + 1, w = (s[3] + 2 * p - k) / st + 1
        guard h >= 1, w >= 1 else { throw ImportProblem("node '\(node.label)' (\(node.opType)): kernel \(k) does not fit input \(s)") }
        emit(node, node.opType == "MaxPool" ? .maxPool(kernel: k, stride: st, padding: p) : .avgPool(kernel: k, stride: st, padding: p),
             inputs: [x], shape: [s[0], s[1], h, w])
    }

    private mutating func batchNorm(_ node: Onnx_NodeProto) throws {
        let x = node.input.first ?? ""
        let s = try activation(x, node)
        guard node.input.count == 5, node.int("training_mode", default: 0) == 0, node.output.count == 1 || node.output.dropFirst().allSatisfy(\.isEmpty) else {
            throw ImportProblem("node '\(node.label)' (BatchNormalization): Lathe imports inference-mode batch norm (5 inputs, one output)")
        }
        guard s.count >= 2, s[1] > 0 else { throw ImportProblem("node '\(node.label)' (BatchNormalization): input \(s) has no channel dimension") }
        let names = ["weight", "bias", "running_mean", "running_var"]
        let parts = try zip(node.input.dropFirst(), names).map { try constant($0, node, $1) }
        for (p, name) in zip(parts, names) where p.count != s[1] || !p.isFloat {
            throw ImportProblem("node '\(node.label)' (BatchNormalization): \(name) has \(p.count) values, expected \(s[1])")
        }
        let layer = try layerName(node, weight: node.input[1])
        try own(node.input[1], layer: layer, node)
        for (p, name) in zip(parts, names) { tensors["\(layer).\(name)"] = .float(p.floats, shape: [s[1]]) }
        emit(node, .batchNorm(layer: layer, channels: s[1], eps: Double(node.float("epsilon", default: 1e-5))), inputs: [x], shape: s)
    }

    private mutating func layerNorm(_ node: Onnx_NodeProto) throws {
        let x = node.input.first ?? ""
        let s = try activation(x, node)
        let axis = try Self.axis(node.int("axis", default: -1), rank: s.count, node)
        guard axis == s.count - 1, let d = s.last, d > 0, node.input.count >= 2 else {
            throw ImportProblem("node '\(node.label)' (LayerNormalization): Lathe normalizes over the last dimension only (axis \(axis) of \(s))")
        }
        let scale = try constant(node.input[1], node, "scale")
        let bias = try optionalInput(node, 2).map { try constant($0, node, "bias") } ?? .float(Array(repeating: 0, count: d), shape: [d])
        guard scale.count == d, bias.count == d, scale.isFloat, bias.isFloat else {
            throw ImportProblem("node '\(node.label)' (LayerNormalization): scale and bias must have \(d) values")
        }
        let layer = try layerName(node, weight: node.input[1])
        try own(node.input[1], layer: layer, node)
        tensors["\(layer).weight"] = .float(scale.floats, shape: [d])
        tensors["\(layer).bias"] = .float(bias.floats, shape: [d])
        emit(node, .layerNorm(layer: layer, features: d, eps: Double(node.float("epsilon", default: 1e-5))), inputs: [x], shape: s)
    }
}
