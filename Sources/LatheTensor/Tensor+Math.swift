import CTorch

extension Tensor {
    func unary(_ op: ct_unary_op, _ name: String) throws -> Tensor {
        try Tensor.make(ct_unary(Int32(op.rawValue), handle), name)
    }
    func binary(_ op: ct_binary_op, _ other: Tensor, _ name: String) throws -> Tensor {
        try Tensor.make(ct_binary(Int32(op.rawValue), handle, other.handle), "\(name) (\(shape) and \(other.shape))")
    }
    func binary(_ op: ct_binary_op, _ scalar: Double, _ name: String) throws -> Tensor {
        try Tensor.make(ct_binary_scalar(Int32(op.rawValue), handle, scalar), name)
    }

    // MARK: Unary

    /// -x
    public func negated() throws -> Tensor { try unary(CT_NEG, "neg") }
    /// |x|
    public func abs() throws -> Tensor { try unary(CT_ABS, "abs") }
    /// √x
    public func sqrt() throws -> Tensor { try unary(CT_SQRT, "sqrt") }
    /// eˣ
    public func exp() throws -> Tensor { try unary(CT_EXP, "exp") }
    /// ln x
    public func log() throws -> Tensor { try unary(CT_LOG, "log") }
    /// sign(x) in {-1, 0, 1}
    public func sign() throws -> Tensor { try unary(CT_SIGN, "sign") }
    /// Round half to even.
    public func rounded() throws -> Tensor { try unary(CT_ROUND, "round") }
    /// ⌊x⌋
    public func floor() throws -> Tensor { try unary(CT_FLOOR, "floor") }
    /// ⌈x⌉
    public func ceil() throws -> Tensor { try unary(CT_CEIL, "ceil") }
    /// max(x, 0)
    public func relu() throws -> Tensor { try unary(CT_RELU, "relu") }
    /// min(max(x, 0), 6)
    public func relu6() throws -> Tensor { try Tensor.make(ct_hardtanh(handle, 0, 6), "relu6") }
    /// 1 / (1 + e⁻ˣ)
    public func sigmoid() throws -> Tensor { try unary(CT_SIGMOID, "sigmoid") }
    /// tanh x
    public func tanh() throws -> Tensor { try unary(CT_TANH, "tanh") }
    /// Gaussian error linear unit.
    public func gelu() throws -> Tensor { try unary(CT_GELU, "gelu") }
    /// max(x, slope·x)
    public func leakyRelu(slope: Double = 0.01) throws -> Tensor { try Tensor.make(ct_leaky_relu(handle, slope), "leaky_relu") }
    /// 1 / x
    public func reciprocal() throws -> Tensor { try unary(CT_RECIPROCAL, "reciprocal") }
    /// x²
    public func squared() throws -> Tensor { try unary(CT_SQUARE, "square") }
    /// Element-wise finiteness (bool).
    public func isFinite() throws -> Tensor { try unary(CT_ISFINITE, "isfinite") }
    /// Element-wise NaN test (bool).
    public func isNaN() throws -> Tensor { try unary(CT_ISNAN, "isnan") }
    /// Logical not of a bool tensor.
    public func logicalNot() throws -> Tensor { try unary(CT_LOGICAL_NOT, "logical_not") }
    /// A copy with its own storage (recorded by autograd).
    public func clone() throws -> Tensor { try unary(CT_CLONE, "clone") }
    /// A contiguous tensor with the same values (self when already contiguous).
    public func contiguous() throws -> Tensor { try unary(CT_CONTIGUOUS, "contiguous") }
    /// Zeros of the same shape and type.
    public func zerosLike() throws -> Tensor { try unary(CT_ZEROS_LIKE, "zeros_like") }
    /// Ones of the same shape and type.
    public func onesLike() throws -> Tensor { try unary(CT_ONES_LIKE, "ones_like") }
    /// The values converted to `dtype`.
    public func converted(to dtype: DType) throws -> Tensor { try Tensor.make(ct_to_dtype(handle, dtype.rawValue), "to(\(dtype))") }
    /// Values clamped into `[low, high]`.
    public func clamped(_ low: Double, _ high: Double) throws -> Tensor { try Tensor.make(ct_clamp(handle, low, high), "clamp") }

