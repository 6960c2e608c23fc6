import Foundation
import LatheModels
import LatheTensor

/// The integer weight grid of one layer in a QDQ export: symmetric codes in [`qmin`, `qmax`],
/// zero points 0, one scale per tensor, per output channel, or per group of `groupSize`
/// consecutive elements of a row (the elements after dimension 0, as Lathe's quantizers group).
/// Codes of up to 4 bits are stored as int4 (ONNX opset 21), wider ones as int8.
public struct QDQWeight: Sendable, Equatable {
    /// One scale (per tensor), one per output channel (dimension 0 of the weight), or
    /// rows × ⌈row / groupSize⌉ in row-major order (groups).
    public var scales: [Float]
    public var qmin: Int
    public var qmax: Int
    /// Bits of the codes: at most 4 are stored as int4, up to 8 as int8.
    public var bits: Int
    /// 0: per tensor or per channel; > 0: groups along each row (ONNX blocked quantization).
    public var groupSize: Int

    public init(scales: [Float], qmin: Int = -127, qmax: Int = 127, bits: Int = 8, groupSize: Int = 0) {
        self.scales = scales
        self.qmin = qmin
        self.qmax = qmax
        self.bits = bits
        self.groupSize = groupSize
    }

    /// Whether the codes are stored as int4.
    public var isInt4: Bool { bits <= 4 }
    /// Whether this grid needs opset 21 (int4 elements, or blocked DequantizeLinear for groups).
    public var needsOpset21: Bool { isInt4 || groupSize > 0 }
}

/// Per-tensor uint8 quantization of an activation in a QDQ export: codes
/// clamp(round(x / scale) + zeroPoint, 0, qmax). A `qmax` below 255 (7-bit codes for integer
/// kernels that would saturate on 8-bit ones) is exported as a Clip to the float range of
/// codes [0, qmax] before the QuantizeLinear, whose uint8 output alone would reach 255.
public struct QDQActivation: Sendable, Equatable {
    public var scale: Float
    public var zeroPoint: Int
    public var qmax: Int

    public init(scale: Float, zeroPoint: Int, qmax: Int = 255) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.qmax = qmax
    }

    /// The largest activation code ONNX Runtime's CPU int8 kernels accumulate exactly on a CPU
    /// with `cpu`'s features (detected at run time by default): 127 on x86 with AVX2 or
    /// AVX-512BW but neither AVX-VNNI nor AVX512-VNNI, where MLAS multiplies u8 activations by
    /// s8 weights with `vpmaddubsw` (saturating 16-bit pair sums: 2 × 255 × 127 overflows,
    /// 2 × 127 × 128 does not; ONNX Runtime's quantization documentation); 255 elsewhere (VNNI's
    /// `vpdpbusd` accumulates in 32 bits, ARM's kernels widen first). With the reason, in words.
    public static func runtimeInputQMax(_ cpu: CPUFeatures = .current) -> (qmax: Int, reason: String) {
        let pairSums = !cpu.isDisjoint(with: [.avx2, .avx512bw])
        let vnni = !cpu.isDisjoint(with: [.avx512VNNI, .avxVNNI])
        if pairSums, !vnni {
            return (127, "7-bit input codes: this CPU (\(cpu)) has no VNNI, and ONNX Runtime's u8 x s8 kernels would saturate 16-bit pair sums on 8-bit codes")
        }
        return (255, "8-bit input codes (CPU features: \(cpu))")
    }
}

/// How one conv or linear layer is exported in QDQ form: int8 weight codes and a
/// DequantizeLinear (axis 0 per channel); with `input` and `output`, a QuantizeLinear /
/// DequantizeLinear pair on the layer's input (after any explicit input scale) and on its output,
/// and the bias as int32 codes of scale input scale × weight scale, as ONNX Runtime's
/// quantization tool writes them, so that ONNX Runtime runs the layer as an integer kernel
/// (QLinearConv, QGemm). Without them the weights alone are stored in int8 (weight-only).
public struct QDQLayer: Sendable, Equatable {
    public var weight: QDQWeight
    public var input: QDQActivation?
    public var output: QDQActivation?

    public init(weight: QDQWeight, input: QDQActivation? = nil, output: QDQActivation? = nil) {
        self.weight = weight
        self.input = input
        self.output = output
    }

    /// The input parameters the bias is quantized with (int32 at input scale × weight scale, as
    /// integer kernels add it), or nil for a float bias: no input quantization, or int4/grouped
    /// weights, which ONNX Runtime dequantizes for a float kernel.
    var integerBiasInput: QDQActivation? { weight.needsOpset21 ? nil : input }
}

