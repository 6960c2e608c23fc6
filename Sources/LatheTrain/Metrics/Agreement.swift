import LatheData
import LatheTensor

/// How far a compressed model's predictions moved from its baseline's on the same inputs
/// (Dutta et al., NeurIPS 2024, "Accuracy is not all you need"): equal top-1 accuracy can hide
/// many changed answers.
public struct Agreement: Sendable, Equatable {
    /// Share (0...1) of samples whose top-1 prediction differs from the baseline's.
    public var flipRate: Double
    /// Mean over samples of KL(baseline ‖ compressed) between the softmax outputs, in nats,
    /// computed in float64 from log-softmax.
    public var klToBaseline: Double
    /// Number of samples compared.
    public var samples: Int

    /// Flip rate and mean KL of two `[N, C]` logit tensors for the same `N` inputs.
    public static func of(baseline: Tensor, compressed: Tensor) throws -> Agreement {
        let (flips, kl) = try sums(baseline: baseline, compressed: compressed)
        let n = baseline.shape[0]
        return Agreement(flipRate: flips / Double(n), klToBaseline: kl / Double(n), samples: n)
    }

    /// Whether a model trained for `task` outputs class distributions that agreement compares:
    /// per image (classifiers) or per pixel (segmenters). A detector's heatmaps and box channels
    /// are no class distribution, so detectors get no flip rate or KL.
    public static func applies(to task: PredictionTask) -> Bool { task != .detection }

    /// Flip rate and mean KL of `compressed` against `baseline` over all of `data`, in batches,
    /// without gradients; `nil`, running neither model, for a data set whose task agreement does
    /// not apply to (`applies(to:)`: detection). Each model brings its own forward function (and
    /// so its own context, e.g. a quantized model's activation quantization). An empty `data` is
    /// an error.
    public static func measure(
        on data: ImageDataset, batchSize: Int? = nil,
        baseline: (Tensor) throws -> Tensor, compressed: (Tensor) throws -> Tensor
    ) throws -> Agreement? {
        guard applies(to: data.task) else { return nil }
        guard data.count > 0 else { throw TrainingError.emptyDataSet("agreement") }
        let batchSize = batchSize ?? data.evaluationBatchSize
        var flips = 0.0
        var kl = 0.0
        try withNoGrad {
            for start in stride(from: 0, to: data.count, by: batchSize) {
                let indices = Array(start..<Swift.min(start + batchSize, data.count))
                let (x, _) = try data.batch(indices[...])
                let batch = try sums(baseline: baseline(x), compressed: compressed(x))
                flips += batch.flips
                kl += batch.kl
            }
        }
        return Agreement(flipRate: flips / Double(data.count), klToBaseline: kl / Double(data.count), samples: data.count)
    }

    /// Number of flipped predictions and summed per-sample KL of one batch of logits. Dense
    /// outputs `[N, C, H, W]` count per location over the channels, averaged over the locations
    /// of each image (a segmenter's per-pixel classes; a detector's maps as one distribution).
    private static func sums(baseline: Tensor, compressed: Tensor) throws -> (flips: Double, kl: Double) {
        if baseline.rank == 4, baseline.shape == compressed.shape, baseline.shape[0] > 0 {
            let (n, c, h, w) = (baseline.shape[0], baseline.shape[1], baseline.shape[2], baseline.shape[3])
            func rows(_ t: Tensor) throws -> Tensor { try t.permuted([0, 2, 3, 1]).reshaped([n * h * w, c]) }
            let (flips, kl) = try sums(baseline: rows(baseline), compressed: rows(compressed))
            return (flips / Double(h * w), kl / Double(h * w))
        }
        guard baseline.rank == 2, baseline.shape == compressed.shape, baseline.shape[0] > 0 else {
            throw TrainingError.dataModelMismatch(
                "agreement: expected two non-empty [N, C] logit tensors of the same shape, got \(baseline.shape) and \(compressed.shape)")
        }
        let same = try baseline.argmax(1).eq(compressed.argmax(1)).converted(to: .float64).sum().item()
        let logP = try baseline.converted(to: .float64).logSoftmax(1)
        let logQ = try compressed.converted(to: .float64).logSoftmax(1)
        let kl = try (logP.exp() * (logP - logQ)).sum().item()
        return (Double(baseline.shape[0]) - same, kl)
    }
}
