import Foundation
import LatheData
import LatheTrain

/// Small real slices of Fashion-MNIST (Debian's dataset-fashion-mnist), loaded once.
enum Fixtures {
    static let fashion: (train: ImageDataset, test: ImageDataset) = {
        do {
            return try DataSource.fashionMNIST.load(directory: nil, limitTrain: 2000, limitTest: 500)
        } catch {
            fatalError("Fashion-MNIST is required for these tests (scripts/bootstrap.sh installs it): \(error)")
        }
    }()

    /// A fresh scratch directory removed by the caller.
    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