extension GraphBuilder {
    /// Adds an int8 initializer.
    mutating func int8s(_ name: String, _ values: [Int8], shape: [Int]) -> String {
        add(name, .int8, shape) { $0.rawData = Data(values.map { UInt8(bitPattern: $0) }) }
    }

    /// Adds a uint8 initializer.
    mutating func uint8s(_ name: String, _ values: [UInt8], shape: [Int]) -> String {
        add(name, .uint8, shape) { $0.rawData = Data(values) }
    }

    /// Adds an int32 initializer.
    mutating func int32s(_ name: String, _ values: [Int32], shape: [Int]) -> String {
        add(name, .int32, shape) { t in
            var data = Data(capacity: values.count * 4)
            for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
            t.rawData = data
        }
    }

    /// `x` through QuantizeLinear and DequantizeLinear with `a` (uint8, per tensor), clipped
    /// first to the float range of codes [0, a.qmax] when that is below 255.
    mutating func quantizeDequantize(_ x: String, _ a: QDQActivation, name: String) -> String {
        var input = x
        if a.qmax < 255 {
            let low = Float(-a.zeroPoint) * a.scale, high = Float(a.qmax - a.zeroPoint) * a.scale
            input = node("Clip", [x, floats("\(name).clip_min", [low], shape: []), floats("\(name).clip_max", [high], shape: [])],
                         name: "\(name).clip")
        }
        let scale = floats("\(name).scale", [a.scale], shape: [])
        let zero = uint8s("\(name).zero_point", [UInt8(clamping: a.zeroPoint)], shape: [])
        let q = node("QuantizeLinear", [input, scale, zero], name: "\(name).quantized")
        return node("DequantizeLinear", [q, scale, zero], name: "\(name).dequantized")
    }

    /// The integer codes of `weight` (already on `w`'s grid) behind a DequantizeLinear: int8
    /// (or int4 for codes of up to 4 bits) with scales per tensor, per output channel (axis 0)
    /// or per group (blocked along the flattened row: axis 1 and `block_size`, then reshaped
    /// to the weight's shape). The output is the weight as float, transposed to `[in, out]`
    /// when `transposed` (its channel axis then 1, its blocks along axis 0).
    /// - Throws: ``ONNXExportError`` when a value is not on the grid (the weight was changed
    ///   after quantization, or the parameters are another layer's).
    mutating func quantizedWeight(_ layer: String, _ weight: Tensor, _ w: QDQWeight, transposed: Bool = false) throws -> String {
        let shape = weight.shape
        let rows = shape.first ?? 1
        let row = rows > 0 ? weight.count / rows : 0
        let groupsPerRow = w.groupSize > 0 ? (row + w.groupSize - 1) / w.groupSize : 0
        let expected = w.groupSize > 0 ? rows * groupsPerRow : rows
        guard w.scales.count == 1 && w.groupSize == 0 || w.scales.count == expected else {
            throw ONNXExportError(layer: layer, reason: "\(w.scales.count) weight scales for a weight of shape \(shape)\(w.groupSize > 0 ? " in groups of \(w.groupSize)" : ""): expected \(w.groupSize > 0 ? "" : "1 or ")\(expected)")
        }
        let (low, high) = w.isInt4 ? (-8, 7) : (-128, 127)
        guard w.qmin >= low, w.qmax <= high, w.qmin < w.qmax else {
            throw ONNXExportError(layer: layer, reason: "weight codes [\(w.qmin), \(w.qmax)] do not fit \(w.isInt4 ? "int4" : "int8")")
        }
        let values = try weight.detached().converted(to: .float32).contiguous().scalars(as: Float.self)
        var codes = [Int8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let r = i / Swift.max(row, 1)
            let index = w.groupSize > 0 ? r * groupsPerRow + (i - r * row) / w.groupSize : w.scales.count == 1 ? 0 : r
            let scale = w.scales[index]
            let exact = v / scale, code = exact.rounded()
            guard code >= Float(w.qmin), code <= Float(w.qmax), abs(exact - code) <= 1e-2 else {
                throw ONNXExportError(layer: layer, reason: String(
                    format: "weight element %d (%g) is not on the recorded %d-bit grid (scale %g, codes [%d, %d]): %g codes; the weight changed after quantization or the record is another model's",
                    i, v, w.bits, scale, w.qmin, w.qmax, exact))
            }
            codes[i] = Int8(code)
        }
        var scales = w.scales
        // Groups: a 2-D [rows, row] view, blocked along its rows; channels: the weight's shape.
        var dims = w.groupSize > 0 ? [rows, row] : shape
        var scaleShape = w.groupSize > 0 ? [rows, groupsPerRow] : w.scales.count > 1 ? [rows] : []
        var axis = w.groupSize > 0 ? 1 : 0
        if transposed {
            guard dims.count == 2 else { throw ONNXExportError(layer: layer, reason: "a transposed weight must be 2-D, got \(dims)") }
            codes = Self.transpose(codes, dims[0], dims[1])
            if scaleShape.count == 2 { scales = Self.transpose(scales, scaleShape[0], scaleShape[1]) }
            dims = [dims[1], dims[0]]
            scaleShape = scaleShape.count == 2 ? [scaleShape[1], scaleShape[0]] : scaleShape
            axis = 1 - axis
        }
        let zeros = [Int8](repeating: 0, count: scales.count)
        let q = w.isInt4 ? int4s("\(layer).weight_quantized", codes, shape: dims) : int8s("\(layer).weight_quantized", codes, shape: dims)
        let scale = floats("\(layer).weight_scale", scales, shape: scaleShape)
        let zero = w.isInt4 ? int4s("\(layer).weight_zero_point", zeros, shape: scaleShape) : int8s("\(layer).weight_zero_point", zeros, shape: scaleShape)
        var attributes: [Onnx_AttributeProto] = scaleShape.isEmpty ? [] : [Self.int("axis", axis)]
        if w.groupSize > 0 { attributes.append(Self.int("block_size", w.groupSize)) }
        let dequantized = node("DequantizeLinear", [q, scale, zero], name: w.groupSize > 0 && shape.count != 2 ? "\(layer).weight_2d" : "\(layer).weight",
                               attributes: attributes)
        guard w.groupSize > 0, shape.count != 2, !transposed else { return dequantized }
        return node("Reshape", [dequantized, int64s("\(layer).weight_shape", shape.map(Int64.init), shape: [shape.count])], name: "\(layer).weight")
    }

