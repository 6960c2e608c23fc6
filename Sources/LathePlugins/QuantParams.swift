import CLathePlugin

/// Quantization parameters a quantizer reported for one tensor (copied out of the plugin).
public struct QuantParams: Sendable, Equatable, Codable {
    /// How values map to codes.
    public enum Scheme: String, Sendable, Codable {
        case affine, symmetric, binary, ternary, powerOfTwo = "power-of-two", codebook
        /// x -> scale * e(x / scale), e() rounding to `elementFormat` (ABI 1.1).
        case minifloat
    }
    public var scheme: Scheme
    public var bits: Int
    /// Channel axis of per-channel parameters, or -1. Group parameters have axis 0.
    public var axis: Int
    public var qmin: Int
    public var qmax: Int
    public var scales: [Float]
    public var zeroPoints: [Int32]
    public var codebook: [Float]
    /// 0: per tensor or per channel as `axis` says. > 0: one scale (and zero point) per group of
    /// `groupSize` consecutive elements of a row (dimension 0 being the rows), row-major; the
    /// last group of a row may be shorter.
    public var groupSize: Int
    /// `int` for every scheme but `minifloat`.
    public var elementFormat: ElementFormat
    /// How the scales are stored (and counted in `storageBytes`).
    public var scaleFormat: ScaleFormat

    public init(scheme: Scheme, bits: Int, axis: Int, qmin: Int = 0, qmax: Int = 0,
                scales: [Float] = [], zeroPoints: [Int32] = [], codebook: [Float] = [],
                groupSize: Int = 0, elementFormat: ElementFormat = .int, scaleFormat: ScaleFormat = .fp32) {
        self.scheme = scheme
        self.bits = bits
        self.axis = axis
        self.qmin = qmin
        self.qmax = qmax
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.codebook = codebook
        self.groupSize = groupSize
        self.elementFormat = elementFormat
        self.scaleFormat = scaleFormat
    }

    enum CodingKeys: String, CodingKey {
        case scheme, bits, axis, qmin, qmax, scales, zeroPoints, codebook, groupSize, elementFormat, scaleFormat
    }

