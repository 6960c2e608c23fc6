import Foundation
import LatheIO

/// The safetensors file format (Hugging Face): an 8-byte little-endian header length N, N
/// bytes of JSON `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
/// {string: string}}`, then the tensor bytes (little-endian, row-major).
public struct SafeTensors: Sendable {
    /// Element types of the format.
    public enum DType: String, Sendable, CaseIterable {
        case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

        /// Bytes per element.
        public var byteWidth: Int {
            switch self {
            case .F64, .I64: 8
            case .F32, .I32: 4
            case .F16, .BF16, .I16: 2
            case .I8, .U8, .BOOL: 1
            }
        }
    }

    /// One stored tensor.
    public struct Entry: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        /// An entry; `bytes` must hold `shape.product · dtype.byteWidth` bytes.
        public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    public var tensors: [String: Entry]
    public var metadata: [String: String]

    /// A file's contents.
    public init(tensors: [String: Entry], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Largest accepted JSON header, as in Python's `safetensors` (100 MB).
    static let maxHeaderLength = 100_000_000

    /// Reads and validates a file with the rules of Python's `safetensors`: a header length
    /// within the file and at most 100 MB, a JSON object header, known dtypes, non-negative
    /// integer shapes whose byte size does not overflow, and tensor data that tiles the data
    /// buffer exactly (sorted by offset, each starting where the previous ends: no overlap, no
    /// gap, nothing after the last) with each tensor's byte length equal to its shape's.
    public static func read(path: String) throws -> SafeTensors {
        try decode(FileBytes.read(path, inflate: false), path: path)
    }

    /// The header's `__metadata__` alone, read without the tensor data (only the 8-byte length
    /// and the JSON header come off the disk): what a command needs to learn, say, the data set a
    /// checkpoint records before it loads the weights. The header gets `read(path:)`'s checks
    /// (length within the file and the limit, a JSON object); the tensor data is not looked at.
    public static func metadata(path: String) throws -> [String: String] {
        let prefix = try FileBytes.head(path, count: 8)
        let headerLength = try checkedHeaderLength(prefix.bytes, fileSize: prefix.fileSize, path: path)
        let head = try FileBytes.head(path, count: 8 + headerLength)
        guard head.bytes.count == 8 + headerLength else {
            throw DataError.truncated(path: path, expectedBytes: 8 + headerLength, foundBytes: head.bytes.count, what: "the JSON header")
        }
        return try decodeHeader(head.bytes[8...], path: path).metadata
    }

    /// Decodes and validates a file's bytes (see `read(path:)`); `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> SafeTensors {
        let headerLength = try checkedHeaderLength(bytes, fileSize: bytes.count, path: path)
        let dataStart = 8 + headerLength
        let header = try decodeHeader(bytes[8..<dataStart], path: path)
        let dataSize = bytes.count - dataStart
        var tensors: [String: Entry] = [:]
        var end = 0, previous: String?
        for (name, info) in header.tensors.sorted(by: { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }) {
            let span = "data_offsets [\(info.begin), \(info.end)]"
            guard info.begin <= info.end, info.end <= dataSize else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': \(span) outside the \(dataSize)-byte data buffer")
            }
            guard info.begin == end else {
                let after = previous.map { "tensor '\($0)', which ends at \(end)" } ?? "the start of the data buffer"
                let problem = info.begin < end ? "overlap" : "leave a gap after"
                throw DataError.invalid(path: path, reason: "tensor '\(name)': \(span) \(problem) \(after)")
            }
            guard let expected = byteCount(shape: info.shape, dtype: info.dtype) else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': shape \(info.shape) of \(info.dtype.rawValue) is too large (its byte size overflows)")
            }
            guard info.end - info.begin == expected else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': \(span) hold \(info.end - info.begin) bytes; shape \(info.shape) of \(info.dtype.rawValue) needs \(expected)")
            }
            tensors[name] = Entry(dtype: info.dtype, shape: info.shape, bytes: Array(bytes[(dataStart + info.begin)..<(dataStart + info.end)]))
            end = info.end
            previous = name
        }
        guard end == dataSize else {
            throw DataError.invalid(path: path, reason: "\(dataSize - end) bytes after the last tensor's data (the data buffer must end at byte \(end))")
        }
        return SafeTensors(tensors: tensors, metadata: header.metadata)
    }

    /// The little-endian header length in a file's first 8 bytes, checked against the limit and
    /// the file's size.
    private static func checkedHeaderLength(_ bytes: [UInt8], fileSize: Int, path: String) throws -> Int {
        guard bytes.count >= 8 else {
            throw DataError.truncated(path: path, expectedBytes: 8, foundBytes: bytes.count, what: "the safetensors header length")
        }
        let declared = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard declared <= UInt64(maxHeaderLength) else {
            throw DataError.invalid(path: path, reason: "safetensors header length \(declared) exceeds the \(maxHeaderLength)-byte limit")
        }
        let headerLength = Int(declared)
        guard headerLength <= fileSize - 8 else {
            throw DataError.truncated(path: path, expectedBytes: 8 + headerLength, foundBytes: fileSize, what: "the JSON header")
        }
        return headerLength
    }

    /// The JSON header (tensor table and `__metadata__`), or an error naming what is wrong with it.
    private static func decodeHeader(_ json: ArraySlice<UInt8>, path: String) throws -> SafeTensorsHeader {
        do {
            return try JSONDecoder().decode(SafeTensorsHeader.self, from: Data(json))
        } catch let problem as SafeTensorsHeader.Problem {
            throw DataError.invalid(path: path, reason: problem.reason)
        } catch {
            throw DataError.invalid(path: path, reason: "the safetensors header is not a JSON object")
        }
    }

    /// `shape.product · dtype.byteWidth`, or nil when a dimension is negative or the product overflows.
    public static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var total = dtype.byteWidth
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            total = product
        }
        return total
    }

    /// The file's bytes: tensors sorted by name, header padded with spaces to 8 bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard let entry = tensors[name] else { continue }
            guard let expected = Self.byteCount(shape: entry.shape, dtype: entry.dtype), entry.bytes.count == expected else {
                throw DataError.invalid(path: "<safetensors>", reason: "tensor '\(name)' has \(entry.bytes.count) bytes, which do not fill shape \(entry.shape) of \(entry.dtype.rawValue)")
            }
            header[name] = ["dtype": entry.dtype.rawValue, "shape": entry.shape, "data_offsets": [offset, offset + expected]] as [String: Any]
            offset += expected
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        let n = UInt64(json.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        out += json
        for name in names { out += tensors[name]?.bytes ?? [] }
        return out
    }

    /// Writes the file atomically (`atomicWrite`): readers see the old file or the new one.
    public func write(path: String) throws {
        try atomicWrite(Data(try encoded()), to: URL(fileURLWithPath: path))
    }
}