    /// `values` of a row-major `[rows, columns]` matrix, transposed.
    static func transpose<T>(_ values: [T], _ rows: Int, _ columns: Int) -> [T] {
        (0..<(rows * columns)).map { i in values[(i % rows) * columns + i / rows] }
    }

    /// Adds an int4 initializer: two codes a byte, the first in the low nibble (ONNX's packing).
    mutating func int4s(_ name: String, _ values: [Int8], shape: [Int]) -> String {
        add(name, .int4, shape) { t in
            var bytes = [UInt8](repeating: 0, count: (values.count + 1) / 2)
            for (i, v) in values.enumerated() { bytes[i / 2] |= (UInt8(bitPattern: v) & 0x0F) << (i % 2 == 0 ? 0 : 4) }
            t.rawData = Data(bytes)
        }
    }

    /// The bias as int32 codes of scale input scale × weight scale (per output channel) behind
    /// a DequantizeLinear, as integer kernels add it to their int32 sums.
    mutating func quantizedBias(_ layer: String, _ bias: Tensor, input: QDQActivation, weight: QDQWeight) throws -> String {
        let values = try bias.detached().converted(to: .float32).contiguous().scalars(as: Float.self)
        let scales = weight.scales.count == 1 && values.count > 1 ? [Float](repeating: weight.scales[0], count: values.count) : weight.scales
        guard scales.count == values.count else {
            throw ONNXExportError(layer: layer, reason: "\(values.count) bias values for \(weight.scales.count) weight scales")
        }
        let biasScales = scales.map { input.scale * $0 }
        var codes: [Int32] = []
        for (v, s) in zip(values, biasScales) {
            let code = (v / s).rounded()
            guard code.isFinite, abs(code) <= Float(Int32.max - 128) else {
                throw ONNXExportError(layer: layer, reason: "bias \(v) at scale \(s) (input scale × weight scale) overflows int32")
            }
            codes.append(Int32(code))
        }
        let q = int32s("\(layer).bias_quantized", codes, shape: [codes.count])
        let scale = floats("\(layer).bias_scale", biasScales, shape: [biasScales.count])
        let zero = int32s("\(layer).bias_zero_point", [Int32](repeating: 0, count: codes.count), shape: [codes.count])
        return node("DequantizeLinear", [q, scale, zero], name: "\(layer).bias", attributes: [Self.int("axis", 0)])
    }

