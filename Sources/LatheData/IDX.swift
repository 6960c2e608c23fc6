/// The IDX format of LeCun's MNIST files (also Fashion-MNIST): a big-endian magic
/// `0x00 0x00 <type> <rank>`, `rank` big-endian u32 dimensions, then the elements, big-endian.
/// Files may be gzip-compressed.
public enum IDX {
    /// Element types of the format.
    public enum ElementType: UInt8, Sendable {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        /// Bytes per element.
        public var byteWidth: Int {
            switch self {
            case .uint8, .int8: 1
            case .int16: 2
            case .int32, .float32: 4
            case .float64: 8
            }
        }
    }

    /// A decoded IDX array: its type, dimensions and raw (big-endian) element bytes.
    public struct Array: Sendable {
        public let elementType: ElementType
        public let dimensions: [Int]
        /// Element bytes as stored (big-endian for multi-byte types).
        public let bytes: [UInt8]

        /// Elements converted to Float (big-endian decoded).
        public func floats() -> [Float] {
            switch elementType {
            case .uint8: return bytes.map { Float($0) }
            case .int8: return bytes.map { Float(Int8(bitPattern: $0)) }
            case .int16: return stride(from: 0, to: bytes.count, by: 2).map { Float(Int16(bitPattern: UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]))) }
            case .int32: return stride(from: 0, to: bytes.count, by: 4).map { Float(Int32(bitPattern: IDX.u32(bytes, $0))) }
            case .float32: return stride(from: 0, to: bytes.count, by: 4).map { Float(bitPattern: IDX.u32(bytes, $0)) }
            case .float64:
                return stride(from: 0, to: bytes.count, by: 8).map { i in
                    Float(Double(bitPattern: UInt64(IDX.u32(bytes, i)) << 32 | UInt64(IDX.u32(bytes, i + 4))))
                }
            }
        }
    }

    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// Reads and validates an IDX file (plain or gzipped).
    public static func read(path: String) throws -> IDX.Array {
        try decode(FileBytes.read(path), path: path)
    }

    /// Decodes IDX bytes; `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> IDX.Array {
        guard bytes.count >= 4 else {
            throw DataError.truncated(path: path, expectedBytes: 4, foundBytes: bytes.count, what: "the IDX magic number")
        }
        let magic = u32(bytes, 0)
        guard bytes[0] == 0, bytes[1] == 0, let type = ElementType(rawValue: bytes[2]), bytes[3] >= 1 else {
            throw DataError.badMagic(path: path, found: magic, expected: "an IDX file (0x000008NN–0x00000eNN with rank ≥ 1)")
        }
        let rank = Int(bytes[3])
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DataError.truncated(path: path, expectedBytes: headerSize, foundBytes: bytes.count, what: "a header of rank \(rank)")
        }
        let dims = (0..<rank).map { Int(u32(bytes, 4 + 4 * $0)) }
        let (elements, overflow) = dims.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        let (payload, overflow2) = elements.multipliedReportingOverflow(by: type.byteWidth)
        guard !overflow, !overflow2 else { throw DataError.invalid(path: path, reason: "dimensions \(dims) are too large") }
        guard bytes.count - headerSize >= payload else {
            throw DataError.truncated(path: path, expectedBytes: headerSize + payload, foundBytes: bytes.count,
                                      what: "dimensions \(dims.map(String.init).joined(separator: "×"))")
        }
        guard bytes.count - headerSize == payload else {
            throw DataError.invalid(path: path, reason: "\(bytes.count - headerSize - payload) unexpected trailing bytes after dimensions \(dims)")
        }
        return IDX.Array(elementType: type, dimensions: dims, bytes: Swift.Array(bytes[headerSize...]))
    }

    /// Encodes an IDX file (for tests and tools).
    public static func encode(_ array: IDX.Array) -> [UInt8] {
        var out: [UInt8] = [0, 0, array.elementType.rawValue, UInt8(array.dimensions.count)]
        for d in array.dimensions {
            let v = UInt32(d)
            out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        return out + array.bytes
    }
}
