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
    /// Number of timed runs (rounds, in the latency phase).
    public var runs: Int
    /// The median's 95% interval (latency phase only).
    public var lowerMilliseconds: Double?
    public var upperMilliseconds: Double?
    /// Speedup over the reference model (reference time / this time) with its 95% interval, from
    /// the per-round paired ratios; for the reference itself (or a model timed alone) this is its
    /// control, against a copy of itself, and must read 1.00 within the interval.
    public var speedup: Double?
    public var speedupLower: Double?
    public var speedupUpper: Double?

    public init(batchSize: Int, medianMilliseconds: Double, runs: Int) {
        self.batchSize = batchSize
        self.medianMilliseconds = medianMilliseconds
        self.runs = runs
    }

    /// Relative half-width of the median's interval (0.02 = ±2 %), when known.
    public var noise: Double? {
        guard let l = lowerMilliseconds, let u = upperMilliseconds, medianMilliseconds > 0 else { return nil }
        return (u - l) / 2 / medianMilliseconds
    }

    /// A series' median and interval, with its speedup over `reference` when given.
    public init(_ series: LatencySeries, over reference: LatencySeries?) {
        let m = series.median
        self.init(batchSize: series.batchSize, medianMilliseconds: m.median, runs: series.samples.count)
        lowerMilliseconds = m.lower
        upperMilliseconds = m.upper
        if let reference {
            let s = LatencyPhase.speedup(of: series, over: reference)
            (speedup, speedupLower, speedupUpper) = (s.median, s.lower, s.upper)
        }
    }

    /// "b1 0.123 ms ±1.2 %, 1.05× [1.01, 1.09]" (the parts that are known).
    public var summary: String {
        var s = String(format: "b%d %.3f ms", batchSize, medianMilliseconds)
        if let n = noise { s += String(format: " ±%.1f %%", 100 * n) }
        if let v = speedup, let l = speedupLower, let u = speedupUpper {
            s += String(format: ", %.2f× [%.2f, %.2f]%@", v, l, u, l <= 1 && 1 <= u ? " (within noise)" : "")
        }
        return s
    }

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
