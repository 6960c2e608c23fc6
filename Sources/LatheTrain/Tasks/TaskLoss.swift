import LatheData
import LatheTensor

/// The loss and the training-time score of each prediction task, on a batch's output and target
/// (`ImageDataset.batch`): cross-entropy over classes (per image, or per pixel), or CenterNet's
/// detection loss.
public enum TaskLoss {
    /// The mean training loss of `output` against `target`.
    public static func loss(_ task: PredictionTask, _ output: Tensor, _ target: Tensor, labelSmoothing: Double = 0) throws -> Tensor {
        switch task {
        case .classification, .segmentation: try output.crossEntropy(labels: target, labelSmoothing: labelSmoothing)
        case .detection: try CenterNetCoding.loss(output, target)
        }
    }

    /// How many of the batch's images were right, as a count of images: correct top-1 labels;
    /// for segmentation the correct-pixel fraction times the batch size; for detection the
    /// fraction of object centres whose highest heatmap class is the object's, times the batch size.
    public static func correct(_ task: PredictionTask, _ output: Tensor, _ target: Tensor) throws -> Double {
        try withNoGrad {
            switch task {
            case .classification:
                return try output.argmax(1).eq(target).converted(to: .float64).sum().item()
            case .segmentation:
                return try output.argmax(1).eq(target).converted(to: .float64).mean().item() * Double(output.shape[0])
            case .detection:
                let classes = output.shape[1] - 4
                let centres = try target.narrowed(1, start: classes + 4, length: 1).squeezed(1)
                let objects = try centres.sum().item()
                guard objects > 0 else { return 0 }
                let right = try output.narrowed(1, start: 0, length: classes).argmax(1).eq(target.narrowed(1, start: 0, length: classes).argmax(1))
                return try (right.converted(to: .float32) * centres).sum().item() / objects * Double(output.shape[0])
            }
        }
    }
}
