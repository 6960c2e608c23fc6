import Foundation
import LatheData
import LatheDetection

/// A named data set on disk, loaded and normalised the same way for every run.
public enum DataSource: String, Sendable, Codable, CaseIterable {
    case fashionMNIST = "fashion-mnist"
    case cifar10 = "cifar10"
    /// Boxes on 96×96 canvases of 1–6 Fashion-MNIST items (`FMNISTCanvases`; 10 classes).
    case fmnistDetect = "fmnist-detect"
    /// Per-pixel classes of the same canvases (11 classes: background and the 10 items).
    case fmnistSeg = "fmnist-seg"

    /// Where the data lives unless a directory is given (for the canvases: the Fashion-MNIST
    /// they are made from; they are cached under `FMNISTCanvases.defaultCacheDirectory`).
    public var defaultDirectory: String? {
        switch self {
        case .fashionMNIST, .fmnistDetect, .fmnistSeg: FashionMNIST.defaultDirectory
        case .cifar10: nil
        }
    }

    /// What the data set's samples are labelled with.
    public var task: PredictionTask {
        switch self {
        case .fashionMNIST, .cifar10: .classification
        case .fmnistDetect: .detection
        case .fmnistSeg: .segmentation
        }
    }

    /// Train and test splits, normalised with the data set's published channel statistics.
    /// `limitTrain`/`limitTest` keep only the first samples (for quick runs and tests).
    /// The canvases are cached in `cacheDirectory` (default `FMNISTCanvases.defaultCacheDirectory`).
    public func load(directory: String?, limitTrain: Int? = nil, limitTest: Int? = nil,
                     cacheDirectory: String? = nil) throws -> (train: ImageDataset, test: ImageDataset) {
        guard let directory = directory ?? defaultDirectory else {
            throw DataSourceError.directoryRequired(rawValue)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataSourceError.missingDirectory(directory, rawValue)
        }
        var train: ImageDataset, test: ImageDataset
        let mean: [Float], std: [Float]
        switch self {
        case .fmnistDetect, .fmnistSeg:
            // A limit generates (and caches) only the canvases it uses: the first n of the defaults.
            let config = CanvasConfig.limited(train: limitTrain, test: limitTest)
            let cache = cacheDirectory ?? FMNISTCanvases.defaultCacheDirectory
            let trainSet = try FMNISTCanvases.load(.train, config: config, cacheDirectory: cache, fashionMNIST: directory)
            let testSet = try FMNISTCanvases.load(.test, config: config, cacheDirectory: cache, fashionMNIST: directory)
            train = try trainSet.dataset(for: task)
            test = try testSet.dataset(for: task)
            (mean, std) = ([FashionMNIST.mean], [FashionMNIST.std])
        case .fashionMNIST:
            train = try FashionMNIST.load(split: .train, directory: directory)
            test = try FashionMNIST.load(split: .test, directory: directory)
            (mean, std) = ([FashionMNIST.mean], [FashionMNIST.std])
        case .cifar10:
            train = try CIFAR10.load(split: .train, directory: directory)
            test = try CIFAR10.load(split: .test, directory: directory)
            (mean, std) = (CIFAR10.mean, CIFAR10.std)
        }
        if let n = limitTrain, train.count > n { train = train.prefix(n) }
        if let n = limitTest, test.count > n { test = test.prefix(n) }
        return (train.normalized(mean: mean, std: std), test.normalized(mean: mean, std: std))
    }
}

/// Errors locating a data set.
public enum DataSourceError: Error, CustomStringConvertible, Equatable {
    case directoryRequired(String)
    case missingDirectory(String, String)

    public var description: String {
        switch self {
        case let .directoryRequired(name): "data set '\(name)' has no default location: pass --data DIR"
        case let .missingDirectory(path, name):
            "data directory '\(path)' for \(name) does not exist" + (name == "fashion-mnist" ? " (install Debian's dataset-fashion-mnist or pass --data DIR)" : "")
        }
    }
}

extension CanvasSet {
    /// The canvases as a data set for `task`: grey images in [0, 1] with their boxes (class =
    /// category − 1) or their masks (11 classes, 0 background).
    public func dataset(for task: PredictionTask) throws -> ImageDataset {
        var pixels = [Float](repeating: 0, count: images.count)
        for i in images.indices { pixels[i] = Float(images[i]) / 255 }
        switch task {
        case .segmentation:
            return try ImageDataset(images: pixels, targets: .masks(masks), channels: 1, height: size, width: size, classCount: 11)
        case .detection:
            let boxes = (0..<count).map { i in
                objects(in: i).map { LabelledBox(label: $0.category - 1, x: Double($0.x), y: Double($0.y), width: Double($0.width), height: Double($0.height)) }
            }
            return try ImageDataset(images: pixels, targets: .boxes(boxes), channels: 1, height: size, width: size, classCount: 10)
        case .classification:
            throw TrainingError.dataModelMismatch("the canvases label boxes (fmnist-detect) or masks (fmnist-seg), not one class per image")
        }
    }
}
