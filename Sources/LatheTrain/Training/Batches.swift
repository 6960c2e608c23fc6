import LatheData
import LatheTensor

extension ImageDataset {
    /// The samples at `indices` as an NCHW float tensor and their target: int64 labels `[N]`
    /// (classification), int64 masks `[N, H, W]` (segmentation), or CenterNet's encoded target
    /// `[N, classes + 5, H/4, W/4]` (detection, `CenterNetCoding.encode`).
    public func batch(_ indices: ArraySlice<Int>) throws -> (images: Tensor, labels: Tensor) {
        let (pixels, labels) = gather(indices)
        let images = try Tensor(pixels, shape: [indices.count, channels, height, width])
        switch targets(indices) {
        case nil: return (images, try Tensor(labels))
        case let .masks(masks): return (images, try Tensor(masks.map(Int64.init), shape: [indices.count, height, width]))
        case let .boxes(boxes): return (images, try CenterNetCoding.encode(boxes, classes: classCount, height: height, width: width))
        }
    }
}
