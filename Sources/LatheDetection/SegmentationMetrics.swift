/// Semantic-segmentation scores from a confusion matrix accumulated over every pixel of a data
/// set (as VOC and Cityscapes evaluate): per class IoU = TP / (TP + FP + FN); mIoU is the mean
/// over the classes present in the ground truth or the predictions (a class absent from both has
/// no IoU and is left out); pixel accuracy = correct pixels / counted pixels. Background (class
/// 0) is a class like the others. Pixels whose ground truth is `ignoreIndex` (VOC's 255 borders)
/// are not counted.
public struct SegmentationMetrics: Sendable, Equatable {
    /// Classes 0..<classCount.
    public let classCount: Int
    /// Ground-truth label not counted.
    public let ignoreIndex: Int?
    /// `confusion[truth · classCount + predicted]`: pixel counts.
    public private(set) var confusion: [Int]

    /// An empty accumulator over `classCount` classes.
    public init(classCount: Int, ignoreIndex: Int? = 255) {
        self.classCount = classCount
        self.ignoreIndex = ignoreIndex
        confusion = [Int](repeating: 0, count: classCount * classCount)
    }

    /// Adds one mask pair (same length, row-major). Throws on a length mismatch or a label
    /// outside `0..<classCount` (other than `ignoreIndex` in the ground truth); `entry` names the
    /// pair in errors.
    public mutating func add<T: Collection, P: Collection>(truth: T, predicted: P, entry: String = "") throws
        where T.Element: BinaryInteger, P.Element: BinaryInteger {
        guard truth.count == predicted.count else {
            throw DetectionError(path: "<masks>", entry: entry, reason: "ground truth has \(truth.count) pixels, the prediction \(predicted.count)")
        }
        for (t, p) in zip(truth, predicted) {
            let ti = Int(t), pi = Int(p)
            if let ignoreIndex, ti == ignoreIndex { continue }
            guard ti >= 0, ti < classCount, pi >= 0, pi < classCount else {
                throw DetectionError(path: "<masks>", entry: entry, reason: "label \(ti < 0 || ti >= classCount ? ti : pi) outside 0..<\(classCount)")
            }
            confusion[ti * classCount + pi] += 1
        }
    }

    /// Per class IoU; nil for a class in neither the ground truth nor the predictions.
    public var classIoU: [Double?] {
        (0..<classCount).map { c in
            let tp = confusion[c * classCount + c]
            let truth = (0..<classCount).reduce(0) { $0 + confusion[c * classCount + $1] }
            let predicted = (0..<classCount).reduce(0) { $0 + confusion[$1 * classCount + c] }
            let union = truth + predicted - tp
            return union == 0 ? nil : Double(tp) / Double(union)
        }
    }

    /// Mean IoU over the classes that have one (NaN when no pixel was counted).
    public var meanIoU: Double {
        let values = classIoU.compactMap { $0 }
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// Correct pixels / counted pixels (NaN when none was counted).
    public var pixelAccuracy: Double {
        let total = confusion.reduce(0, +)
        let correct = (0..<classCount).reduce(0) { $0 + confusion[$1 * classCount + $1] }
        return total == 0 ? .nan : Double(correct) / Double(total)
    }
}
