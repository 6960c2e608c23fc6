import Foundation
import LatheModels
import LatheONNX
import LathePruning
import LatheTensor
import LatheTrain
import Testing

/// The zoo's detector and segmenter through structured pruning (every derived group: backbone,
/// the pyramid's summed laterals, the head), checkpoints and ONNX Runtime.
@Suite("Dense zoo: 30% channel pruning, checkpoint and ONNX Runtime", .serialized)
struct DensePruneExportTests {
    @Test(arguments: [("centernet", 10), ("fpn-seg", 11)])
    func prunedModelMatchesMaskedAndRunsInONNXRuntime(name: String, classes: Int) throws {
        let model = try Zoo.make(name, options: ModelOptions(imageSize: 64, classCount: classes), seed: 4)
        let x = try Tensor.randn([2, 1, 64, 64], generator: RandomGenerator(seed: 5))
        let dense = try model.predict(x)
        let producers = model.channelGroups.map(\.producer)
        #expect(producers.contains("neck.lateral4") || model.channelGroups.contains { $0.coupled.contains("neck.lateral4") })
        let masks = try PruningMasks(model: model, layers: producers, granularity: .outputChannel)
        var expectedKept: [String: Int] = [:]
        for name in producers {
            let w = try #require(model.layer(named: name)?.ownParameters.first { $0.0 == "weight" }?.1)
            let norms = try w.abs().flattened(from: 1).sum([1]).scalars(as: Float.self)
            let keep = norms.count - Int((0.3 * Double(norms.count)).rounded())
            let kept = Set(norms.indices.sorted { norms[$0] > norms[$1] }.prefix(keep))
            try masks.setKeep(name, norms.indices.map { kept.contains($0) })
            expectedKept[name] = keep
        }
        try masks.apply(to: model)
        let masked = try model.predict(x)
        #expect(try ImportRoundTripTests.largestRelativeDifference(dense, masked) > 1e-3)
        let macsBefore = try ModelCost.of(model).macs
        let removed = try ChannelRemoval.apply(masks, to: model)
        #expect(removed.allSatisfy { expectedKept[$0.producer] == $0.channelsAfter })
        let physical = try model.predict(x)
        #expect(physical.shape == dense.shape)
        #expect(try ImportRoundTripTests.largestRelativeDifference(masked, physical) < 1e-5)
        #expect(try ModelCost.of(model).macs < macsBefore * 7 / 10)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-dense-prune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pruned.safetensors").path
        try Checkpoint.save(model, to: path, shapesChanged: true)
        let reloaded = try Checkpoint.load(path).model
        #expect(reloaded.architecture == name)
        #expect(try ImportRoundTripTests.largestRelativeDifference(physical, reloaded.predict(x)) == 0)
        // Exported (nearest upsampling as Resize), ONNX Runtime computes the same maps.
        let onnx = dir.appendingPathComponent("pruned.onnx")
        try ONNXModelFile.write(try ONNXExporter.export(model), to: onnx)
        #expect(try ImportRoundTripTests.largestRelativeDifference(physical, ONNXExportTests.runtimeLogits(onnx.path, x)) < 1e-4)
    }
}
