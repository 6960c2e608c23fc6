import Foundation
import LatheModels
import LatheTensor

/// The static cost of a model: parameters, size at real bit widths, multiply-accumulates.
public struct ModelCost: Sendable, Codable, Equatable {
    /// Trainable elements.
    public var parameters: Int
    /// Bytes of every stored tensor (parameters and buffers) at its bit width; tensors of rank
    /// 2 or more in the smallest of the dense and sparse formats (`SparseStorage`).
    public var sizeBytes: Int
    /// Multiply-accumulates per sample, total.
    public var macs: Int
    /// Per-layer profile (shapes, MACs, parameters).
    public var layers: [LayerProfile]
    /// The tensors stored in a sparse format, by name, with their size; nil when all are dense.
    public var sparseStorage: [String: TensorStorage]?

    /// Measures `model`; `bits` gives the storage width of named tensors (default 32).
    public static func of(_ model: Model, bits: [String: Int] = [:]) throws -> ModelCost {
        let profile = try model.profile()
        var size = 0
        var sparse: [String: TensorStorage] = [:]
        for (name, tensor) in model.state {
            let valueBits = bits[name] ?? 32
            // Weight matrices and kernels only: a vector (a bias, a norm's statistics) stays dense.
            let storage = tensor.shape.count >= 2 ? try SparseStorage.best(tensor, valueBits: valueBits)
                : TensorStorage(format: .dense, bytes: (tensor.count * valueBits + 7) / 8)
            size += storage.bytes
            if storage.format != .dense { sparse[name] = storage }
        }
        return ModelCost(parameters: model.parameterCount, sizeBytes: size, macs: profile.reduce(0) { $0 + $1.macs },
                         layers: profile, sparseStorage: sparse.isEmpty ? nil : sparse)
    }
}

/// Measured inference latency.
public struct Latency: Sendable, Codable, Equatable {
    /// Batch size measured.
    public var batchSize: Int
    /// Median milliseconds per forward pass.
    public var medianMilliseconds: Double
    /// Number of timed runs.
    public var runs: Int

    /// Median wall time of `runs` evaluation-mode forward passes on zeros (after `warmup` passes).
    public static func measure(_ model: Model, batchSize: Int, runs: Int = 20, warmup: Int = 3) throws -> Latency {
        let o = model.options
        return try measure(input: [o.inputChannels, o.imageSize, o.imageSize], batchSize: batchSize, runs: runs, warmup: warmup) {
            try model.predict($0)
        }
    }

    /// Median wall time of `forward` on a zero batch of `[batchSize] + input` (no gradients).
    public static func measure(input: [Int], batchSize: Int, runs: Int = 20, warmup: Int = 3,
                               forward: (Tensor) throws -> Tensor) throws -> Latency {
        let started = MeasurementClock.start()
        defer { MeasurementClock.stop(started) }
        let x = try Tensor.zeros([batchSize] + input)
        for _ in 0..<warmup { _ = try withNoGrad { try forward(x) } }
        var times: [Double] = []
        for _ in 0..<Swift.max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try withNoGrad { try forward(x) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return Latency(batchSize: batchSize, medianMilliseconds: Statistics.median(times), runs: times.count)
    }
}

/// Process measurements.
public enum ProcessStats {
    /// Peak resident set size of this process so far, in bytes.
    public static var peakRSSBytes: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }
}

/// Small statistics helpers shared by metrics and benchmarks.
public enum Statistics {
    /// The median (mean of the middle two for even counts); 0 for no values.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
