import Foundation
import LatheTestSupport
import LatheData
import LathePlugins
import LatheTensor
import LatheTrain
import Testing

/// Shared fixtures: the checkout's registry (first-party plugins built and pinned by
/// scripts/build-plugins.sh), small real Fashion-MNIST slices, scratch folders, comparisons.
enum Support {
    /// The package root (the folder holding Package.swift).
    static let root = SourceTree.root

    /// The checkout's registry. Loading a method fails (it does not skip) with the registry's
    /// message when a library is missing or stale: "build it: scripts/build-plugins.sh".
    static func registry() throws -> Registry {
        try Registry(directory: root.appendingPathComponent("registry").path)
    }

    /// A registered method, or a failure explaining how to build the plugins.
    static func method(_ id: String) throws -> PluginMethod {
        do {
            return try registry().method(id)
        } catch {
            throw PluginError("\(id) is not usable from \(root.path)/registry: \(error) — run scripts/build-plugins.sh first")
        }
    }

    /// The first 600 training and 200 test images of Fashion-MNIST (normalised).
    static let fashion: (train: ImageDataset, test: ImageDataset) = {
        do {
            return try DataSource.fashionMNIST.load(directory: nil, limitTrain: 600, limitTest: 200)
        } catch {
            fatalError("Fashion-MNIST is required for these tests (scripts/bootstrap.sh installs it): \(error)")
        }
    }()

    /// A fresh scratch directory; the caller removes it.
    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-distill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Standard-normal float32 values of `shape` (times `scale`) from `seed`.
    static func randn(_ shape: [Int], seed: UInt64, scale: Double = 1) throws -> Tensor {
        try Tensor.randn(shape, generator: RandomGenerator(seed: seed)) * scale
    }

    /// The same values in float64, as a leaf requiring gradients (the reference's input).
    static func leaf64(_ t: Tensor) throws -> Tensor {
        try t.converted(to: .float64).detached().requiringGrad()
    }

    /// Expects `actual` (a plugin's float32 gradient) to equal `expected` (autograd's float64
    /// gradient) up to float32 rounding: |a - e| <= rtol * (|e| + max|e|).
    static func expectClose(_ actual: Tensor, _ expected: Tensor, rtol: Double = 2e-6, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
        let a = try actual.converted(to: .float64).scalars(as: Double.self)
        let e = try expected.converted(to: .float64).scalars(as: Double.self)
        let scale = e.reduce(0) { Swift.max($0, Swift.abs($1)) }
        var worst = 0.0, at = 0
        for i in e.indices {
            let excess = Swift.abs(a[i] - e[i]) / (Swift.abs(e[i]) + scale + 1e-30)
            if excess > worst { (worst, at) = (excess, i) }
        }
        #expect(worst <= rtol, "\(what): element \(at) is \(a[at]), reference \(e[at]) (relative error \(worst))",
                sourceLocation: sourceLocation)
        #expect(scale > 0, "\(what): the reference gradient is all zero, the test proves nothing", sourceLocation: sourceLocation)
    }

    /// Expects two losses to agree to `rtol` relative.
    static func expectClose(_ actual: Double, _ expected: Double, rtol: Double = 1e-9, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let error = Swift.abs(actual - expected) / Swift.max(Swift.abs(expected), 1e-300)
        #expect(error <= rtol, "\(what): \(actual) vs reference \(expected) (relative error \(error))", sourceLocation: sourceLocation)
    }

    /// An identity matrix [n, n] in float64.
    static func eye(_ n: Int) throws -> Tensor {
        var values = [Double](repeating: 0, count: n * n)
        for i in 0..<n { values[i * n + i] = 1 }
        return try Tensor(values, shape: [n, n])
    }

    /// Huber (smooth L1, delta 1) elementwise, as torch: 0.5 r² where |r| < 1, else |r| − 0.5.
    static func huber(_ r: Tensor) throws -> Tensor {
        let a = try r.abs()
        return try Tensor.where(try a.lt(1), try r.squared() * 0.5, try a - 0.5)
    }

    /// Labels [B] (int64) for tests.
    static func labels(_ batch: Int, classes: Int = 10) throws -> Tensor {
        try Tensor((0..<batch).map { Int64(($0 * 7 + 3) % classes) }, shape: [batch])
    }
}
