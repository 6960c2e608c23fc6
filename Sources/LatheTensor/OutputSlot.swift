import CTorch

/// An output tensor that a repeated call reuses once its caller has let go of the last one.
///
/// `tensor(shape:)` returns the tensor of the previous call when nothing else holds it — no other
/// Swift reference, libtorch handle, view, autograd record or weak reference — and it is a
/// contiguous tensor of the shape and dtype asked that needs no gradient; otherwise a fresh
/// `Tensor.empty`, which the slot then keeps. A caller that still holds a result (or handed it
/// to libtorch, which keeps it) therefore never sees it overwritten. The contents of a reused
/// tensor are the old values: use a slot only for outputs that the callee fills completely.
///
/// A slot is not synchronized: keep it where calls are serialized.
public struct OutputSlot {
    private var tensor: Tensor?

    /// An empty slot.
    public init() {}

    /// The previous tensor if it can be reused for `shape` and `dtype`, else a new one.
    public mutating func tensor(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        if isKnownUniquelyReferenced(&tensor), let tensor, tensor.isExclusive(shape: shape, dtype: dtype) { return tensor }
        let fresh = try Tensor.empty(shape, dtype: dtype)
        tensor = fresh
        return fresh
    }

    /// Drops the kept tensor (its memory goes back when the caller's references go).
    public mutating func release() { tensor = nil }
}

extension Tensor {
    /// Whether this handle is the only holder of its tensor and storage, needs no gradient, and
    /// is a contiguous `dtype` tensor of `shape` (the Swift object itself may still be shared).
    func isExclusive(shape: [Int], dtype: DType) -> Bool {
        shape.withUnsafeBufferPointer { dims in
            dims.withMemoryRebound(to: Int64.self) { ct_is_exclusive(handle, $0.baseAddress, Int64($0.count), dtype.rawValue) }
        }
    }
}
