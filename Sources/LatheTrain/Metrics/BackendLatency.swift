import Foundation

/// Latency of the model exported to another runtime (ONNX Runtime), timed beside libtorch's
/// latency phase: medians at batch 1 and 256, with the uncompressed model's (exported the same
/// way and timed in interleaved rounds) for a speedup within that runtime.
public struct BackendLatency: Sendable, Codable, Equatable {
    /// One batch size.
    public struct Row: Sendable, Codable, Equatable {
        public var batchSize: Int
        public var medianMilliseconds: Double
        /// The 25th and 75th percentiles of the timed runs.
        public var p25Milliseconds: Double
        public var p75Milliseconds: Double
        public var runs: Int
        /// The reference (uncompressed) model's median in the same runtime and rounds.
        public var referenceMedianMilliseconds: Double?

        public init(batchSize: Int, medianMilliseconds: Double, p25Milliseconds: Double, p75Milliseconds: Double, runs: Int,
                    referenceMedianMilliseconds: Double?) {
            self.batchSize = batchSize
            self.medianMilliseconds = medianMilliseconds
            self.p25Milliseconds = p25Milliseconds
            self.p75Milliseconds = p75Milliseconds
            self.runs = runs
            self.referenceMedianMilliseconds = referenceMedianMilliseconds
        }

        /// Reference median over this median.
        public var speedup: Double? { referenceMedianMilliseconds.map { $0 / Swift.max(medianMilliseconds, 1e-12) } }
    }

    /// The runtime (`onnxruntime`) and its version.
    public var backend: String
    public var version: String
    /// What ran: `fp32` or `qdq` (int8 QuantizeLinear/DequantizeLinear graph).
    public var graph: String
    public var threads: Int
    public var rows: [Row]
    /// Operator types that ran after the runtime's graph optimizations, with counts (shows
    /// whether Q/DQ pairs became integer kernels).
    public var kernels: [String: Int]

    public init(backend: String, version: String, graph: String, threads: Int, rows: [Row], kernels: [String: Int]) {
        self.backend = backend
        self.version = version
        self.graph = graph
        self.threads = threads
        self.rows = rows
        self.kernels = kernels
    }

    /// `onnxruntime 1.32.0 (qdq): b1 0.051 ms (1.90×), b256 3.2 ms (2.10×)`.
    public var summary: String {
        let parts = rows.map { r in
            String(format: "b%d %.3f ms", r.batchSize, r.medianMilliseconds) + (r.speedup.map { String(format: " (%.2f×)", $0) } ?? "")
        }
        return "\(backend) \(version) (\(graph)): " + parts.joined(separator: ", ")
    }
}
