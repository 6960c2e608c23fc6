/// An in-memory image data set, images stored NCHW as Float32: classification (a class per
/// image), or dense prediction when `targets` is set (a mask or boxes per image).
public struct ImageDataset: Sendable {
    /// `count · channels · height · width` values, row-major NCHW.
    public var images: [Float]
    /// Class indices in `0..<classCount`; all 0 for a dense-prediction set (its labels are `targets`).
    public var labels: [Int64]
    public let channels: Int
    public let height: Int
    public let width: Int
    /// Classes: of the images, of the mask pixels (background included), or of the boxes.
    public let classCount: Int
    /// Masks or boxes of a segmentation or detection set; nil for classification.
    public private(set) var targets: DenseTargets?

    /// What the samples are labelled with.
    public var task: PredictionTask { targets?.task ?? .classification }

    /// Number of samples.
    public var count: Int { labels.count }
    /// Values per image.
    public var imageSize: Int { channels * height * width }

    /// A data set; validates that sizes agree and labels are in range.
    public init(images: [Float], labels: [Int64], channels: Int, height: Int, width: Int, classCount: Int) throws {
        guard channels > 0, height > 0, width > 0, classCount > 0 else {
            throw DataError.invalid(path: "<memory>", reason: "image shape \(channels)×\(height)×\(width) and \(classCount) classes must be positive")
        }
        guard images.count == labels.count * channels * height * width else {
            throw DataError.invalid(path: "<memory>", reason: "\(images.count) values do not make \(labels.count) images of \(channels)×\(height)×\(width)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= Int64(classCount) }) {
            throw DataError.invalid(path: "<memory>", reason: "label \(bad) outside 0..<\(classCount)")
        }
        self.init(unchecked: images, labels, channels, height, width, classCount)
    }

    /// A segmentation or detection set: `targets` label the `images.count / (channels·height·width)` images.
    public init(images: [Float], targets: DenseTargets, channels: Int, height: Int, width: Int, classCount: Int) throws {
        guard channels > 0, height > 0, width > 0, classCount > 1 else {
            throw DataError.invalid(path: "<memory>", reason: "image shape \(channels)×\(height)×\(width) and \(classCount) classes must be positive (at least 2 classes)")
        }
        let size = channels * height * width
        guard images.count % size == 0 else {
            throw DataError.invalid(path: "<memory>", reason: "\(images.count) values do not make whole images of \(channels)×\(height)×\(width)")
        }
        let count = images.count / size
        try targets.validate(count: count, height: height, width: width, classCount: classCount)
        self.init(unchecked: images, [Int64](repeating: 0, count: count), channels, height, width, classCount, targets: targets)
    }

    init(unchecked images: [Float], _ labels: [Int64], _ channels: Int, _ height: Int, _ width: Int, _ classCount: Int, targets: DenseTargets? = nil) {
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
        self.targets = targets
    }

    /// Per-channel `(x - mean) / std`.
    public func normalized(mean: [Float], std: [Float]) -> ImageDataset {
        var out = images
        let plane = height * width
        out.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<count {
                for c in 0..<channels {
                    let m = mean[c % mean.count], s = std[c % std.count]
                    let base = (i * channels + c) * plane
                    for j in base..<(base + plane) { buffer[j] = (buffer[j] - m) / s }
                }
            }
        }
        return ImageDataset(unchecked: out, labels, channels, height, width, classCount, targets: targets)
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageDataset {
        let (pixels, labels) = gather(indices[...])
        return ImageDataset(unchecked: pixels, labels, channels, height, width, classCount, targets: targets?.gather(indices, plane: height * width))
    }

    /// The first `n` samples (all when fewer).
    public func prefix(_ n: Int) -> ImageDataset {
        let k = Swift.max(0, Swift.min(n, count))
        return ImageDataset(unchecked: Array(images[0..<(k * imageSize)]), Array(labels[0..<k]), channels, height, width, classCount,
                            targets: targets?.gather(0..<k, plane: height * width))
    }

    /// A seeded split: indices shuffled with `seed`, the last `validationFraction` held out.
    public func split(validationFraction: Double, seed: UInt64) throws -> (train: ImageDataset, validation: ImageDataset) {
        guard validationFraction > 0, validationFraction < 1 else {
            throw DataError.invalid(path: "<memory>", reason: "validation fraction \(validationFraction) must be in (0, 1)")
        }
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<count)
        generator.shuffle(&order)
        let held = Int((Double(count) * validationFraction).rounded())
        guard held > 0, held < count else {
            throw DataError.invalid(path: "<memory>", reason: "holding out \(validationFraction) of \(count) samples leaves \(held == 0 ? "no validation" : "no training") samples")
        }
        return (subset(Array(order[..<(count - held)])), subset(Array(order[(count - held)...])))
    }

    /// Per-channel mean and (population) standard deviation.
    public func channelStatistics() -> (mean: [Float], std: [Float]) {
        let plane = height * width
        var sums = [Double](repeating: 0, count: channels), squares = sums
        images.withUnsafeBufferPointer { buffer in
            for i in 0..<count {
                for c in 0..<channels {
                    let base = (i * channels + c) * plane
                    var s = 0.0, q = 0.0
                    for j in base..<(base + plane) { let v = Double(buffer[j]); s += v; q += v * v }
                    sums[c] += s
                    squares[c] += q
                }
            }
        }
        let n = Double(Swift.max(1, count * plane))
        let mean = sums.map { $0 / n }
        let std = zip(squares, mean).map { ($0 / n - $1 * $1).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// The dense targets of the samples at `indices` (nil for classification).
    public func targets(_ indices: ArraySlice<Int>) -> DenseTargets? { targets?.gather(indices, plane: height * width) }

    /// The samples at `indices` copied contiguously (to build a batch tensor).
    public func gather(_ indices: ArraySlice<Int>) -> (images: [Float], labels: [Int64]) {
        let size = imageSize
        var pixels = [Float](repeating: 0, count: indices.count * size)
        var batchLabels = [Int64](repeating: 0, count: indices.count)
        images.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { destination in
                for (row, index) in indices.enumerated() {
                    guard let d = destination.baseAddress, let s = source.baseAddress else { continue }
                    (d + row * size).update(from: s + index * size, count: size)
                    batchLabels[row] = labels[index]
                }
            }
        }
        return (pixels, batchLabels)
    }
}

/// Which part of a data set.
public enum DataSplit: String, Sendable { case train, test }
