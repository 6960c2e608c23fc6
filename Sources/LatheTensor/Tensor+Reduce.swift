import CTorch

extension Tensor {
    func reduce(_ op: ct_reduce_op, _ dims: [Int], _ keepDim: Bool, _ name: String) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make(ct_reduce(Int32(op.rawValue), handle, d, Int64(d.count), keepDim), "\(name) over \(dims) of \(shape)")
    }

    /// Sum over `dims` (all when empty).
    public func sum(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_SUM, dims, keepDim, "sum") }
    /// Mean over `dims` (all when empty).
    public func mean(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_MEAN, dims, keepDim, "mean") }
    /// Maximum over `dims` (all when empty).
    public func max(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_AMAX, dims, keepDim, "amax") }
    /// Minimum over `dims` (all when empty).
    public func min(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_AMIN, dims, keepDim, "amin") }
    /// Population variance over `dims`.
    public func variance(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_VAR, dims, keepDim, "var") }
    /// Population standard deviation over `dims`.
    public func standardDeviation(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_STD, dims, keepDim, "std") }
    /// L2 norm over `dims`.
    public func norm(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_NORM2, dims, keepDim, "norm") }
    /// L1 norm over `dims`.
    public func l1Norm(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(CT_NORM1, dims, keepDim, "l1norm") }
    /// Product of all elements.
    public func product() throws -> Tensor { try reduce(CT_PROD, [], false, "prod") }

    /// Index of the maximum along `dim`.
    public func argmax(_ dim: Int, keepDim: Bool = false) throws -> Tensor {
        try Tensor.make(ct_argmax(handle, Int64(dim), keepDim), "argmax")
    }
    /// Running sum along `dim`.
    public func cumsum(_ dim: Int) throws -> Tensor { try Tensor.make(ct_cumsum(handle, Int64(dim)), "cumsum") }
    /// Softmax along `dim`.
    public func softmax(_ dim: Int) throws -> Tensor { try Tensor.make(ct_softmax(handle, Int64(dim)), "softmax") }
    /// Log-softmax along `dim`.
    public func logSoftmax(_ dim: Int) throws -> Tensor { try Tensor.make(ct_log_softmax(handle, Int64(dim)), "log_softmax") }

    private typealias PairFunction = (UnsafeMutablePointer<ct_tensor?>, UnsafeMutablePointer<ct_tensor?>) -> Int32
    private static func pair(_ name: String, _ f: PairFunction) throws -> (values: Tensor, indices: Tensor) {
        var v: ct_tensor?
        var i: ct_tensor?
        try checkStatus(f(&v, &i), name)
        return (try make(v, name), try make(i, name))
    }

    /// The `k` largest (or smallest) values along `dim` and their indices, sorted.
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        try Tensor.pair("topk(k: \(k)) of \(shape)") { ct_topk(handle, Int64(k), Int64(dim), largest, $0, $1) }
    }
    /// Values sorted along `dim` (stable) and their indices.
    public func sorted(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        try Tensor.pair("sort") { ct_sort(handle, Int64(dim), descending, $0, $1) }
    }
    /// The k-th smallest value (1-based) along `dim` and its index.
    public func kthValue(_ k: Int, dim: Int = -1) throws -> (values: Tensor, indices: Tensor) {
        try Tensor.pair("kthvalue(k: \(k)) of \(shape)") { ct_kthvalue(handle, Int64(k), Int64(dim), $0, $1) }
    }
}
