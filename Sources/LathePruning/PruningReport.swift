import Foundation
import LatheIO
import LatheModels
import LathePlugins
import LatheTrain

/// The ledger of one pruning run: what was masked, what was physically removed, and what that
/// bought in parameters, size, MACs and measured latency, against the run's own dense model.
public struct PruningReport: Sendable, Codable, Equatable {
    /// One layer that owns parameters.
    public struct LayerEntry: Sendable, Codable, Equatable {
        public var name: String
        /// `conv2d`, `conv2d-depthwise`, `linear`, `batchnorm2d`.
        public var kind: String
        /// Whether the criterion scored this layer (false for excluded, coupled and other layers).
        public var pruned: Bool
        /// The layer's final sparsity target (pruned layers).
        public var targetSparsity: Double?
        /// Parameters in the dense model.
        public var parametersBefore: Int
        /// Parameters in the returned model (fewer only after physical removal).
        public var parametersAfter: Int
        /// Fraction of the layer's weight zeroed by its mask, before any physical removal.
        public var maskedSparsity: Double
        /// Output channels (dimension 0 of the weight) before and after physical removal.
        public var channelsBefore: Int?
        public var channelsAfter: Int?
        /// Output channels removed physically (0 when only masked).
        public var channelsRemoved: Int
        /// The storage format of the returned model's weight (`dense`, `bitmask`, `csr-8`,
        /// `csr-16`: the smallest, see `SparseStorage`) and its bytes in it.
        public var storageFormat: StorageFormat
        public var storageBytes: Int
    }

    /// One pruning step of the schedule.
    public struct Step: Sendable, Codable, Equatable {
        public var step: Int
        /// Sparsity target over the scored units at this step (the global or default target).
        public var targetSparsity: Double
        /// Fraction of the pruned layers' weights masked after this step.
        public var maskedSparsity: Double
        public var finetuneEpochs: Int
        public var finetuneSeconds: Double
        /// Test accuracy after this step's fine-tuning.
        public var accuracy: Double
    }

    /// One model's side of the comparison.
    public struct Side: Sendable, Codable, Equatable {
        /// Top-1 test accuracy in 0...1.
        public var accuracy: Double
        /// Trainable elements.
        public var parameters: Int
        /// Trainable elements that are not zero.
        public var nonzeroParameters: Int
        /// Bytes of every stored tensor at 32 bits, each in its smallest format (dense or sparse).
        public var sizeBytes: Int
        /// Multiply-accumulates per sample the kernels execute.
        public var macs: Int
        /// Median milliseconds per forward pass at batch 1 and 256 (best of the interleaved
        /// rounds); nil when the run did not time the models (`--no-latency`, sweep trials).
        public var latencyB1Milliseconds: Double?
        public var latencyB256Milliseconds: Double?
    }

    /// The configuration that ran.
    public var config: PruningConfig
    /// `plugin/method` of the criterion.
    public var criterion: String
    /// sha256 of the criterion's library (from its manifest pin).
    public var pluginSHA256: String?
    /// `element` or `output-channel`.
    public var granularity: String
    /// The criterion's hyperparameters with defaults filled in.
    public var params: [String: HyperValue]
    public var layers: [LayerEntry]
    public var steps: [Step]
    public var dense: Side
    public var pruned: Side
    /// Fraction of the pruned layers' weights that their masks zero.
    public var maskedSparsity: Double
    /// Masked weights as a fraction of all the dense model's parameters.
    public var overallSparsity: Double
    /// Parameters the pruned model no longer has (physical removal).
    public var physicallyRemovedParameters: Int
    /// Pruned minus dense accuracy, in percentage points.
    public var accuracyDeltaPoints: Double
    /// Dense latency / pruned latency; nil when not measured.
    public var speedupB1: Double?
    public var speedupB256: Double?
    /// Size of the dense model / size of the pruned model, sparse formats counted.
    public var compressionRatio: Double
    /// MACs of the dense model / MACs of the pruned model.
    public var macsReduction: Double
    /// Whether the sparsity bought a real speedup, in words.
    public var speedupNote: String

