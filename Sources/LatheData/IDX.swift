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

        /// An array of `dimensions` whose elements are `bytes`, big-endian (for `encode`).
        public init(elementType: ElementType, dimensions: [Int], bytes: [UInt8]) {
            self.elementType = elementType
            self.dimensions = dimensions
            self.bytes = bytes
        }

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

    /// Reads and validates an IDX file (plain or gzipped). A gzipped file is inflated only as
    /// far as its header's dimensions need, so a stream that inflates to more is refused
    /// without holding the excess in memory.
    public static func read(path: String) throws -> IDX.Array {
        let raw = try FileBytes.read(path, inflate: false)
        guard Gzip.isGzip(raw) else { return try decode(raw, path: path) }
        let largestHeader = 4 + 4 * Int(UInt8.max)
        let start = try Gzip.decompress(raw, path: path, limit: largestHeader)
        let size = try layout(start, path: path).fileSize
        let bytes = try Gzip.decompress(raw, path: path, limit: Swift.min(size, Int.max - 1) + 1)
        guard bytes.count <= size else {
            throw DataError.invalid(path: path, reason: "inflates to more than the \(size) bytes its header's dimensions need")
        }
        return try decode(bytes, path: path)
    }

    /// Decodes IDX bytes; `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> IDX.Array {
        let (type, dims, headerSize, fileSize) = try layout(bytes, path: path)
        guard bytes.count >= fileSize else {
            throw DataError.truncated(path: path, expectedBytes: fileSize, foundBytes: bytes.count,
                                      what: "dimensions \(dims.map(String.init).joined(separator: "×"))")
        }
        guard bytes.count == fileSize else {
            throw DataError.invalid(path: path, reason: "\(bytes.count - fileSize) unexpected trailing bytes after dimensions \(dims)")
        }
        return IDX.Array(elementType: type, dimensions: dims, bytes: Swift.Array(bytes[headerSize...]))
    }

    /// The element type, dimensions, header size and whole-file size that a header declares;
    /// `bytes` needs to hold only the header.
    static func layout(_ bytes: [UInt8], path: String) throws -> (type: ElementType, dimensions: [Int], headerSize: Int, fileSize: Int) {
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
        var fileSize = type.byteWidth
        for d in dims {
            let (product, overflow) = fileSize.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError.invalid(path: path, reason: "dimensions \(dims) are too large") }
            fileSize = product
        }
        let (total, overflow) = fileSize.addingReportingOverflow(headerSize)
        guard !overflow else { throw DataError.invalid(path: path, reason: "dimensions \(dims) are too large") }
        return (type, dims, headerSize, total)
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
