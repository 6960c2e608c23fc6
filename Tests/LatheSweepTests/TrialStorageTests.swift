import Foundation
import LatheResults
import LatheModels
import LatheTestSupport
@testable import LatheSweep
import LatheTrain
import Testing

/// A sweep trial run in this process (as a trial's child process runs it) on real data with the
/// registry's plugins.
@Suite("trial storage size", .serialized)
struct TrialStorageTests {
    static func stage(_ kind: String, _ json: String) throws -> ResolvedStage {
        ResolvedStage(kind: kind, config: try JSONValue(try JSONSerialization.jsonObject(with: Data(json.utf8))))
    }

    static func job(_ plan: TrialPlan, cache: URL) -> TrialJob {
        var recipe = Recipe()
        recipe.epochs = 1
        recipe.batchSize = 50
        return TrialJob(plan: plan, model: "mlp", dataset: .fashionMNIST, dataDirectory: nil, limitTrain: 300, limitTest: 100,
                        baseline: recipe, cacheDirectory: cache.path,
                        registryDirectory: SourceTree.root.appendingPathComponent("registry").path, threads: 1, latheVersion: "test")
    }

    /// A distillation trial records its teacher's size as stored (fp32, every tensor) and which
    /// teacher it was, so the report can give each distinct teacher a row.
    @Test func distillationTrialRecordsItsTeachersSize() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-trial-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = TrialPlan(group: "kd", label: "student alone", stages: [
            try Self.stage("distill", #"{"teacher": {"model": "mlp", "width": 0.5, "recipe": {"epochs": 1}}, "student": {"model": "mlp", "width": 0.25}, "terms": []}"#),
        ], seed: 1)
        let outcome = try TrialRunner.run(Self.job(plan, cache: dir), progress: ProgressReporter(style: .silent))
        let teacher = try Zoo.make("mlp", options: ModelOptions(width: 0.5))
        #expect(outcome.metrics["teacher_size_bytes"] == Double(4 * teacher.state.reduce(0) { $0 + $1.1.count }))
        #expect(outcome.metrics["teacher_accuracy"] != nil)
        #expect(outcome.provenance["teacher"] == "mlp (width 0.5)")
        #expect(outcome.provenance["teacher_checkpoint"]?.hasSuffix(".safetensors") == true)
    }

    /// Masked 90 % magnitude pruning, then 4-bit per-tensor weights: the size is the sparse
    /// format's at 4 bits, not the dense 4-bit size, and the format is recorded.
    @Test func prunedThenQuantizedTrialIsSizedInItsSparseFormatAtFourBits() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-trial-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = TrialPlan(group: "prune-quant", label: "magnitude 90% + 4 bit", stages: [
            try Self.stage("prune", #"{"criterion": "prune/magnitude", "sparsity": 0.9, "finetune_epochs": 0}"#),
            try Self.stage("quantize", #"{"method": "uniform/symmetric", "params": {"bits": 4, "per_channel": false}}"#),
        ], seed: 1)
        let outcome = try TrialRunner.run(Self.job(plan, cache: dir), progress: ProgressReporter(style: .silent))

        // mlp: 784·300 + 300·100 + 100·10 weights, 410 biases. Dense 4-bit weights with one scale
        // per layer and fp32 biases: 134 752 B. At 90 % sparsity (and any 4-bit zeros on top) each
        // pruned matrix costs at most its bitmask, 1 bit per element + 4 bits per nonzero.
        let weights = 784 * 300 + 300 * 100 + 100 * 10
        let dense4 = Double(weights / 2 + 3 * 4 + 4 * 410)
        let size = try #require(outcome.metrics["size_bytes"])
        let sparsity = try #require(outcome.metrics["sparsity_masked"])
        #expect(sparsity > 0.89)
        let bitmaskBound = Double(weights) / 8 + (1 - sparsity) * Double(weights) / 2 + Double(3 * 4 + 4 * 410) + 8
        #expect(size < dense4 && size <= bitmaskBound, "size \(size) B, dense 4-bit \(dense4) B, bitmask bound \(bitmaskBound) B")
        #expect(outcome.metrics["compression_ratio"] == outcome.metrics["fp32_size_bytes"].map { $0 / size })
        // Storage bits per weight of the ledger (dense, scales included): 4 + 3 fp32 scales over the weights.
        let bits = try #require(outcome.metrics["bits_per_weight"])
        #expect(abs(bits - (4 + 96 / Double(weights))) < 1e-12, "bits_per_weight \(bits)")
        #expect(outcome.layerStats["fc1"]?["bits_per_weight"] == 4 + 32 / Double(784 * 300))
        let format = try #require(outcome.provenance["storage_format"])
        #expect(format.contains("fc1.weight csr-") || format.contains("fc1.weight bitmask"), "\(format)")
    }
}
