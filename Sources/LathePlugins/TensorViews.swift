import CLathePlugin
import LatheTensor

/// DLPack views of contiguous tensors for plugin calls, made in one allocation (the shapes and
/// compact strides beside the views). Instance calls pass up to a dozen tensors; views nested
/// one closure per tensor cost more than the call itself.
///
/// Views made from tensors retain them. Views made from shapes alone (a `CallFrame`'s, reused
/// call after call) get each call's tensors with `bind`; the caller keeps those alive until
/// the call returns.
final class TensorViews {
    /// The tensors, retained so that their storage outlives the views (empty for bound views).
    private let tensors: [Tensor]
    /// Each tensor's shape.
    let shapes: [[Int]]
    private let views: UnsafeMutablePointer<DLTensor>
    private let extents: UnsafeMutablePointer<Int64>

    /// Views of `tensors`, each contiguous (`method` names the call in the message otherwise).
    /// `known` gives the shapes the caller already has (nil entries, or no array, are asked of
    /// the tensor: a shape query costs as much as the rest of a view).
    convenience init(_ tensors: [Tensor], known: [[Int]?] = [], method: String) throws {
        let types = try tensors.enumerated().map { index, tensor in
            guard tensor.isContiguous, let type = tensor.dtype.dlDataType else {
                throw PluginError("\(method): internal error: tensor \(index) is not a contiguous DLPack-compatible tensor")
            }
            return type
        }
        let shapes = tensors.indices.map { known.indices.contains($0) ? known[$0] ?? tensors[$0].shape : tensors[$0].shape }
        self.init(shapes: shapes, types: types, retaining: tensors)
        for (index, tensor) in tensors.enumerated() { views[index].data = try tensor.withUnsafeMutableRawPointer { $0 } }
    }

    /// Views of `present` followed by those of the non-nil `optional` tensors, with the view of
    /// each optional one (nil where it is nil), in order.
    static func with(_ present: [Tensor], optional: [Tensor?], method: String) throws -> (TensorViews, [UnsafeMutablePointer<DLTensor>?]) {
        let views = try TensorViews(present + optional.compactMap { $0 }, method: method)
        var next = present.count
        let optionalViews: [UnsafeMutablePointer<DLTensor>?] = optional.map { tensor in
            guard tensor != nil else { return nil }
            defer { next += 1 }
            return views[next]
        }
        return (views, optionalViews)
    }

    /// Views of tensors of these shapes and element types, with no data until `bind`.
    init(shapes: [[Int]], types: [DLDataType], retaining tensors: [Tensor] = []) {
        self.tensors = tensors
        self.shapes = shapes
        let dimensions = shapes.reduce(0) { $0 + $1.count }
        views = .allocate(capacity: Swift.max(shapes.count, 1))
        extents = .allocate(capacity: Swift.max(2 * dimensions, 1))
        var next = extents
        for (index, shape) in shapes.enumerated() {
            let sizes = next, strides = next + shape.count
            var stride: Int64 = 1
            for d in shape.indices.reversed() {
                sizes[d] = Int64(shape[d])
                strides[d] = stride
                stride *= Int64(Swift.max(shape[d], 1))
            }
            next += 2 * shape.count
            (views + index).initialize(to: DLTensor(
                data: nil, device: DLDevice(device_type: kDLCPU, device_id: 0), ndim: Int32(shape.count), dtype: types[index],
                shape: sizes, strides: strides, byte_offset: 0))
        }
    }

    /// Points view `index` at `tensor`'s storage: contiguous, of the view's shape and type (the
    /// caller guarantees both; they are not checked here).
    func bind(_ index: Int, _ tensor: Tensor) {
        views[index].data = tensor.unsafeContiguousData
    }

    /// Clears every view's data pointer (after a call, so that none outlives its tensor).
    func unbind() {
        for index in shapes.indices { views[index].data = nil }
    }

    /// The view of tensor `index`.
    subscript(index: Int) -> UnsafeMutablePointer<DLTensor> { views + index }

    /// The data pointer of tensor `index` (nil for an empty tensor).
    func data(_ index: Int) -> UnsafeMutableRawPointer? { views[index].data }

    deinit {
        views.deallocate()
        extents.deallocate()
    }
}
