import Foundation
import LatheData

/// A named data set on disk, loaded and normalised the same way for every run.
public enum DataSource: String, Sendable, Codable, CaseIterable {
    case fashionMNIST = "fashion-mnist"
    case cifar10 = "cifar10"

    /// Where the data lives unless a directory is given.
    public var defaultDirectory: String? {
        switch self {
        case .fashionMNIST: FashionMNIST.defaultDirectory
        case .cifar10: nil
        }
    }

    /// Train and test splits, normalised with the data set's published channel statistics.
    /// `limitTrain`/`limitTest` keep only the first samples (for quick runs and tests).
    public func load(directory: String?, limitTrain: Int? = nil, limitTest: Int? = nil) throws -> (train: ImageDataset, test: ImageDataset) {
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
        case .fashionMNIST:
            train = try FashionMNIST.load(split: .train, directory: directory)
            test = try FashionMNIST.load(split: .test, directory: directory)
            (mean, std) = ([FashionMNIST.mean], [FashionMNIST.std])
        case .cifar10:
            train = try CIFAR10.load(split: .train, directory: directory)
            test = try CIFAR10.load(split: .test, directory: directory)
            (mean, std) = (CIFAR10.mean, CIFAR10.std)
        }
        if let n = limitTrain { train = train.prefix(n) }
        if let n = limitTest { test = test.prefix(n) }
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
