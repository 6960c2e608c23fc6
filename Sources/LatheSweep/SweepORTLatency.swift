import Foundation
import LatheModels
import LatheONNX
import LatheQuant
import LatheResults
import LatheTrain

/// The sweep's ONNX Runtime latency (`lathe sweep --backend ort`), after libtorch's phase:
/// every done trial's saved model is exported to `<out>/onnx/trial-N.onnx` (QDQ int8 where its
/// quantization has a QDQ form, fp32 otherwise) and all are timed by ONNX Runtime in one run of
/// interleaved rounds at batch 1 and 256. Each trial gets `ort_latency_b*_ms` and
/// `ort_speedup_b*` (its seed's baseline median over its own; 1 for the baseline).
enum SweepORTLatency {
    static func run(store: ResultsStore, sweep: Int64, out: String, options: SweepOptions, log: (String) -> Void) throws {
        let done = try store.trials(sweep: sweep).filter { $0.status == "done" }
        let folder = URL(fileURLWithPath: out).appendingPathComponent("onnx")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var models: [(name: String, path: String)] = []
        var forms: [String: Int] = [:]
        var timed: [ResultsStore.Trial] = []
        for trial in done {
            let checkpoint = SweepLatency.modelPath(out: out, trial: trial.id)
            guard FileManager.default.fileExists(atPath: checkpoint) else { continue }
            let (model, metadata) = try Checkpoint.load(checkpoint)
            var quantization: [String: QDQLayer] = [:]
            var form = "fp32"
            // The plan reads the quantization record; a checkpoint without one (or without a QDQ form) exports as fp32.
            if let plan = try? QDQExportPlan(checkpoint: checkpoint, metadata: metadata, activationBits: .auto) {
                quantization = plan.layers
                form = "qdq"
            }
            let path = folder.appendingPathComponent("trial-\(trial.id).onnx")
            try ONNXModelFile.write(try ONNXExporter.export(model, metadata: metadata.filter { $0.key.hasPrefix("lathe.") }, quantization: quantization), to: path)
            models.append((name: "trial-\(trial.id)", path: path.path))
            forms[form, default: 0] += 1
            timed.append(trial)
        }
        guard !models.isEmpty else { return }
        log("latency (onnxruntime): timing \(models.count) exported models (\(forms.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))) interleaved at \(options.threads) thread(s)")
        let started = Date()
        let (version, figures) = try ORTLatency.time(models, threads: options.threads, python: nil, runs: (50, 5))
        let baselineOfSeed = Dictionary(timed.filter { $0.record.group == "baseline" }.map { ($0.record.seed, $0.id) }, uniquingKeysWith: { a, _ in a })
        for trial in timed {
            guard let mine = figures["trial-\(trial.id)"] else { continue }
            let reference = baselineOfSeed[trial.record.seed].flatMap { figures["trial-\($0)"] }
            var values: [String: Double] = [:]
            for row in mine.rows {
                values["ort_latency_b\(row.batchSize)_ms"] = row.medianMilliseconds
                if let base = reference?.rows.first(where: { $0.batchSize == row.batchSize }) {
                    values["ort_speedup_b\(row.batchSize)"] = base.medianMilliseconds / max(row.medianMilliseconds, 1e-12)
                }
            }
            try store.recordMetrics(trial.id, values)
        }
        log(String(format: "latency (onnxruntime %@): done in %.0f s; models in %@", version, Date().timeIntervalSince(started), folder.path))
    }
}
