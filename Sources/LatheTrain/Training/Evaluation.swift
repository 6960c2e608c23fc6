import LatheData
import LatheDetection
import LatheModels
import LatheTensor

/// A model's scores on a data set.
public struct TaskMetrics: Sendable, Equatable {
    /// The task's primary metric (`PredictionTask.primaryMetric`): top-1 accuracy, mIoU or
    /// COCO mAP@[.5:.95], in 0...1.
    public var primary: Double
    /// The mean task loss (`TaskLoss.loss`).
    public var loss: Double
    /// Every score by name: `accuracy`; `miou`, `pixel_accuracy`; `map`, `map50`, `map75`.
    public var all: [String: Double]
    /// A segmenter's IoU per class (index = class, 0 the background; nil for a class in neither
    /// the ground truth nor the predictions); nil for other tasks.
    public var classIoU: [Double?]? = nil
}

/// Test-set evaluation.
public enum Evaluation {
    /// The task's primary metric (top-1 accuracy, mIoU or mAP, 0...1) and mean loss of `model`
    /// on `data`, in evaluation mode.
    public static func evaluate(_ model: Model, on data: ImageDataset, batchSize: Int? = nil) throws -> (accuracy: Double, loss: Double) {
        let context = ForwardContext(training: false)
        return try evaluate(on: data, batchSize: batchSize) { try model.forward($0, context) }
    }

    /// The primary metric and mean loss of any output function (a model with transforms in its
    /// context, a real int8 model) on `data`, without gradients (see `metrics`).
    public static func evaluate(on data: ImageDataset, batchSize: Int? = nil, forward: (Tensor) throws -> Tensor) throws -> (accuracy: Double, loss: Double) {
        let m = try metrics(on: data, batchSize: batchSize, forward: forward)
        return (m.primary, m.loss)
    }

    /// Every score of `model` on `data` (see `TaskMetrics`), in evaluation mode.
    public static func metrics(_ model: Model, on data: ImageDataset, batchSize: Int? = nil) throws -> TaskMetrics {
        let context = ForwardContext(training: false)
        return try metrics(on: data, batchSize: batchSize) { try model.forward($0, context) }
    }

    /// Every score of an output function on `data`, without gradients: top-1 accuracy; the
    /// pixels' confusion matrix (`SegmentationMetrics`); or the decoded boxes
    /// (`CenterNetCoding.decode`) scored as pycocotools' COCOeval. An empty `data` is an error,
    /// not a score of 0.
    public static func metrics(on data: ImageDataset, batchSize: Int? = nil, forward: (Tensor) throws -> Tensor) throws -> TaskMetrics {
        guard data.count > 0 else { throw TrainingError.emptyDataSet("evaluation") }
        let batchSize = batchSize ?? data.evaluationBatchSize
        let started = MeasurementClock.start()
        defer { MeasurementClock.stop(started) }
        let task = data.task
        var correct = 0.0, lossSum = 0.0
        var confusion = SegmentationMetrics(classCount: data.classCount, ignoreIndex: nil)
        var detections: [COCODetection] = []
        try withNoGrad {
            for start in stride(from: 0, to: data.count, by: batchSize) {
                let indices = Array(start..<Swift.min(start + batchSize, data.count))
                let (x, y) = try data.batch(indices[...])
                let output = try forward(x)
                lossSum += try TaskLoss.loss(task, output, y).item() * Double(indices.count)
                switch task {
                case .classification:
                    correct += try TaskLoss.correct(task, output, y)
                case .segmentation:
                    guard output.shape.count == 4, output.shape[2] == data.height, output.shape[3] == data.width else {
                        throw TrainingError.dataModelMismatch("the segmentation output \(output.shape) is not per pixel of the \(data.height)×\(data.width) images")
                    }
                    try confusion.add(truth: y.scalars(as: Int64.self), predicted: output.argmax(1).contiguous().scalars(as: Int64.self),
                                      entry: "images \(start)..<\(start + indices.count)")
                case .detection:
                    detections += try CenterNetCoding.decode(output, imageSize: data.width, firstImageID: start + 1)
                }
            }
        }
        let loss = lossSum / Double(data.count)
        switch task {
        case .classification:
            let accuracy = correct / Double(data.count)
            return TaskMetrics(primary: accuracy, loss: loss, all: ["accuracy": accuracy])
        case .segmentation:
            return TaskMetrics(primary: confusion.meanIoU, loss: loss, all: ["miou": confusion.meanIoU, "pixel_accuracy": confusion.pixelAccuracy],
                               classIoU: confusion.classIoU)
        case .detection:
            let coco = COCOEvaluation(groundTruth: data.cocoGroundTruth(), detections: detections)
            let map = Swift.max(0, coco.mAP)
            return TaskMetrics(primary: map, loss: loss, all: ["map": map, "map50": Swift.max(0, coco.mAP50), "map75": Swift.max(0, coco.mAP75)])
        }
    }
}

extension ImageDataset {
    /// Images per forward pass when evaluating without gradients (`Evaluation`, `Agreement`) and
    /// no batch size is given: as many values as 1000 Fashion-MNIST images (28×28×1), fewer images when
    /// they are larger (85 of the 96×96 canvases), since a dense model's activations and per-pixel logits
    /// grow with the pixels: `lathe eval` of the width-1.5 segmenter peaked at 2.96 GB with 1000
    /// canvases per batch, 0.73 GB with 85. Only memory depends on it; the scores are sums over images.
    public var evaluationBatchSize: Int {
        let pixels = Swift.max(1, channels * height * width)
        return Swift.max(1, Swift.min(1000, 1000 * 784 / pixels))
    }

    /// The boxes of a detection set as COCO ground truth (image ids 1…count, category ids
    /// class + 1, area the box's); empty for other sets.
    public func cocoGroundTruth() -> COCODataset {
        guard case let .boxes(all) = targets else { return COCODataset(images: [], annotations: [], categories: []) }
        var annotations: [COCOAnnotation] = []
        for (i, boxes) in all.enumerated() {
            for b in boxes {
                annotations.append(COCOAnnotation(id: annotations.count + 1, imageID: i + 1, categoryID: b.label + 1,
                                                  box: Box(x: b.x, y: b.y, width: b.width, height: b.height)))
            }
        }
        return COCODataset(images: (0..<count).map { COCOImage(id: $0 + 1, width: width, height: height, fileName: "\($0)") },
                           annotations: annotations, categories: (0..<classCount).map { COCOCategory(id: $0 + 1, name: "class \($0)") })
    }
}
