import CTorch

/// libtorch's integer kernels for real int8 inference (QNNPACK, oneDNN; FBGEMM is absent
/// from Debian's build).
public enum QuantizedEngine: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case fbgemm = 1, qnnpack = 2, onednn = 3

    /// Engines this libtorch build provides.
    public static var supported: [QuantizedEngine] {
        var codes = [Int32](repeating: 0, count: 8)
        let n = Int(ct_supported_qengines(&codes, 8))
        return codes.prefix(Swift.min(n, 8)).compactMap(QuantizedEngine.init(rawValue:))
    }

    /// The engine used by prepacking and quantized ops (process-wide).
    public static var current: QuantizedEngine? { QuantizedEngine(rawValue: ct_get_qengine()) }

    /// Makes this engine current.
    public func activate() throws {
        try checkStatus(ct_set_qengine(rawValue), "set quantized engine \(self)")
    }

    public var description: String {
        switch self {
        case .fbgemm: "fbgemm"
        case .qnnpack: "qnnpack"
        case .onednn: "onednn"
        }
    }
}

extension Tensor {
    /// Affine per-tensor quantization: q = clamp(round(x / scale) + zeroPoint).
    public func quantized(scale: Double, zeroPoint: Int, dtype: DType) throws -> Tensor {
        try Tensor.make(ct_quantize_per_tensor(handle, scale, Int64(zeroPoint), dtype.rawValue), "quantize_per_tensor(\(dtype))")
    }

    /// Affine per-channel quantization along `axis` with float64 `scales` and int64 `zeroPoints`.
    public func quantized(scales: Tensor, zeroPoints: Tensor, axis: Int, dtype: DType) throws -> Tensor {
        try Tensor.make(
            ct_quantize_per_channel(handle, scales.handle, zeroPoints.handle, Int64(axis), dtype.rawValue),
            "quantize_per_channel(axis \(axis), \(dtype))")
    }

    /// Float values of a quantized tensor.
    public func dequantized() throws -> Tensor { try Tensor.make(ct_dequantize(handle), "dequantize") }

    /// The integer storage of a quantized tensor.
    public func integerRepresentation() throws -> Tensor { try Tensor.make(ct_int_repr(handle), "int_repr") }

    /// Scale and zero point of a per-tensor quantized tensor.
    public func quantizationParameters() throws -> (scale: Double, zeroPoint: Int) {
        var scale = 0.0
        var zp: Int64 = 0
        try checkStatus(ct_q_params(handle, &scale, &zp), "q_params")
        return (scale, Int(zp))
    }
}

/// Int8 weights prepacked for the engine that was current when they were packed.
///
/// Threading: immutable after creation; safe to share for inference.
public final class PackedWeights: @unchecked Sendable {
    let handle: ct_packed

    private init(handle: ct_packed) { self.handle = handle }
    deinit { ct_packed_free(handle) }

    /// Packs a qint8 `[out, in]` weight and a float bias for `quantizedLinear`.
    public static func linear(weight: Tensor, bias: Tensor?) throws -> PackedWeights {
        guard let h = withExtendedLifetime(bias, { ct_qlinear_prepack(weight.handle, bias?.handle) }) else {
            throw TensorError.last("quantized::linear_prepack (weight \(weight.shape))")
        }
        return PackedWeights(handle: h)
    }

    /// Packs a qint8 conv weight and a float bias for `quantizedConv2d`.
    public static func conv2d(weight: Tensor, bias: Tensor?, stride: Int, padding: Int, groups: Int) throws -> PackedWeights {
        let s: [Int64] = [Int64(stride), Int64(stride)], p: [Int64] = [Int64(padding), Int64(padding)], d: [Int64] = [1, 1]
        guard let h = withExtendedLifetime(bias, { ct_qconv2d_prepack(weight.handle, bias?.handle, s, p, d, Int64(groups)) }) else {
            throw TensorError.last("quantized::conv2d_prepack (weight \(weight.shape))")
        }
        return PackedWeights(handle: h)
    }
}

extension Tensor {
    /// Integer linear layer on a quint8 input, producing quint8 with the given output quantization.
    public func quantizedLinear(_ weights: PackedWeights, scale: Double, zeroPoint: Int, relu: Bool = false) throws -> Tensor {
        try withExtendedLifetime(weights) {
            try Tensor.make(ct_qlinear(handle, weights.handle, scale, Int64(zeroPoint), relu), "quantized::linear(input \(shape))")
        }
    }

    /// Integer 2-D convolution on a quint8 NCHW input.
    public func quantizedConv2d(_ weights: PackedWeights, scale: Double, zeroPoint: Int, relu: Bool = false) throws -> Tensor {
        try withExtendedLifetime(weights) {
            try Tensor.make(ct_qconv2d(handle, weights.handle, scale, Int64(zeroPoint), relu), "quantized::conv2d(input \(shape))")
        }
    }
}
