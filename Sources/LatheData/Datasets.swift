import Foundation

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60 000 + 10 000 grey 28×28 images of 10
/// clothing classes, in IDX files. Debian ships it as `dataset-fashion-mnist`.
public enum FashionMNIST {
    /// `/usr/share/datasets/fashion-mnist`, or `LATHE_FASHION_MNIST` when set.
    public static let defaultDirectory = ProcessInfo.processInfo.environment["LATHE_FASHION_MNIST"] ?? "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// Mean of the training pixels in [0, 1].
    public static let mean: Float = 0.2860
    /// Standard deviation of the training pixels in [0, 1].
    public static let std: Float = 0.3530

    /// Images scaled to [0, 1] and labels 0...9. Accepts `.gz` or uncompressed files.
    public static func load(split: DataSplit, directory: String = defaultDirectory) throws -> ImageDataset {
        try MNISTStyle.load(split: split, directory: directory, classCount: 10)
    }
}

/// Loader shared by MNIST-format data sets.
enum MNISTStyle {
    static func locate(_ directory: String, _ stem: String) throws -> String {
        for name in [stem + ".gz", stem] {
            let path = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw DataError.missingFile(path: (directory as NSString).appendingPathComponent(stem + ".gz"))
    }

    static func load(split: DataSplit, directory: String, classCount: Int) throws -> ImageDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError.missingDirectory(path: directory)
        }
        let prefix = split == .train ? "train" : "t10k"
        let imagePath = try locate(directory, "\(prefix)-images-idx3-ubyte")
        let labelPath = try locate(directory, "\(prefix)-labels-idx1-ubyte")
        let images = try IDX.read(path: imagePath)
        let labels = try IDX.read(path: labelPath)
        guard images.elementType == .uint8, images.dimensions.count == 3 else {
            throw DataError.invalid(path: imagePath, reason: "expected uint8 images of rank 3, found \(images.elementType) of rank \(images.dimensions.count)")
        }
        guard labels.elementType == .uint8, labels.dimensions.count == 1 else {
            throw DataError.invalid(path: labelPath, reason: "expected uint8 labels of rank 1, found \(labels.elementType) of rank \(labels.dimensions.count)")
        }
        guard images.dimensions[0] > 0 else {
            throw DataError.invalid(path: imagePath, reason: "holds 0 images; a \(split.rawValue) set needs at least one")
        }
        guard images.dimensions[1] > 0, images.dimensions[2] > 0 else {
            throw DataError.invalid(path: imagePath, reason: "images of \(images.dimensions[1])×\(images.dimensions[2]) pixels; expected at least 1×1")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataError.countMismatch(images: imagePath, imageCount: images.dimensions[0], labels: labelPath, labelCount: labels.dimensions[0])
        }
        if let bad = labels.bytes.first(where: { Int($0) >= classCount }) {
            throw DataError.invalid(path: labelPath, reason: "label \(bad) outside 0..<\(classCount)")
        }
        let pixels = images.bytes.map { Float($0) / 255 }
        return ImageDataset(unchecked: pixels, labels.bytes.map(Int64.init), 1, images.dimensions[1], images.dimensions[2], classCount)
    }
}

/// CIFAR-10 (Krizhevsky 2009) in its binary version: `data_batch_1.bin` … `data_batch_5.bin`
/// and `test_batch.bin`, each record one label byte then 3072 bytes of CHW 32×32 pixels.
public enum CIFAR10 {
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    /// Per-channel mean of the training pixels in [0, 1].
    public static let mean: [Float] = [0.4914, 0.4822, 0.4465]
    /// Per-channel standard deviation of the training pixels in [0, 1].
    public static let std: [Float] = [0.2470, 0.2435, 0.2616]
    static let recordSize = 1 + 3 * 32 * 32

    /// Images scaled to [0, 1] and labels 0...9.
    public static func load(split: DataSplit, directory: String) throws -> ImageDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError.missingDirectory(path: directory)
        }
        let names = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        var pixels: [Float] = [], labels: [Int64] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            let bytes = try FileBytes.read(path)
            guard !bytes.isEmpty, bytes.count % recordSize == 0 else {
                throw DataError.truncated(path: path, expectedBytes: (bytes.count / recordSize + 1) * recordSize, foundBytes: bytes.count,
                                          what: "whole records of \(recordSize) bytes")
            }
            pixels.reserveCapacity(pixels.count + bytes.count)
            for r in 0..<(bytes.count / recordSize) {
                let base = r * recordSize
                guard bytes[base] < 10 else { throw DataError.invalid(path: path, reason: "record \(r) has label \(bytes[base]), expected 0...9") }
                labels.append(Int64(bytes[base]))
                pixels += bytes[(base + 1)..<(base + recordSize)].map { Float($0) / 255 }
            }
        }
        return ImageDataset(unchecked: pixels, labels, 3, 32, 32, 10)
    }
}
