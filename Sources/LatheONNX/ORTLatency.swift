import Foundation
import LatheTrain

/// ONNX Runtime as a second real-execution backend for latency: an exported model is timed by `scripts/ort_bench.py` with the
/// checkout's `.venv` Python at batch 1 and 256, interleaved with the uncompressed model's
/// export when there is one, at the command's `--threads`.
public enum ORTLatency {
    /// One model's figures from `time`.
    public struct Timed: Sendable {
        public var rows: [BackendLatency.Row]
        public var kernels: [String: Int]
    }

    /// Times the ONNX files `models` (name, path) in ONNX Runtime in interleaved rounds at batch
    /// 1 and 256 (`runs` rounds each); returns ONNX Runtime's version and each model's figures.
    public static func time(_ models: [(name: String, path: String)], threads: Int, python: String?, runs: (Int, Int) = (100, 10))
        throws -> (version: String, models: [String: Timed])
    {
        let runner = try ONNXRuntimeRunner(python: python)
        let script = URL(fileURLWithPath: runner.script).deletingLastPathComponent().appendingPathComponent("ort_bench.py").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-ort-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("latency.json")
        let arguments = [script] + models.map { "\($0.name)=\($0.path)" }
            + ["--threads", "\(threads)", "--batches", "1,256", "--runs", "\(runs.0),\(runs.1)", "--json", json.path]
        _ = try runner.runPython(arguments, what: "ONNX Runtime latency (\(runner.python) \(script))")
        return try parse(Data(contentsOf: json))
    }

    /// Times `model` (and `reference`, interleaved) in ONNX Runtime.
    public static func measure(_ model: Onnx_ModelProto, graph: String, reference: Onnx_ModelProto?, threads: Int, python: String?) throws -> BackendLatency {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-ort-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var models = [(name: "model", path: dir.appendingPathComponent("model.onnx").path)]
        try ONNXModelFile.write(model, to: URL(fileURLWithPath: models[0].path))
        if let reference {
            models.append((name: "reference", path: dir.appendingPathComponent("reference.onnx").path))
            try ONNXModelFile.write(reference, to: URL(fileURLWithPath: models[1].path))
        }
        let (version, timed) = try time(models, threads: threads, python: python)
        guard let mine = timed["model"] else { throw ONNXRuntimeError(description: "ort_bench.py timed no model") }
        let rows = mine.rows.map { r in
            var row = r
            row.referenceMedianMilliseconds = timed["reference"]?.rows.first { $0.batchSize == r.batchSize }?.medianMilliseconds
            return row
        }
        return BackendLatency(backend: "onnxruntime", version: version, graph: graph, threads: threads, rows: rows, kernels: mine.kernels)
    }

    /// The figures of ort_bench.py's JSON.
    static func parse(_ data: Data) throws -> (version: String, models: [String: Timed]) {
        struct Bench: Decodable {
            struct Model: Decodable {
                struct Row: Decodable {
                    var batch: Int
                    var runs: Int
                    var median_ms: Double
                    var p25_ms: Double
                    var p75_ms: Double
                }
                var kernels: [String: Int]
                var latency: [Row]
            }
            var ort_version: String
            var models: [String: Model]
        }
        let bench: Bench
        do {
            bench = try JSONDecoder().decode(Bench.self, from: data)
        } catch {
            throw ONNXRuntimeError(description: "ort_bench.py wrote unreadable figures: \(error)")
        }
        return (bench.ort_version, bench.models.mapValues { m in
            Timed(rows: m.latency.map { r in
                BackendLatency.Row(batchSize: r.batch, medianMilliseconds: r.median_ms, p25Milliseconds: r.p25_ms, p75Milliseconds: r.p75_ms,
                                   runs: r.runs, referenceMedianMilliseconds: nil)
            }, kernels: m.kernels)
        })
    }
}
