import LatheData
import LatheTensor

extension ImageDataset {
    /// The samples at `indices` as an NCHW float tensor and an int64 label tensor.
    public func batch(_ indices: ArraySlice<Int>) throws -> (images: Tensor, labels: Tensor) {
        let (pixels, labels) = gather(indices)
        let images = try Tensor(pixels, shape: [indices.count, channels, height, width])
        return (images, try Tensor(labels))
    }
}
