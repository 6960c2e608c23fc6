import CTorch

/// An n-dimensional array on libtorch's CPU engine, with autograd.
///
/// A `Tensor` owns one libtorch handle and releases it when the last Swift reference goes
/// away. Operations return new tensors and throw `TensorError` on invalid input (a shape
/// mismatch never crashes the process). Methods ending in `_` mutate in place.
///
/// Threading: a tensor may move between threads but must not be mutated from two at once.
public final class Tensor: @unchecked Sendable {
    let handle: ct_tensor

    init(handle: ct_tensor) { self.handle = handle }

    deinit { ct_free(handle) }

    /// Wraps a freshly returned handle, or throws the shim's error for `operation`.
    @inline(__always)
    static func make(_ handle: ct_tensor?, _ operation: @autoclosure () -> String) throws -> Tensor {
        guard let handle else { throw TensorError.last(operation()) }
        return Tensor(handle: handle)
    }

    // MARK: Metadata

    /// The size of each dimension.
    public var shape: [Int] {
        // One allocation (the result) for the common ranks: shapes are asked on hot paths.
        let small = withUnsafeTemporaryAllocation(of: Int64.self, capacity: 8) { buffer -> [Int]? in
            guard let base = buffer.baseAddress else { return nil }
            let n = Int(ct_sizes(handle, base, 8))
            guard n <= 8 else { return nil }
            return [Int](unsafeUninitializedCapacity: n) { out, initialized in
                for d in 0..<n { out[d] = Int(base[d]) }
                initialized = n
            }
        }
        if let small { return small }
        var buffer = [Int64](repeating: 0, count: Int(ct_dim(handle)))
        let n = Int(ct_sizes(handle, &buffer, Int64(buffer.count)))
        return buffer.prefix(n).map(Int.init)
    }

    /// Whether the tensor has this shape (without making an array of its own shape).
    public func hasShape(_ expected: [Int]) -> Bool {
        guard expected.count <= 8 else { return shape == expected }
        return withUnsafeTemporaryAllocation(of: Int64.self, capacity: 8) { buffer in
            guard let base = buffer.baseAddress else { return shape == expected }
            guard Int(ct_sizes(handle, base, 8)) == expected.count else { return false }
            for d in expected.indices where Int(base[d]) != expected[d] { return false }
            return true
        }
    }

    /// The element strides of each dimension.
    public var strides: [Int] {
        var buffer = [Int64](repeating: 0, count: Swift.max(1, rank))
        let n = Int(ct_strides(handle, &buffer, Int64(buffer.count)))
        return buffer.prefix(n).map(Int.init)
    }

    /// Number of dimensions.
    public var rank: Int { Int(ct_dim(handle)) }
    /// Number of elements.
    public var count: Int { Int(ct_numel(handle)) }
    /// Whether this handle holds a tensor (an absent gradient is an undefined tensor).
    public var isDefined: Bool { ct_defined(handle) }
    /// Whether elements are laid out contiguously in row-major order.
    public var isContiguous: Bool { ct_is_contiguous(handle) }

    /// The element type.
    public var dtype: DType { DType(rawValue: ct_dtype_of(handle)) ?? .float32 }

    /// Size in bytes of the elements at this tensor's element type.
    public var byteCount: Int { count * dtype.byteWidth }

    // MARK: Creation

