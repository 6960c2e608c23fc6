import Foundation
import LatheModels
import LathePlugins
import LathePruning
import LatheScale
import LatheTensor
import LatheTrain
import Testing

/// Channel scaling (ABI 1.3 scalers' host side): W·diag(s) with 1/s folded into the op before the
/// layer, or kept as an explicit input scale, leaves every zoo model's fp32 function unchanged.
@Suite("Channel scaling and folding")
struct ChannelScalingTests {
    static func images(_ count: Int = 6, seed: UInt64 = 2) throws -> Tensor {
        try Tensor.randn([count, 1, 28, 28], generator: RandomGenerator(seed: seed))
    }

    /// Largest |a − b| relative to the largest |a|.
    static func relativeChange(_ a: Tensor, _ b: Tensor) throws -> Double {
        let difference: Tensor = try a - b
        let largest: Double = try a.abs().max().item()
        let change: Double = try difference.abs().max().item()
        return change / Swift.max(largest, 1e-30)
    }

    /// Scales every conv and linear layer of a fresh `architecture` by random factors in
    /// [0.25, 4] and returns where each 1/s went, after checking the logits did not change.
    @discardableResult
    func scaleEverything(_ architecture: String, width: Double = 0.5, fold: Bool = true) throws -> [String: ScaleTarget] {
        let model = try Zoo.make(architecture, options: ModelOptions(width: width), seed: 7)
        let x = try Self.images()
        let before = try model.predict(x)
        let generator = try RandomGenerator(seed: 9)
        var targets: [String: ScaleTarget] = [:]
        for layer in model.layers.compactMap({ $0 as? any InputScalable }) {
            let s = try Tensor.uniform([layer.inputChannelCount], low: 0.25, high: 4, generator: generator)
            targets[layer.name] = try ChannelScaling.apply(s, to: layer.name, in: model, fold: fold)
        }
        let after = try model.predict(x)
        let change = try Self.relativeChange(before, after)
        #expect(change < 2e-5, "\(architecture) (fold \(fold)): relative logit change \(change)")
        // The scaling must have changed the weights (else the check above proves nothing).
        let fresh = try Zoo.make(architecture, options: ModelOptions(width: width), seed: 7)
        let original = try #require(fresh.state.first { $0.0.hasSuffix(".weight") && model.layer(named: String($0.0.dropLast(7))) is any InputScalable }?.1)
        let scaled = try #require(model.state.first { $0.0.hasSuffix(".weight") && model.layer(named: String($0.0.dropLast(7))) is any InputScalable }?.1)
        #expect(try Self.relativeChange(original, scaled) > 0.1)
        return targets
    }

    @Test func vitFoldsIntoLayerNormsAndValueRows() throws {
        let t = try scaleEverything("vit-tiny")
        let dim = 32  // vit-tiny at width 0.5
        #expect(t["blocks.0.attn.qkv"] == .norm("blocks.0.norm1"))
        #expect(t["blocks.0.attn.proj"] == .rows("blocks.0.attn.qkv", offset: 2 * dim))
        #expect(t["blocks.0.mlp.fc1"] == .norm("blocks.0.norm2"))
        #expect(t["head"] == .norm("norm"))
        // GELU does not commute with a channel scale; the patch conv sees the image.
        #expect(t["blocks.0.mlp.fc2"]?.isFolded == false)
        #expect(t["patch.proj"]?.isFolded == false)
    }

    @Test func cnnFoldsThroughReluAndPoolingIntoTheLayerBefore() throws {
        let t = try scaleEverything("convnet")
        #expect(t["conv2"] == .rows("conv1", offset: 0))
        #expect(t["fc2"] == .rows("fc1", offset: 0))
        #expect(t["conv1"]?.isFolded == false)  // the image
        #expect(t["fc1"]?.isFolded == false)    // a flatten of a 7×7 map mixes channels and positions
        let m = try scaleEverything("mlp")
        #expect(m["fc2"] == .rows("fc1", offset: 0) && m["fc3"] == .rows("fc2", offset: 0))
    }

    @Test func residualNetworksFoldIntoBatchNormAndKeepTheStreamExplicit() throws {
        let t = try scaleEverything("resnet8")
        let folded = t.filter { $0.value.isFolded }
        #expect(!folded.isEmpty && folded.allSatisfy { if case .norm = $0.value { true } else { false } }, "\(folded)")
        // A block's first conv reads the residual stream, which its shortcut shares.
        #expect(t.filter { !$0.value.isFolded }.count >= 3)
        try scaleEverything("mobilenet", width: 0.25)
    }

    @Test func explicitScalesAreExactSavedAndCopied() throws {
        try scaleEverything("vit-tiny", fold: false)
        let model = try Zoo.make("convnet", options: ModelOptions(width: 0.5), seed: 1)
        let s = try Tensor.uniform([16], low: 0.5, high: 2, generator: RandomGenerator(seed: 3))
        #expect(try ChannelScaling.apply(s, to: "conv2", in: model, fold: false).isFolded == false)
        let x = try Self.images()
        let logits = try model.predict(x)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scaled-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model, to: path)
        let loaded = try Checkpoint.load(path).model
        #expect((loaded.layer(named: "conv2") as? Conv2d)?.inputScale?.shape == [16])
        #expect(try Self.relativeChange(logits, try loaded.predict(x)) == 0)
        #expect(try Self.relativeChange(logits, try model.copy().predict(x)) == 0)
    }

    @Test func physicalRemovalKeepsExplicitScalesAligned() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 5)
        let generator = try RandomGenerator(seed: 4)
        for name in ["fc1", "fc2"] {
            let layer = try #require(model.layer(named: name) as? any InputScalable)
            let s = try Tensor.uniform([layer.inputChannelCount], low: 0.5, high: 2, generator: generator)
            try ChannelScaling.apply(s, to: name, in: model, fold: false)
        }
        // Half of fc1's neurons masked, then removed: fc2's explicit scale must lose the same columns.
        let fc1 = try #require(model.layer(named: "fc1") as? Linear)
        let keep = (0..<fc1.outFeatures).map { $0 % 2 == 0 }
        let masks = try PruningMasks(model: model, layers: ["fc1"], granularity: .outputChannel)
        try masks.setKeep("fc1", keep)
        let x = try Self.images()
        try masks.apply(to: model)
        let masked = try model.predict(x)
        _ = try ChannelRemoval.apply(masks, to: model)
        #expect((model.layer(named: "fc2") as? Linear)?.inputScale?.count == keep.filter { $0 }.count)
        #expect((model.layer(named: "fc1") as? Linear)?.inputScale?.count == 784)
        #expect(try Self.relativeChange(masked, try model.predict(x)) < 1e-5)
    }

    @Test func badScalesAreRefusedNamingTheLayer() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 5)
        let zero = try Tensor([Float](repeating: 1, count: 149) + [0], shape: [150])
        #expect(throws: ScaleError.self) { try ChannelScaling.apply(zero, to: "fc2", in: model) }
        #expect(throws: ScaleError.self) { try ChannelScaling.apply(try Tensor.ones([3]), to: "fc2", in: model) }
        do {
            try ChannelScaling.apply(try Tensor.ones([3]), to: "relu1", in: model)
            Issue.record("a non-scalable layer was accepted")
        } catch let error as ScaleError {
            #expect(error.description.contains("'relu1'") && error.description.contains("fc1"))
        }
    }
}