    /// Decodes what `encode(to:)` wrote; parameters recorded before ABI 1.1 (no group size,
    /// element or scale format) decode as per tensor/channel integers with fp32 scales.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(scheme: try c.decode(Scheme.self, forKey: .scheme), bits: try c.decode(Int.self, forKey: .bits),
                  axis: try c.decode(Int.self, forKey: .axis), qmin: try c.decode(Int.self, forKey: .qmin),
                  qmax: try c.decode(Int.self, forKey: .qmax), scales: try c.decode([Float].self, forKey: .scales),
                  zeroPoints: try c.decode([Int32].self, forKey: .zeroPoints), codebook: try c.decode([Float].self, forKey: .codebook),
                  groupSize: try c.decodeIfPresent(Int.self, forKey: .groupSize) ?? 0,
                  elementFormat: try c.decodeIfPresent(ElementFormat.self, forKey: .elementFormat) ?? .int,
                  scaleFormat: try c.decodeIfPresent(ScaleFormat.self, forKey: .scaleFormat) ?? .fp32)
    }

    /// Bits of the quantization parameters: scales at their format's width, zero points as
    /// int32 (when any is non-zero) and codebook entries as fp32.
    public var parameterBits: Int {
        let zeroPointBits = zeroPoints.contains { $0 != 0 } ? 32 * zeroPoints.count : 0
        return scaleFormat.bits * scales.count + zeroPointBits + 32 * codebook.count
    }

    /// Bytes the quantized tensor of `count` elements occupies at its real bit width (the
    /// payload rounded up to whole bytes), with its scales at their format's width (fp32 4,
    /// fp16/bf16 2, E8M0 1), zero points (int32, if any is non-zero) and codebook (fp32).
    public func storageBytes(elements count: Int) -> Int {
        (count * bits + 7) / 8 + parameterBits / 8
    }

    /// Storage bits per element, parameters included: INT4 in groups of 128 with fp16 scales is
    /// 4 + 16/128 = 4.125; MXFP4 (E2M1 in blocks of 32, E8M0 scales) 4.25. 0 for no elements.
    public func effectiveBits(elements count: Int) -> Double {
        guard count > 0 else { return 0 }
        return Double(bits) + Double(parameterBits) / Double(count)
    }

    /// Reads the plugin's `lathe_qparams` at `pointer` (its declared size, from ABI 1.0's up: the
    /// [1.1] fields of a 1.0 plugin read as 0, i.e. no groups, integer elements, fp32 scales) for
    /// an input of `shape`, and validates it.
    init(reading pointer: UnsafeRawPointer, shape: [Int]) throws {
        let head = ABIStruct.head(pointer)
        guard Int(head.abi_major) == ABI.major, Int(head.size) >= ABIStruct.qparams1_0 else {
            throw PluginError("malformed lathe_qparams (ABI \(head.abi_major), size \(head.size); at least the 1.0 size \(ABIStruct.qparams1_0) expected)")
        }
        let q = ABIStruct.read(pointer, as: lathe_qparams.self, declared: Int(head.size))
        let scheme: Scheme
        switch q.scheme {
        case Int32(LATHE_QSCHEME_AFFINE.rawValue): scheme = .affine
        case Int32(LATHE_QSCHEME_SYMMETRIC.rawValue): scheme = .symmetric
        case Int32(LATHE_QSCHEME_BINARY.rawValue): scheme = .binary
        case Int32(LATHE_QSCHEME_TERNARY.rawValue): scheme = .ternary
        case Int32(LATHE_QSCHEME_POWER_OF_TWO.rawValue): scheme = .powerOfTwo
        case Int32(LATHE_QSCHEME_CODEBOOK.rawValue): scheme = .codebook
        case Int32(LATHE_QSCHEME_MINIFLOAT.rawValue): scheme = .minifloat
        default: throw PluginError("qparams: unknown scheme \(q.scheme)")
        }
        guard (1...16).contains(Int(q.bits)) else {
            throw PluginError("qparams: bits \(q.bits) outside 1...16")
        }
        let (element, scaleFormat) = try Self.formats(q, scheme: scheme)
        let axis = Int(q.axis)
        let groupSize = Int(q.group_size)
        let expected = try Self.expectedCount(axis: axis, groupSize: groupSize, shape: shape)
        let count = Int(q.count)
        var scales: [Float] = []
        if let pointer = q.scales {
            guard count == expected else {
                throw PluginError("qparams: \(count) scales for \(Self.layout(axis: axis, groupSize: groupSize, shape: shape)); expected \(expected)")
            }
            scales = Array(UnsafeBufferPointer(start: pointer, count: count))
            guard scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw PluginError("qparams: scales must be finite and positive")
            }
            if let index = scales.firstIndex(where: { !scaleFormat.represents($0) }) {
                throw PluginError("qparams: scale \(index) (\(scales[index])) is not exactly a \(scaleFormat.rawValue) value, the scale format reported\(scaleFormat == .e8m0 ? " (a power of two 2^-127...2^127)" : "")")
            }
        } else if scheme == .affine || scheme == .symmetric || scheme == .minifloat {
            throw PluginError("qparams: an \(scheme.rawValue) quantizer must report scales")
        }
        var zeroPoints: [Int32] = []
        if let pointer = q.zero_points {
            guard count == expected else {
                throw PluginError("qparams: \(count) zero points for \(Self.layout(axis: axis, groupSize: groupSize, shape: shape)); expected \(expected)")
            }
            zeroPoints = Array(UnsafeBufferPointer(start: pointer, count: count))
        }
        if scheme == .affine || scheme == .symmetric {
            guard q.qmin < q.qmax else { throw PluginError("qparams: qmin \(q.qmin) must be below qmax \(q.qmax)") }
            guard Int(q.qmax) - Int(q.qmin) < (1 << Int(q.bits)) else {
                throw PluginError("qparams: range [\(q.qmin), \(q.qmax)] does not fit in \(q.bits) bits")
            }
            guard zeroPoints.allSatisfy({ $0 >= q.qmin && $0 <= q.qmax }) else {
                throw PluginError("qparams: zero points outside [\(q.qmin), \(q.qmax)]")
            }
        }
        var codebook: [Float] = []
        if scheme == .codebook {
            guard let pointer = q.codebook, q.codebook_size > 0, Int(q.codebook_size) <= (1 << Int(q.bits)) else {
                throw PluginError("qparams: a codebook quantizer reports 1...2^bits centroids (got \(q.codebook_size) for \(q.bits) bits)")
            }
            codebook = Array(UnsafeBufferPointer(start: pointer, count: Int(q.codebook_size)))
        }
        self.init(scheme: scheme, bits: Int(q.bits), axis: axis, qmin: Int(q.qmin), qmax: Int(q.qmax),
                  scales: scales, zeroPoints: zeroPoints, codebook: codebook,
                  groupSize: groupSize, elementFormat: element, scaleFormat: scaleFormat)
    }

    /// The element and scale formats of `q`: known values, a floating-point element format (of
    /// width `bits`) exactly for the minifloat scheme.
    private static func formats(_ q: lathe_qparams, scheme: Scheme) throws -> (ElementFormat, ScaleFormat) {
        guard let element = ElementFormat(abi: q.element_format) else {
            throw PluginError("qparams: unknown element format \(q.element_format)")
        }
        guard let scaleFormat = ScaleFormat(abi: q.scale_format) else {
            throw PluginError("qparams: unknown scale format \(q.scale_format)")
        }
        if scheme == .minifloat {
            guard let width = element.width else {
                throw PluginError("qparams: a minifloat quantizer must report a floating-point element format (fp8-e4m3, fp8-e5m2, fp6-e2m3, fp6-e3m2 or fp4-e2m1), got int")
            }
            guard width == Int(q.bits) else {
                throw PluginError("qparams: element format \(element.rawValue) is \(width) bits wide, but \(q.bits) bits reported")
            }
        } else if element != .int {
            throw PluginError("qparams: a \(scheme.rawValue) quantizer has integer elements, got element format \(element.rawValue) (only minifloat has floating-point elements)")
        }
        return (element, scaleFormat)
    }

    /// The number of scales (and zero points) the layout needs: 1 per tensor, shape[axis] per
    /// channel, shape[0] * ceil(row / groupSize) in groups (row: the elements after dimension 0).
    private static func expectedCount(axis: Int, groupSize: Int, shape: [Int]) throws -> Int {
        guard groupSize >= 0 else { throw PluginError("qparams: group_size \(groupSize) is negative") }
        if groupSize > 0 {
            guard axis == 0, let rows = shape.first else {
                throw PluginError("qparams: group_size \(groupSize) needs axis 0 (groups along the rows of dimension 0), got axis \(axis) for a \(shape.count)-d input")
            }
            var row = 1
            for extent in shape.dropFirst() {
                let (product, overflow) = row.multipliedReportingOverflow(by: extent)
                guard !overflow else { throw PluginError("qparams: input shape \(shape) overflows") }
                row = product
            }
            let perRow = row / groupSize + (row % groupSize == 0 ? 0 : 1)
            let (count, overflow) = rows.multipliedReportingOverflow(by: perRow)
            guard !overflow else { throw PluginError("qparams: input shape \(shape) overflows") }
            return count
        }
        if axis == -1 { return 1 }
        guard shape.indices.contains(axis) else {
            throw PluginError("qparams: axis \(axis) is not -1 or a dimension of the \(shape.count)-d input")
        }
        return shape[axis]
    }

    /// "axis 0", or "groups of 32 along the rows of [8, 36]".
    private static func layout(axis: Int, groupSize: Int, shape: [Int]) -> String {
        groupSize > 0 ? "groups of \(groupSize) along the rows of \(shape)" : "axis \(axis)"
    }
}
