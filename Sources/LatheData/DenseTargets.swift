/// What a data set's samples are labelled with, and so what a model trained on it predicts.
public enum PredictionTask: String, Sendable, Codable, CaseIterable {
    /// One class per image (`labels`); top-1 accuracy.
    case classification
    /// One class per pixel (`DenseTargets.masks`); mean IoU over the classes.
    case segmentation
    /// Boxes with classes (`DenseTargets.boxes`); COCO mAP@[.5:.95].
    case detection

    /// The name of the task's primary metric, as reports and sweeps label it.
    public var primaryMetric: String {
        switch self {
        case .classification: "accuracy"
        case .segmentation: "miou"
        case .detection: "map"
        }
    }
}

/// One labelled box of a detection sample, in pixels of the image: it covers columns
/// `x ..< x + width` and rows `y ..< y + height`.
public struct LabelledBox: Sendable, Equatable, Hashable {
    /// Class index in `0..<classCount` (a COCO category id minus one for the canvases).
    public var label: Int
    public var x: Double, y: Double, width: Double, height: Double

    /// A box; see the properties.
    public init(label: Int, x: Double, y: Double, width: Double, height: Double) {
        (self.label, self.x, self.y, self.width, self.height) = (label, x, y, width, height)
    }
}

/// Per-sample targets of a dense-prediction data set (`ImageDataset.targets`).
public enum DenseTargets: Sendable, Equatable {
    /// `count · height · width` class indices (0 background), row-major, one mask per image.
    case masks([UInt8])
    /// Each image's boxes.
    case boxes([[LabelledBox]])

    /// The task these targets label.
    public var task: PredictionTask {
        switch self {
        case .masks: .segmentation
        case .boxes: .detection
        }
    }

    /// The targets of the samples at `indices`, in that order (`plane`: pixels per mask).
    func gather(_ indices: some Collection<Int>, plane: Int) -> DenseTargets {
        switch self {
        case let .masks(values):
            var out = [UInt8](repeating: 0, count: indices.count * plane)
            for (row, i) in indices.enumerated() {
                out.replaceSubrange((row * plane)..<((row + 1) * plane), with: values[(i * plane)..<((i + 1) * plane)])
            }
            return .masks(out)
        case let .boxes(all):
            return .boxes(indices.map { all[$0] })
        }
    }

    /// Checks the targets against `count` images of `height × width` and `classCount` classes.
    func validate(count: Int, height: Int, width: Int, classCount: Int) throws {
        switch self {
        case let .masks(values):
            guard values.count == count * height * width else {
                throw DataError.invalid(path: "<memory>", reason: "\(values.count) mask values do not make \(count) masks of \(height)×\(width)")
            }
            if let bad = values.first(where: { Int($0) >= classCount }) {
                throw DataError.invalid(path: "<memory>", reason: "mask value \(bad) outside 0..<\(classCount)")
            }
        case let .boxes(all):
            guard all.count == count else {
                throw DataError.invalid(path: "<memory>", reason: "\(all.count) box lists for \(count) images")
            }
            for (i, boxes) in all.enumerated() {
                for b in boxes where !(0..<classCount).contains(b.label) || !(b.width > 0 && b.height > 0)
                    || b.x < 0 || b.y < 0 || b.x + b.width > Double(width) || b.y + b.height > Double(height) {
                    throw DataError.invalid(path: "<memory>", reason: "image \(i): box [\(b.x), \(b.y), \(b.width), \(b.height)] of class \(b.label) is outside the \(width)×\(height) image or 0..<\(classCount)")
                }
            }
        }
    }
}