    // MARK: Binary

    /// xʸ element-wise.
    public func pow(_ exponent: Double) throws -> Tensor { try binary(CT_POW, exponent, "pow") }
    /// Element-wise maximum.
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(CT_MAXIMUM, other, "maximum") }
    /// Element-wise minimum.
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(CT_MINIMUM, other, "minimum") }
    /// Element-wise max(x, value).
    public func maximum(_ value: Double) throws -> Tensor { try binary(CT_MAXIMUM, value, "clamp_min") }
    /// Element-wise min(x, value).
    public func minimum(_ value: Double) throws -> Tensor { try binary(CT_MINIMUM, value, "clamp_max") }
    /// Matrix product with broadcasting (torch.matmul).
    public func matmul(_ other: Tensor) throws -> Tensor { try binary(CT_MATMUL, other, "matmul") }
    /// Element-wise comparisons returning bool tensors.
    public func eq(_ other: Tensor) throws -> Tensor { try binary(CT_EQ, other, "eq") }
    /// x == value
    public func eq(_ value: Double) throws -> Tensor { try binary(CT_EQ, value, "eq") }
    /// x != value
    public func ne(_ value: Double) throws -> Tensor { try binary(CT_NE, value, "ne") }
    /// x > other
    public func gt(_ other: Tensor) throws -> Tensor { try binary(CT_GT, other, "gt") }
    /// x > value
    public func gt(_ value: Double) throws -> Tensor { try binary(CT_GT, value, "gt") }
    /// x >= value
    public func ge(_ value: Double) throws -> Tensor { try binary(CT_GE, value, "ge") }
    /// x >= other
    public func ge(_ other: Tensor) throws -> Tensor { try binary(CT_GE, other, "ge") }
    /// x < value
    public func lt(_ value: Double) throws -> Tensor { try binary(CT_LT, value, "lt") }
    /// x < other
    public func lt(_ other: Tensor) throws -> Tensor { try binary(CT_LT, other, "lt") }
    /// x <= value
    public func le(_ value: Double) throws -> Tensor { try binary(CT_LE, value, "le") }
    /// Logical and of bool tensors.
    public func logicalAnd(_ other: Tensor) throws -> Tensor { try binary(CT_LOGICAL_AND, other, "logical_and") }
    /// Logical or of bool tensors.
    public func logicalOr(_ other: Tensor) throws -> Tensor { try binary(CT_LOGICAL_OR, other, "logical_or") }

    /// `condition ? a : b` element-wise.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try make(ct_where(condition.handle, a.handle, b.handle), "where")
    }

    // MARK: Operators

    /// Element-wise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_ADD, b, "add") }
    /// Element-wise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_SUB, b, "sub") }
    /// Element-wise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_MUL, b, "mul") }
    /// Element-wise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_DIV, b, "div") }
    /// x + s
    public static func + (a: Tensor, s: Double) throws -> Tensor { try a.binary(CT_ADD, s, "add") }
    /// x - s
    public static func - (a: Tensor, s: Double) throws -> Tensor { try a.binary(CT_SUB, s, "sub") }
    /// x · s
    public static func * (a: Tensor, s: Double) throws -> Tensor { try a.binary(CT_MUL, s, "mul") }
    /// x / s
    public static func / (a: Tensor, s: Double) throws -> Tensor { try a.binary(CT_DIV, s, "div") }
    /// s · x
    public static func * (s: Double, a: Tensor) throws -> Tensor { try a.binary(CT_MUL, s, "mul") }
    /// s + x
    public static func + (s: Double, a: Tensor) throws -> Tensor { try a.binary(CT_ADD, s, "add") }
    /// s - x
    public static func - (s: Double, a: Tensor) throws -> Tensor {
        try make(ct_scalar_binary(Int32(CT_SUB.rawValue), s, a.handle), "rsub")
    }
    /// s / x
    public static func / (s: Double, a: Tensor) throws -> Tensor {
        try make(ct_scalar_binary(Int32(CT_DIV.rawValue), s, a.handle), "rdiv")
    }
    /// -x
    public static prefix func - (a: Tensor) throws -> Tensor { try a.negated() }
}
