import Foundation

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

    /// Reads and validates a file: header JSON, types, shapes, offsets in bounds and
    /// consistent with shapes.
    public static func read(path: String) throws -> SafeTensors {
        let bytes = try FileBytes.read(path, inflate: false)
        guard bytes.count >= 8 else {
            throw DataError.truncated(path: path, expectedBytes: 8, foundBytes: bytes.count, what: "the safetensors header length")
        }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw DataError.truncated(path: path, expectedBytes: Int(clamping: headerLength) &+ 8, foundBytes: bytes.count, what: "the JSON header")
        }
        let dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])), let header = json as? [String: Any] else {
            throw DataError.invalid(path: path, reason: "the safetensors header is not a JSON object")
        }
        var tensors: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let dataSize = bytes.count - dataStart
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else {
                    throw DataError.invalid(path: path, reason: "__metadata__ must map strings to strings")
                }
                metadata = m
                continue
            }
            guard let info = value as? [String: Any], let code = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2
            else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': expected {dtype, shape, data_offsets: [begin, end]}")
            }
            guard let dtype = DType(rawValue: code) else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': unknown dtype '\(code)'")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw DataError.invalid(path: path, reason: "tensor '\(name)': negative dimension in \(shape)") }
            let begin = offsets[0], end = offsets[1]
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': data_offsets [\(begin), \(end)] outside the \(dataSize)-byte buffer")
            }
            let expected = shape.reduce(1, *) * dtype.byteWidth
            guard end - begin == expected else {
                throw DataError.invalid(path: path, reason: "tensor '\(name)': \(end - begin) bytes for shape \(shape) of \(code), expected \(expected)")
            }
            tensors[name] = Entry(dtype: dtype, shape: shape, bytes: Array(bytes[(dataStart + begin)..<(dataStart + end)]))
        }
        return SafeTensors(tensors: tensors, metadata: metadata)
    }

    /// The file's bytes: tensors sorted by name, header padded with spaces to 8 bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard let entry = tensors[name] else { continue }
            let expected = entry.shape.reduce(1, *) * entry.dtype.byteWidth
            guard entry.bytes.count == expected else {
                throw DataError.invalid(path: "<safetensors>", reason: "tensor '\(name)' has \(entry.bytes.count) bytes for shape \(entry.shape), expected \(expected)")
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

    /// Writes the file atomically: a temporary file in the same directory, then a rename.
    public func write(path: String) throws {
        let data = Data(try encoded())
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                throw DataError.unreadable(path: path, reason: "cannot rename the temporary file into place (errno \(errno))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }
}
