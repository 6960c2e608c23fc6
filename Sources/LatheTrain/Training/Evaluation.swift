import LatheData
import LatheModels
import LatheTensor

/// Test-set evaluation.
public enum Evaluation {
    /// Top-1 accuracy (0...1) and mean cross-entropy of `model` on `data`, in evaluation mode.
    public static func evaluate(_ model: Model, on data: ImageDataset, batchSize: Int = 1000) throws -> (accuracy: Double, loss: Double) {
        let context = ForwardContext(training: false)
        return try evaluate(on: data, batchSize: batchSize) { try model.forward($0, context) }
    }

    /// Top-1 accuracy and mean cross-entropy of any logits function (a model with transforms
    /// in its context, a real int8 model) on `data`, without gradients. An empty `data` is an
    /// error, not an accuracy of 0.
    public static func evaluate(on data: ImageDataset, batchSize: Int = 1000, forward: (Tensor) throws -> Tensor) throws -> (accuracy: Double, loss: Double) {
        guard data.count > 0 else { throw TrainingError.emptyDataSet("evaluation") }
        let started = MeasurementClock.start()
        defer { MeasurementClock.stop(started) }
        var correct = 0.0
        var lossSum = 0.0
        try withNoGrad {
            for start in stride(from: 0, to: data.count, by: batchSize) {
                let indices = Array(start..<Swift.min(start + batchSize, data.count))
                let (x, y) = try data.batch(indices[...])
                let logits = try forward(x)
                correct += try logits.argmax(1).eq(y).converted(to: .float64).sum().item()
                lossSum += try logits.crossEntropy(labels: y).item() * Double(indices.count)
            }
        }
        return (correct / Double(data.count), lossSum / Double(data.count))
    }
}
