import CLathePlugin

/// How the elements of a quantized tensor are encoded (`lathe_element_format`): integers for
/// every scheme but `minifloat`, else an OCP 8-bit, 6-bit or 4-bit floating-point format.
public enum ElementFormat: String, Sendable, Codable, CaseIterable {
    case int
    case fp8E4M3 = "fp8-e4m3", fp8E5M2 = "fp8-e5m2", fp6E2M3 = "fp6-e2m3", fp6E3M2 = "fp6-e3m2", fp4E2M1 = "fp4-e2m1"

    /// The format of the ABI value, nil for an unknown one.
    init?(abi value: Int32) {
        switch value {
        case Int32(LATHE_ELEMENT_INT.rawValue): self = .int
        case Int32(LATHE_ELEMENT_FP8_E4M3.rawValue): self = .fp8E4M3
        case Int32(LATHE_ELEMENT_FP8_E5M2.rawValue): self = .fp8E5M2
        case Int32(LATHE_ELEMENT_FP6_E2M3.rawValue): self = .fp6E2M3
        case Int32(LATHE_ELEMENT_FP6_E3M2.rawValue): self = .fp6E3M2
        case Int32(LATHE_ELEMENT_FP4_E2M1.rawValue): self = .fp4E2M1
        default: return nil
        }
    }

    /// Bits of one element of a floating-point format (nil for `int`, whose width is `bits`).
    public var width: Int? {
        switch self {
        case .int: return nil
        case .fp8E4M3, .fp8E5M2: return 8
        case .fp6E2M3, .fp6E3M2: return 6
        case .fp4E2M1: return 4
        }
    }

    /// The largest finite magnitude of a floating-point format (nil for `int`).
    public var maxFinite: Float? {
        switch self {
        case .int: return nil
        case .fp8E4M3: return 448
        case .fp8E5M2: return 57344
        case .fp6E2M3: return 7.5
        case .fp6E3M2: return 28
        case .fp4E2M1: return 6
        }
    }
}

/// How the scales of a quantized tensor are stored in the deployed format (`lathe_scale_format`).
public enum ScaleFormat: String, Sendable, Codable, CaseIterable {
    case fp32, fp16, bf16, e8m0

    /// The format of the ABI value, nil for an unknown one.
    init?(abi value: Int32) {
        switch value {
        case Int32(LATHE_SCALE_FP32.rawValue): self = .fp32
        case Int32(LATHE_SCALE_FP16.rawValue): self = .fp16
        case Int32(LATHE_SCALE_BF16.rawValue): self = .bf16
        case Int32(LATHE_SCALE_E8M0.rawValue): self = .e8m0
        default: return nil
        }
    }

    /// Bits of one stored scale.
    public var bits: Int {
        switch self {
        case .fp32: return 32
        case .fp16, .bf16: return 16
        case .e8m0: return 8
        }
    }

    /// Whether the positive finite float `s` is exactly a value of this format: fp16 (down to
    /// its subnormals, 2^-24, up to 65504), bf16 (the float's low 16 bits zero) or E8M0 (a power
    /// of two 2^-127...2^127).
    public func represents(_ s: Float) -> Bool {
        guard s.isFinite, s > 0 else { return false }
        switch self {
        case .fp32:
            return true
        case .fp16:
            // Fraction bits available at exponent e: 10 for normals (e >= -14), 24 + e below.
            let e = Int(s.exponent)
            return (-24...15).contains(e) && Int(s.significandWidth) <= Swift.min(10, 24 + e)
        case .bf16:
            return s.bitPattern & 0xFFFF == 0
        case .e8m0:
            return s.significandWidth == 0 && (-127...127).contains(Int(s.exponent))
        }
    }
}