    /// A few lines for the terminal.
    public var summary: String {
        func latency(_ side: Side) -> String {
            guard let b1 = side.latencyB1Milliseconds, let b256 = side.latencyB256Milliseconds else { return "latency not measured" }
            return String(format: "latency b1 %.3f ms  b256 %.2f ms", b1, b256)
        }
        var lines: [String] = []
        lines.append(String(format: "dense:  accuracy %.2f%%  %d params  %.1f KB  %d MACs  %@",
                            100 * dense.accuracy, dense.parameters, Double(dense.sizeBytes) / 1024, dense.macs, latency(dense)))
        lines.append(String(format: "pruned: accuracy %.2f%%  %d params (%d nonzero)  %.1f KB  %d MACs  %@",
                            100 * pruned.accuracy, pruned.parameters, pruned.nonzeroParameters, Double(pruned.sizeBytes) / 1024, pruned.macs,
                            latency(pruned)))
        lines.append(String(format: "%@ %@, masked sparsity %.1f%% of pruned layers (%.1f%% of all parameters), %d parameters removed physically, accuracy %+.2f pt",
                            criterion, granularity, 100 * maskedSparsity, 100 * overallSparsity, physicallyRemovedParameters, accuracyDeltaPoints))
        let sparse = layers.filter { $0.storageFormat != .dense }
            .map { "\($0.name) \($0.storageFormat.rawValue)" }.joined(separator: ", ")
        lines.append(String(format: "size: %.1f KB → %.1f KB, compression %.2f× (%@)", Double(dense.sizeBytes) / 1024,
                            Double(pruned.sizeBytes) / 1024, compressionRatio,
                            sparse.isEmpty ? "all weights dense" : "sparse weights: " + sparse))
        if let speedupB1, let speedupB256 {
            lines.append(String(format: "speedup: %.2f× at batch 1, %.2f× at batch 256, MACs ÷%.2f — %@", speedupB1, speedupB256, macsReduction, speedupNote))
        } else {
            lines.append(String(format: "speedup: not measured, MACs ÷%.2f — %@", macsReduction, speedupNote))
        }
        return lines.joined(separator: "\n")
    }

    /// The verdict on speed: masked sparsity alone runs on dense kernels.
    static func speedupNote(physical: Bool, granularity: Granularity, removedFraction: Double, speedupB256: Double?,
                            pattern: NMPattern? = nil) -> String {
        let measured = speedupB256.map { String(format: "measured %.2f× at batch 256", $0) } ?? "latency not measured"
        if let pattern {
            return "\(pattern) semi-structured sparsity: no speedup on this CPU's libtorch, which has no N:M sparse kernels "
                + "(the pattern pays off only on hardware with them, e.g. sparse tensor cores; \(measured))"
        }
        guard physical else {
            let what = granularity == .outputChannel
                ? "channels masked but not removed" : "masked sparsity only"
            return "\(what): no real speedup (dense kernels still compute the zeros; \(measured))"
                + (granularity == .outputChannel ? "; enable physical removal" : "")
        }
        let removed = String(format: "%.1f%% of parameters physically removed", 100 * removedFraction)
        guard let speedupB256 else { return "\(removed) (\(measured))" }
        if speedupB256 >= 1.1 { return "\(removed): real speedup, \(measured)" }
        return "\(removed), but no real speedup (\(measured))"
    }
}

/// Dense vs pruned latency, measured alternately so that both see the same machine load.
public enum LatencyComparison {
    /// For batch sizes 1 and 256: the best median over `rounds` alternating measurements of
    /// each model. Returns `(dense, pruned)` milliseconds per batch size.
    public static func measure(dense: Model, pruned: Model, rounds: Int = 3) throws -> [(batchSize: Int, dense: Double, pruned: Double)] {
        try [1, 256].map { batch in
            var best = (Double.infinity, Double.infinity)
            let runs = batch == 1 ? 50 : 10
            for _ in 0..<Swift.max(1, rounds) {
                best.0 = Swift.min(best.0, try Latency.measure(dense, batchSize: batch, runs: runs).medianMilliseconds)
                best.1 = Swift.min(best.1, try Latency.measure(pruned, batchSize: batch, runs: runs).medianMilliseconds)
            }
            return (batch, best.0, best.1)
        }
    }
}
