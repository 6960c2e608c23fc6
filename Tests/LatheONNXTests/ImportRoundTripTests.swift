import Foundation
import LatheModels
import LatheONNX
import LathePruning
import LatheTensor
import LatheTrain
import Testing

/// Zoo models through ONNX and back, and structured pruning of an imported graph.
@Suite("ONNX import: round trip and pruning", .serialized)
struct ImportRoundTripTests {
    static func largestRelativeDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
        let scale = Swift.max(1, try a.abs().max().item())
        return try (a - b).abs().max().item() / scale
    }

    @Test("zoo model → export → import computes the same logits", arguments: ["mlp", "lenet5", "convnet", "resnet8", "mobilenet", "vit-tiny"])
    func roundTrip(_ name: String) throws {
        let model = try Zoo.make(name, seed: 3)
        let proto = try ONNXExporter.export(model)
        let bytes = try ONNXModelFile.encode(proto)
        let imported = try ONNXImporter.convert(try ONNXModelFile.decode(bytes), path: "\(name).onnx").model()
        let x = try Tensor.randn([3, 1, 28, 28], generator: RandomGenerator(seed: 1))
        #expect(try Self.largestRelativeDifference(model.predict(x), imported.predict(x)) < 1e-5)
        #expect(imported.parameterCount == model.parameterCount)
        // The imported model's checkpoint rebuilds it without the ONNX file.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Checkpoint.save(imported, to: dir.appendingPathComponent("m.safetensors").path)
        let reloaded = try Checkpoint.load(dir.appendingPathComponent("m.safetensors").path).model
        #expect(try Self.largestRelativeDifference(imported.predict(x), reloaded.predict(x)) == 0)
        #expect(reloaded.channelGroups == imported.channelGroups)
    }

    @Test("50% channel pruning of the imported ResNet-20: physically removed = masked, and it reloads")
    func pruneImportedResNet() throws {
        let (model, x, _, _) = try ImportPyTorchTests.load("resnet20")
        let dense = try model.predict(x)
        let producers = model.channelGroups.map(\.producer)
        #expect(producers.count == 12)
        let masks = try PruningMasks(model: model, layers: producers, granularity: .outputChannel)
        for name in producers {
            // Keep the half of the filters with the largest L1 norm.
            let w = try #require(model.layer(named: name)?.ownParameters.first { $0.0 == "weight" }?.1)
            let norms = try w.abs().flattened(from: 1).sum([1]).scalars(as: Float.self)
            let kept = Set(norms.indices.sorted { norms[$0] > norms[$1] }.prefix(norms.count / 2))
            try masks.setKeep(name, norms.indices.map { kept.contains($0) })
        }
        try masks.apply(to: model)
        let masked = try model.predict(x)
        #expect(try Self.largestRelativeDifference(dense, masked) > 1e-3, "masking half the channels changed nothing")
        let before = model.parameterCount, macsBefore = try ModelCost.of(model).macs
        let removed = try ChannelRemoval.apply(masks, to: model)
        #expect(removed.allSatisfy { $0.channelsAfter * 2 == $0.channelsBefore })
        let physical = try model.predict(x)
        #expect(try Self.largestRelativeDifference(masked, physical) < 1e-5)
        #expect(model.parameterCount < before / 2)
        #expect(try ModelCost.of(model).macs < macsBefore / 2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-import-prune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pruned.safetensors").path
        try Checkpoint.save(model, to: path, shapesChanged: true)
        #expect(try Self.largestRelativeDifference(physical, Checkpoint.load(path).model.predict(x)) == 0)
        // The pruned graph exports to ONNX and ONNX Runtime computes the same logits.
        let onnx = dir.appendingPathComponent("pruned.onnx")
        try ONNXModelFile.write(try ONNXExporter.export(model), to: onnx)
        #expect(try Self.largestRelativeDifference(physical, ONNXExportTests.runtimeLogits(onnx.path, x)) < 1e-4)
    }

    @Test("a layer of an imported graph factorizes, and the factorized graph checkpoints and reloads")
    func factorizeImportedLayer() throws {
        let (model, x, _, _) = try ImportPyTorchTests.load("mlp")
        #expect(model.factorizableLayers == ["fc1", "fc2", "fc3"])
        let before = try model.predict(x)
        let w = try #require(model.layer(named: "fc2")?.ownParameters.first { $0.0 == "weight" }?.1)
        // A = I, B = W: an exact factorization at rank = outputs.
        let n = w.shape[0]
        let identity = try Tensor((0..<(n * n)).map { $0 / n == $0 % n ? Float(1) : 0 }, shape: [n, n])
        try model.factorize("fc2", a: identity, b: try w.detached().clone())
        #expect(model.factorized == ["fc2": w.shape[0]])
        #expect(try Self.largestRelativeDifference(before, model.predict(x)) < 1e-5)
        #expect(!model.channelGroups.contains { $0.producer == "fc2" || $0.consumers.contains { $0.layer == "fc2" } })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-import-factorize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f.safetensors").path
        try Checkpoint.save(model, to: path)
        #expect(try Self.largestRelativeDifference(model.predict(x), Checkpoint.load(path).model.predict(x)) == 0)
    }

    @Test("imported PyTorch models export back to ONNX and run in ONNX Runtime", arguments: ["mobilenetv2", "vit"])
    func importedModelsExport(_ name: String) throws {
        let (model, x, _, _) = try ImportPyTorchTests.load(name)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-import-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let onnx = dir.appendingPathComponent("\(name).onnx")
        try ONNXModelFile.write(try ONNXExporter.export(model), to: onnx)
        #expect(try Self.largestRelativeDifference(model.predict(x), ONNXExportTests.runtimeLogits(onnx.path, x)) < 1e-4)
        // And back again: the re-imported graph computes the same.
        #expect(try Self.largestRelativeDifference(model.predict(x), ONNXImporter.read(onnx.path).model().predict(x)) < 1e-5)
    }
}
