import Foundation

/// Why an ONNX graph could not be imported: names the file and the node, initializer or field,
/// and says what was expected.
public struct ONNXImportError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The ONNX file.
    public var path: String
    /// Every problem found (the pre-flight check collects them all; the first one otherwise).
    public var problems: [String]

    public init(path: String, problems: [String]) {
        self.path = path
        self.problems = problems
    }

    public var description: String {
        problems.count == 1 ? "\(path): \(problems[0])"
            : "\(path): \(problems.count) problems:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// One problem with the graph, thrown while a node is converted.
struct ImportProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// A dimension of a shape computed inside the graph (`Shape` → `Gather` → `Concat`): a number,
/// or the batch size, which is only known when the model runs.
enum ShapeEntry: Equatable {
    case batch
    case size(Int)
}

/// A tensor whose value is known at import time: an initializer, a `Constant`, or something
/// folded from them. Float data as Float, integer data as Int64.
struct ConstantTensor {
    var shape: [Int]
    var floats: [Float]
    var ints: [Int64]
    var isFloat: Bool
    /// The initializer it came from, if any (names free parameters).
    var source: String?

    var count: Int { shape.reduce(1, *) }

    static func float(_ values: [Float], shape: [Int], source: String? = nil) -> ConstantTensor {
        ConstantTensor(shape: shape, floats: values, ints: [], isFloat: true, source: source)
    }

    static func int(_ values: [Int64], shape: [Int]) -> ConstantTensor {
        ConstantTensor(shape: shape, floats: [], ints: values, isFloat: false, source: nil)
    }

    /// The values as Double (float or integer data).
    var doubles: [Double] { isFloat ? floats.map(Double.init) : ints.map(Double.init) }

    /// The values as integers (float data rounded toward zero).
    var integers: [Int] { isFloat ? floats.map { Int($0) } : ints.map { Int(clamping: $0) } }

    /// The single value of a one-element tensor.
    var scalar: Double? { count == 1 ? doubles.first : nil }

    /// Decodes an ONNX `TensorProto`: float, double, float16 and the integer types, from
    /// `raw_data` or the typed fields; the element count must match `dims`.
    static func decode(_ t: Onnx_TensorProto, what: String) throws -> ConstantTensor {
        guard t.dataLocation != .external else {
            throw ImportProblem("\(what) is stored as external data, which Lathe does not read (re-export with the weights inside the file)")
        }
        let dims = t.dims.map { Int($0) }
        guard dims.allSatisfy({ $0 >= 0 && $0 <= 1 << 31 }), dims.count <= 8 else {
            throw ImportProblem("\(what) has dims \(t.dims): expected at most 8 non-negative sizes")
        }
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= 1 << 31 else { throw ImportProblem("\(what) has dims \(t.dims): too many elements") }
            count = product
        }
        let type = Onnx_TensorProto.DataType(rawValue: Int(t.dataType))
        func mismatch(_ found: Int) -> ImportProblem {
            ImportProblem("\(what) has dims \(dims) (\(count) elements) but holds \(found) values")
        }
        let raw = [UInt8](t.rawData)
        func fromRaw<T>(_ width: Int, _ convert: (UnsafeRawBufferPointer, Int) -> T) throws -> [T]? {
            guard !raw.isEmpty else { return nil }
            guard raw.count == count * width else { throw mismatch(raw.count / Swift.max(width, 1)) }
            return raw.withUnsafeBytes { buffer in (0..<count).map { convert(buffer, $0 * width) } }
        }
        switch type {
        case .float:
            let values = try fromRaw(4) { b, o in Float(bitPattern: b.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian) } ?? t.floatData
            guard values.count == count else { throw mismatch(values.count) }
            return .float(values, shape: dims)
        case .double:
            let values = try fromRaw(8) { b, o in Double(bitPattern: b.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian) } ?? t.doubleData
            guard values.count == count else { throw mismatch(values.count) }
            return .float(values.map { Float($0) }, shape: dims)
        case .float16:
            let bits = try fromRaw(2) { b, o in b.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian } ?? t.int32Data.map { UInt16(truncatingIfNeeded: $0) }
            guard bits.count == count else { throw mismatch(bits.count) }
            return .float(bits.map { Float(Float16(bitPattern: $0)) }, shape: dims)
        case .int64:
            let values = try fromRaw(8) { b, o in Int64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int64.self)) } ?? t.int64Data
            guard values.count == count else { throw mismatch(values.count) }
            return .int(values, shape: dims)
        case .int32, .int16, .int8, .uint8, .bool:
            let width = type == .int32 ? 4 : type == .int16 ? 2 : 1
            let values = try fromRaw(width) { b, o -> Int64 in
                switch type {
                case .int32: Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                case .int16: Int64(Int16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int16.self)))
                case .int8: Int64(b.load(fromByteOffset: o, as: Int8.self))
                default: Int64(b.load(fromByteOffset: o, as: UInt8.self))
                }
            } ?? t.int32Data.map(Int64.init)
            guard values.count == count else { throw mismatch(values.count) }
            return .int(values, shape: dims)
        default:
            throw ImportProblem("\(what) has element type \(t.dataType) (\(type.map { "\($0)" } ?? "unknown")): expected float, double, float16 or an integer type")
        }
    }
}

/// What a graph value is while the graph is converted.
enum ImportValue {
    /// A runtime tensor of this shape (`-1`: the batch), the output of a program node.
    case activation([Int])
    /// Known at import time.
    case constant(ConstantTensor)
    /// A 1-D integer tensor computed from shapes, possibly holding the batch size.
    case shape([ShapeEntry])

    /// The entries of a shape-like value (a `shape`, or a 1-D / scalar integer constant).
    var shapeEntries: [ShapeEntry]? {
        switch self {
        case let .shape(entries): entries
        case let .constant(c) where c.shape.count <= 1: c.integers.map { .size($0) }
        default: nil
        }
    }
}

extension Onnx_NodeProto {
    /// The attribute named `name`.
    func attribute(_ name: String) -> Onnx_AttributeProto? { attribute.first { $0.name == name } }

    func int(_ name: String, default value: Int) -> Int {
        attribute(name).map { Int(clamping: $0.i) } ?? value
    }

    func float(_ name: String, default value: Float) -> Float {
        attribute(name).map(\.f) ?? value
    }

    func ints(_ name: String) -> [Int]? {
        attribute(name).map { $0.ints.map { Int(clamping: $0) } }
    }

    func string(_ name: String) -> String? {
        attribute(name).map { String(decoding: $0.s, as: UTF8.self) }
    }

    /// How errors name the node: its name, or its type and first output.
    var label: String { name.isEmpty ? "\(opType) → \(output.first ?? "?")" : name }
}
