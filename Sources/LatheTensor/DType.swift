import CTorch

/// Element type of a tensor (values match libtorch's `ScalarType`).
public enum DType: Int32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, int16 = 2, int32 = 3, int64 = 4
    case float16 = 5, float32 = 6, float64 = 7, bool = 11
    case qint8 = 12, quint8 = 13, qint32 = 14

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .uint8, .int8, .bool, .qint8, .quint8: 1
        case .int16, .float16: 2
        case .int32, .float32, .qint32: 4
        case .int64, .float64: 8
        }
    }

    /// Whether values are floating point.
    public var isFloatingPoint: Bool { self == .float16 || self == .float32 || self == .float64 }
}

/// Swift scalar types that map one-to-one onto a tensor element type.
public protocol TensorScalar: Sendable {
    /// The tensor element type holding values of this Swift type.
    static var dtype: DType { get }
}
extension Float: TensorScalar { public static var dtype: DType { .float32 } }
extension Double: TensorScalar { public static var dtype: DType { .float64 } }
extension Int64: TensorScalar { public static var dtype: DType { .int64 } }
extension Int32: TensorScalar { public static var dtype: DType { .int32 } }
extension UInt8: TensorScalar { public static var dtype: DType { .uint8 } }
extension Int8: TensorScalar { public static var dtype: DType { .int8 } }
extension Bool: TensorScalar { public static var dtype: DType { .bool } }
