import Foundation
import LatheModels
import LatheQuant
import LatheTestSupport
@testable import LatheSweep
import LatheTrain
import Testing

/// A sweep's quantize stage saves its model with the quantization record that
/// `lathe export --qdq` reads (`lathe.qparams`).
@Suite("trial quantization record", .serialized)
struct TrialQuantizationRecordTests {
    @Test func aQuantizeTrialsCheckpointCarriesItsWeightAndStaticActivationParameters() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-trial-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = TrialPlan(group: "ptq", label: "w8a8", stages: [
            try TrialStorageTests.stage("quantize", #"{"method": "uniform/symmetric", "params": {"bits": 8, "per_channel": true}, "activations": "static"}"#),
        ], seed: 1)
        var job = TrialStorageTests.job(plan, cache: dir)
        job.modelPath = dir.appendingPathComponent("models/trial-1.safetensors").path
        _ = try TrialRunner.run(job, progress: ProgressReporter(style: .silent))
        let (_, metadata) = try Checkpoint.load(try #require(job.modelPath))
        let record = try #require(try CheckpointQuantization.read(metadata: metadata, source: "trial-1"))
        #expect(record.activations == "static" && record.hasStaticActivations)
        #expect(record.layers.map(\.name) == ["fc1", "fc2", "fc3"])
        #expect(record.layers.allSatisfy { $0.weight.bits == 8 && $0.weight.axis == 0 && $0.input?.qmax == 255 })
    }
}