    /// Moves each max pooling that follows a quantized layer's output (DequantizeLinear,
    /// optionally Relu, then MaxPool) before the DequantizeLinear, onto the uint8 codes:
    /// dequantization (q − z)·s and ReLU are non-decreasing, so the pooled maximum is the same
    /// element and the same float either way, and the graph computes exactly what it did. ONNX
    /// Runtime then pools a quarter of the values in uint8 and dequantizes (and applies ReLU to)
    /// the pooled tensor only, instead of converting every conv output to float first.
    mutating func poolBeforeDequantize() {
        func consumers(_ value: String) -> [Int] { nodes.indices.filter { nodes[$0].input.contains(value) } }
        var index = 0
        while index < nodes.count {
            let dq = nodes[index]
            defer { index += 1 }
            guard dq.opType == "DequantizeLinear", dq.name.hasSuffix(".output.dequantized"), let output = dq.output.first else { continue }
            var chain = [index]
            var next = consumers(output)
            if next.count == 1, nodes[next[0]].opType == "Relu", let relu = nodes[next[0]].output.first {
                chain.append(next[0])
                next = consumers(relu)
            }
            guard next.count == 1, nodes[next[0]].opType == "MaxPool", let last = chain.last, next[0] > last else { continue }
            let pool = next[0]
            guard let pooled = nodes[pool].output.first else { continue }
            // MaxPool on the codes, DequantizeLinear (and Relu) of the pooled codes, ending in the pool's output name.
            var codes = nodes[pool]
            codes.input = [dq.input[0]]
            codes.output = [fresh("\(nodes[pool].name).codes")]
            codes.name = codes.output[0]
            var moved = [codes]
            var previous = codes.output[0]
            for (position, i) in chain.enumerated() {
                var n = nodes[i]
                n.input[0] = previous
                n.output = [position == chain.count - 1 ? pooled : fresh("\(n.name).pooled")]
                n.name = n.output[0] == pooled ? nodes[pool].name : n.output[0]
                previous = n.output[0]
                moved.append(n)
            }
            nodes.replaceSubrange(pool...pool, with: moved)
            for i in chain.reversed() { nodes.remove(at: i) }
            index -= 1
        }
    }

    /// A conv layer in QDQ form (see ``QDQLayer``).
    mutating func emitQuantizedConv(_ conv: Conv2d, _ x: Value, _ q: QDQLayer) throws -> Value {
        guard x.rank == 4 else { throw ONNXExportError(layer: conv.name, reason: "expected a 4-D input, got rank \(x.rank)") }
        var input = try scaled(conv, x, convolution: true)
        if let a = q.input { input = quantizeDequantize(input, a, name: "\(conv.name).input") }
        var inputs = [input, try quantizedWeight(conv.name, conv.weight, q.weight)]
        if let bias = conv.bias {
            inputs.append(try q.integerBiasInput.map { try quantizedBias(conv.name, bias, input: $0, weight: q.weight) } ?? initializer("\(conv.name).bias", bias))
        }
        let p = conv.padding, s = conv.stride, k = conv.kernel
        var y = node("Conv", inputs, name: conv.name, attributes: [
            Self.ints("kernel_shape", [k, k]), Self.ints("strides", [s, s]), Self.ints("pads", [p, p, p, p]),
            Self.ints("dilations", [1, 1]), Self.int("group", conv.groups),
        ])
        if let o = q.output { y = quantizeDequantize(y, o, name: "\(conv.name).output") }
        return Value(name: y, rank: 4)
    }

    /// A linear layer in QDQ form: Gemm on `[N, D]`, MatMul (+ Add) on token tensors.
    mutating func emitQuantizedLinear(_ linear: Linear, _ x: Value, _ q: QDQLayer) throws -> Value {
        var input = try scaled(linear, x, convolution: false)
        if let a = q.input { input = quantizeDequantize(input, a, name: "\(linear.name).input") }
        let bias = try linear.bias.map { b in
            try q.integerBiasInput.map { try quantizedBias(linear.name, b, input: $0, weight: q.weight) } ?? initializer("\(linear.name).bias", b)
        }
        var y: String
        if x.rank == 2 {
            y = node("Gemm", [input, try quantizedWeight(linear.name, linear.weight, q.weight)] + (bias.map { [$0] } ?? []),
                     name: linear.name, attributes: [Self.int("transB", 1)])
        } else {
            y = node("MatMul", [input, try quantizedWeight(linear.name, linear.weight, q.weight, transposed: true)],
                     name: bias == nil ? linear.name : "\(linear.name).matmul")
            if let bias { y = node("Add", [y, bias], name: linear.name) }
        }
        if let o = q.output { y = quantizeDequantize(y, o, name: "\(linear.name).output") }
        return Value(name: y, rank: x.rank)
    }
}
