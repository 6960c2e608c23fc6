import CLathePlugin
import LatheTensor

/// DLPack views of contiguous tensors for one plugin call, made in one allocation (the shapes
/// and compact strides beside the views), alive as long as this object. Instance calls pass up
/// to a dozen tensors; views nested one closure per tensor cost more than the call itself.
final class TensorViews {
    /// The tensors, retained so that their storage outlives the views.
    let tensors: [Tensor]
    /// Each tensor's shape.
    let shapes: [[Int]]
    private let views: UnsafeMutablePointer<DLTensor>
    private let extents: UnsafeMutablePointer<Int64>

    /// Views of `tensors`, each contiguous (`method` names the call in the message otherwise).
    /// `known` gives the shapes the caller already has (nil entries, or no array, are asked of
    /// the tensor: a shape query costs as much as the rest of a view).
    init(_ tensors: [Tensor], known: [[Int]?] = [], method: String) throws {
        let types = try tensors.enumerated().map { index, tensor in
            guard tensor.isContiguous, let type = tensor.dtype.dlDataType else {
                throw PluginError("\(method): internal error: tensor \(index) is not a contiguous DLPack-compatible tensor")
            }
            return type
        }
        let data = try tensors.map { try $0.withUnsafeMutableRawPointer { $0 } }
        self.tensors = tensors
        shapes = tensors.indices.map { known.indices.contains($0) ? known[$0] ?? tensors[$0].shape : tensors[$0].shape }
        let dimensions = shapes.reduce(0) { $0 + $1.count }
        views = .allocate(capacity: Swift.max(tensors.count, 1))
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
                data: data[index], device: DLDevice(device_type: kDLCPU, device_id: 0), ndim: Int32(shape.count), dtype: types[index],
                shape: sizes, strides: strides, byte_offset: 0))
        }
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
