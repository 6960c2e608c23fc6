import Foundation
import LatheTrain

/// ONNX Runtime as a second real-execution backend for latency: an exported model is timed by `scripts/ort_bench.py` with the
/// checkout's `.venv` Python at batch 1 and 256, interleaved with the uncompressed model's
/// export when there is one, at the command's `--threads`.
public enum ORTLatency {
    /// Times `model` (and `reference`) in ONNX Runtime.
    public static func measure(_ model: Onnx_ModelProto, graph: String, reference: Onnx_ModelProto?, threads: Int, python: String?) throws -> BackendLatency {
        let runner = try ONNXRuntimeRunner(python: python)
        let script = URL(fileURLWithPath: runner.script).deletingLastPathComponent().appendingPathComponent("ort_bench.py").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-ort-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelPath = dir.appendingPathComponent("model.onnx"), referencePath = dir.appendingPathComponent("reference.onnx")
        try ONNXModelFile.write(model, to: modelPath)
        var arguments = [script, "model=\(modelPath.path)"]
        if let reference {
            try ONNXModelFile.write(reference, to: referencePath)
            arguments.append("reference=\(referencePath.path)")
        }
        let json = dir.appendingPathComponent("latency.json")
        arguments += ["--threads", "\(threads)", "--batches", "1,256", "--runs", "100,10", "--json", json.path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: runner.python)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
            throw ONNXRuntimeError(description: "ONNX Runtime latency (\(runner.python) \(script)) failed: \(message)")
        }
        return try parse(Data(contentsOf: json), graph: graph, threads: threads)
    }

    /// The figures of ort_bench.py's JSON.
    public static func parse(_ data: Data, graph: String, threads: Int) throws -> BackendLatency {
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
        guard let mine = bench.models["model"] else { throw ONNXRuntimeError(description: "ort_bench.py timed no model") }
        let reference = bench.models["reference"]
        let rows = mine.latency.map { r in
            BackendLatency.Row(batchSize: r.batch, medianMilliseconds: r.median_ms, p25Milliseconds: r.p25_ms, p75Milliseconds: r.p75_ms, runs: r.runs,
                               referenceMedianMilliseconds: reference?.latency.first { $0.batch == r.batch }?.median_ms)
        }
        return BackendLatency(backend: "onnxruntime", version: bench.ort_version, graph: graph, threads: threads, rows: rows, kernels: mine.kernels)
    }
}

