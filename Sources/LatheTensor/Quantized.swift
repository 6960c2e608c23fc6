import CTorch
import Synchronization

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

/// The CPU features that decide how libtorch's int8 kernels accumulate, detected at run time.
public struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let avx2 = CPUFeatures(rawValue: Int32(CT_CPU_AVX2))
    public static let avx512bw = CPUFeatures(rawValue: Int32(CT_CPU_AVX512BW))
    /// AVX512-VNNI: u8 x s8 products accumulate straight into 32 bits.
    public static let avx512VNNI = CPUFeatures(rawValue: Int32(CT_CPU_AVX512_VNNI))
    /// AVX-VNNI, the VEX-encoded form of the same instruction.
    public static let avxVNNI = CPUFeatures(rawValue: Int32(CT_CPU_AVX_VNNI))

    /// The features of the CPU this process runs on (and that its OS enables).
    public static var current: CPUFeatures { CPUFeatures(rawValue: ct_cpu_features()) }

    /// E.g. `avx2 avx512bw avx512-vnni`, or `none`.
    public var description: String {
        let names: [(CPUFeatures, String)] = [(.avx2, "avx2"), (.avx512bw, "avx512bw"), (.avx512VNNI, "avx512-vnni"), (.avxVNNI, "avx-vnni")]
        let present = names.filter { contains($0.0) }.map(\.1)
        return present.isEmpty ? "none" : present.joined(separator: " ")
    }
}

extension QuantizedEngine {
    private static let activationLimits = Mutex<[Int32: Int]>([:])

    /// The largest quint8 activation code (127 or 255) that this engine's kernels accumulate
    /// exactly on this CPU.
    ///
    /// x86 int8 kernels without VNNI multiply u8 activations by s8 weights with `vpmaddubsw`,
    /// which adds each pair of products in *saturating 16-bit* arithmetic: 2 x 255 x 127
    /// overflows, 2 x 127 x 128 does not. PyTorch's x86 backends therefore quantize
    /// activations to 7 bits on such CPUs (`reduce_range`). Which kernel an engine picks
    /// depends on the CPU and the library build, so this is measured, once per engine and
    /// process: a linear and a 1x1 convolution whose every product pair saturates 16 bits are
    /// run with full-range codes, and 255 is returned only if both are exact.
    public func activationQMax() throws -> Int {
        if let known = Self.activationLimits.withLock({ $0[rawValue] }) { return known }
        let previous = QuantizedEngine.current
        defer { try? previous?.activate() }
        try activate()
        let exact = try Self.accumulatesFullRangeExactly()
        let limit = exact ? 255 : 127
        Self.activationLimits.withLock { $0[rawValue] = limit }
        return limit
    }

    /// Runs the saturation probe on the current engine: 64 products of codes 255 x 127 (each
    /// value 1.0) must sum to 64, which a saturating pairwise accumulation reads as about 32.
    private static func accumulatesFullRangeExactly() throws -> Bool {
        let k = 64, expected = Float(k)
        let outScale = Double(expected) / 200
        let weightScale = 1.0 / 127, inputScale = 1.0 / 255
        let linearW = try Tensor.ones([1, k]).quantized(scale: weightScale, zeroPoint: 0, dtype: .qint8)
        let linearX = try Tensor.ones([1, k]).quantized(scale: inputScale, zeroPoint: 0, dtype: .quint8)
        let linear = try linearX.quantizedLinear(PackedWeights.linear(weight: linearW, bias: nil), scale: outScale, zeroPoint: 0)
        let convW = try Tensor.ones([1, k, 1, 1]).quantized(scale: weightScale, zeroPoint: 0, dtype: .qint8)
        let convX = try Tensor.ones([1, k, 1, 1]).quantized(scale: inputScale, zeroPoint: 0, dtype: .quint8)
        let conv = try convX.quantizedConv2d(PackedWeights.conv2d(weight: convW, bias: nil, stride: 1, padding: 0, groups: 1),
                                             scale: outScale, zeroPoint: 0)
        let got = try linear.dequantized().scalars(as: Float.self) + conv.dequantized().scalars(as: Float.self)
        return got.allSatisfy { abs($0 - expected) <= Float(outScale) }
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
