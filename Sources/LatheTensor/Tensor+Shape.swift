import CTorch

extension Tensor {
    /// The same elements viewed with a new shape (one dimension may be -1).
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.make(ct_reshape(handle, dims, Int64(dims.count)), "reshape \(self.shape) to \(shape)")
    }
    /// Dimensions reordered.
    public func permuted(_ order: [Int]) throws -> Tensor {
        let dims = order.map(Int64.init)
        return try Tensor.make(ct_permute(handle, dims, Int64(dims.count)), "permute \(shape) by \(order)")
    }
    /// Two dimensions swapped.
    public func transposed(_ a: Int = 0, _ b: Int = 1) throws -> Tensor {
        try Tensor.make(ct_transpose(handle, Int64(a), Int64(b)), "transpose")
    }
    /// Dimensions `start...end` merged into one.
    public func flattened(from start: Int = 0, to end: Int = -1) throws -> Tensor {
        try Tensor.make(ct_flatten(handle, Int64(start), Int64(end)), "flatten")
    }
    /// A size-1 dimension inserted at `dim`.
    public func unsqueezed(_ dim: Int) throws -> Tensor { try Tensor.make(ct_unsqueeze(handle, Int64(dim)), "unsqueeze") }
    /// The size-1 dimension `dim` removed.
    public func squeezed(_ dim: Int) throws -> Tensor { try Tensor.make(ct_squeeze(handle, Int64(dim)), "squeeze") }
    /// Broadcast view to `shape`.
    public func expanded(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.make(ct_expand(handle, dims, Int64(dims.count)), "expand \(self.shape) to \(shape)")
    }
    /// Elements `start..<start+length` along `dim` (a view).
    public func narrowed(_ dim: Int, start: Int, length: Int) throws -> Tensor {
        try Tensor.make(ct_narrow(handle, Int64(dim), Int64(start), Int64(length)), "narrow dim \(dim) of \(shape)")
    }
    /// Slices along `dim` at the int64 `indices`.
    public func indexSelect(_ dim: Int, _ indices: Tensor) throws -> Tensor {
        try Tensor.make(ct_index_select(handle, Int64(dim), indices.handle), "index_select dim \(dim) of \(shape)")
    }
    /// Slices along `dim` at `indices`.
    public func indexSelect(_ dim: Int, _ indices: [Int]) throws -> Tensor {
        try indexSelect(dim, Tensor(indices.map(Int64.init)))
    }
    /// Values gathered along `dim` at int64 `indices` (torch.gather).
    public func gather(_ dim: Int, _ indices: Tensor) throws -> Tensor {
        try Tensor.make(ct_gather(handle, Int64(dim), indices.handle), "gather")
    }
    /// `value` where `mask` is true.
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try Tensor.make(ct_masked_fill(handle, mask.handle, value), "masked_fill")
    }
    /// The 1-D tensor of elements where `mask` is true.
    public func maskedSelect(_ mask: Tensor) throws -> Tensor {
        try Tensor.make(ct_masked_select(handle, mask.handle), "masked_select")
    }
    /// One-hot encoding of int64 labels.
    public func oneHot(classes: Int) throws -> Tensor { try Tensor.make(ct_one_hot(handle, Int64(classes)), "one_hot") }

    /// Tensors joined along `dim`.
    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        let handles: [ct_tensor?] = tensors.map(\.handle)
        return try withExtendedLifetime(tensors) { try make(ct_cat(handles, Int64(handles.count), Int64(dim)), "cat") }
    }
    /// Tensors stacked along a new dimension `dim`.
    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        let handles: [ct_tensor?] = tensors.map(\.handle)
        return try withExtendedLifetime(tensors) { try make(ct_stack(handles, Int64(handles.count), Int64(dim)), "stack") }
    }
}