    /// A tensor holding a copy of `values` with the given shape.
    public convenience init<S: TensorScalar>(_ values: [S], shape: [Int]) throws {
        let expected = shape.reduce(1, *)
        guard expected == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError("tensor(shape:)", "\(values.count) values do not fill shape \(shape) (\(expected) elements)")
        }
        let dims = shape.map(Int64.init)
        let h = values.withUnsafeBytes { raw in
            ct_from_data(raw.baseAddress, dims, Int64(dims.count), S.dtype.rawValue)
        }
        guard let h else { throw TensorError.last("tensor(shape:)") }
        self.init(handle: h)
    }

    /// A 1-D tensor holding a copy of `values`.
    public convenience init<S: TensorScalar>(_ values: [S]) throws {
        try self.init(values, shape: [values.count])
    }

    /// A tensor of raw little-endian bytes interpreted as `dtype` (e.g. read from a checkpoint).
    public convenience init(bytes: [UInt8], shape: [Int], dtype: DType) throws {
        let expected = shape.reduce(1, *) * dtype.byteWidth
        guard bytes.count == expected else {
            throw TensorError("tensor(bytes:)", "\(bytes.count) bytes do not fill shape \(shape) of \(dtype) (\(expected) bytes)")
        }
        let dims = shape.map(Int64.init)
        let h = bytes.withUnsafeBytes { ct_from_data($0.baseAddress, dims, Int64(dims.count), dtype.rawValue) }
        guard let h else { throw TensorError.last("tensor(bytes:)") }
        self.init(handle: h)
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make(ct_full(dims, Int64(dims.count), value, dtype.rawValue), "full(\(shape))")
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor { try full(shape, 0, dtype: dtype) }
    /// An uninitialised tensor (for outputs that a callee fills completely).
    public static func empty(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        let handle = shape.withUnsafeBufferPointer { dims in
            dims.withMemoryRebound(to: Int64.self) { ct_empty($0.baseAddress, Int64($0.count), dtype.rawValue) }
        }
        return try make(handle, "empty \(shape)")
    }
    /// A tensor of ones.
    public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> Tensor { try full(shape, 1, dtype: dtype) }

    /// A scalar (rank-0) tensor.
    public static func scalar(_ value: Double, dtype: DType = .float32) throws -> Tensor { try full([], value, dtype: dtype) }

    /// Values `start, start+step, …` below `end`.
    public static func arange(_ start: Double, _ end: Double, step: Double = 1, dtype: DType = .int64) throws -> Tensor {
        try make(ct_arange(start, end, step, dtype.rawValue), "arange")
    }

    /// Standard normal samples drawn from `generator` (the global generator when nil).
    public static func randn(_ shape: [Int], generator: RandomGenerator? = nil) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make(ct_randn(dims, Int64(dims.count), generator?.handle), "randn(\(shape))")
    }

    /// Uniform samples in `[low, high)` drawn from `generator`.
    public static func uniform(_ shape: [Int], low: Double = 0, high: Double = 1, generator: RandomGenerator? = nil) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make(ct_rand_uniform(dims, Int64(dims.count), low, high, generator?.handle), "uniform(\(shape))")
    }

    /// A random permutation of `0..<n` (int64).
    public static func randperm(_ n: Int, generator: RandomGenerator? = nil) throws -> Tensor {
        try make(ct_randperm(Int64(n), generator?.handle), "randperm(\(n))")
    }

    // MARK: Reading values

    /// The elements in row-major order, converted to `S`.
    public func scalars<S: TensorScalar>(as type: S.Type = S.self) throws -> [S] {
        let source = try (dtype == S.dtype ? self : converted(to: S.dtype)).contiguous()
        let n = source.count
        guard n > 0 else { return [] }
        guard let pointer = ct_data_ptr(source.handle) else { throw TensorError("scalars", "tensor has no data") }
        return Array(UnsafeBufferPointer(start: pointer.assumingMemoryBound(to: S.self), count: n))
    }

    /// The raw bytes of the elements in row-major order.
    public func bytes() throws -> [UInt8] {
        let source = try contiguous()
        guard let pointer = ct_data_ptr(source.handle), source.byteCount > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: source.byteCount))
    }

    /// The value of a one-element tensor.
    public func item() throws -> Double {
        var value = 0.0
        try checkStatus(ct_item(handle, &value), "item (shape \(shape))")
        return value
    }

    /// Calls `body` with the tensor's element storage; the tensor must be contiguous.
    /// The storage's first element, for a tensor the caller knows to be contiguous (not checked:
    /// `withUnsafeMutableRawPointer` checks). Valid while the tensor lives; nil when empty.
    public var unsafeContiguousData: UnsafeMutableRawPointer? { ct_data_ptr(handle) }

    public func withUnsafeMutableRawPointer<R>(_ body: (UnsafeMutableRawPointer?) throws -> R) throws -> R {
        guard isContiguous else { throw TensorError("withUnsafeMutableRawPointer", "tensor is not contiguous") }
        return try withExtendedLifetime(self) { try body(ct_data_ptr(handle)) }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(dtype), shape: \(shape))" }
}
