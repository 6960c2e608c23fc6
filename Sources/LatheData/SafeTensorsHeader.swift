import Foundation

/// The JSON header of a safetensors file, decoded strictly: every key but `__metadata__` is a
/// tensor `{"dtype", "shape", "data_offsets": [begin, end]}` with a known dtype and
/// non-negative integers (fractions, strings and numbers beyond Int are refused, not rounded
/// or dropped).
struct SafeTensorsHeader: Decodable {
    /// One tensor's declared type, shape and byte range in the data buffer.
    struct Info {
        var dtype: SafeTensors.DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Why a header was refused (the caller adds the file's path).
    struct Problem: Error {
        var reason: String
    }

    var tensors: [String: Info] = [:]
    var metadata: [String: String] = [:]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct RawInfo: Decodable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            let name = key.stringValue
            if name == "__metadata__" {
                if try container.decodeNil(forKey: key) { continue }
                guard let values = try? container.decode([String: String].self, forKey: key) else {
                    throw Problem(reason: "__metadata__ must map strings to strings")
                }
                metadata = values
                continue
            }
            guard let raw = try? container.decode(RawInfo.self, forKey: key), raw.data_offsets.count == 2 else {
                throw Problem(reason: "tensor '\(name)': expected {\"dtype\": string, \"shape\": [integers], \"data_offsets\": [begin, end]}")
            }
            guard let dtype = SafeTensors.DType(rawValue: raw.dtype) else {
                let known = SafeTensors.DType.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem(reason: "tensor '\(name)': unknown dtype '\(raw.dtype)'; expected one of \(known)")
            }
            guard raw.shape.allSatisfy({ $0 >= 0 }) else {
                throw Problem(reason: "tensor '\(name)': negative dimension in shape \(raw.shape)")
            }
            guard raw.data_offsets.allSatisfy({ $0 >= 0 }) else {
                throw Problem(reason: "tensor '\(name)': negative data_offsets \(raw.data_offsets)")
            }
            tensors[name] = Info(dtype: dtype, shape: raw.shape, begin: raw.data_offsets[0], end: raw.data_offsets[1])
        }
    }
}
