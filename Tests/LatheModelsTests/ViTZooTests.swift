import Foundation
import LatheTensor
import Testing
@testable import LatheModels

/// The zoo's vision transformers: a hand count of their MACs, their width and depth options,
/// and the refusal of a depth for the fixed-depth models.
@Suite("ViT zoo models")
struct ViTZooTests {
    /// vit-tiny on 28×28: 49 patch tokens + the class token, width 64, 4 blocks of 4 heads
    /// (16 features each), MLP 128. LayerNorm, GELU, the embedding and pooling count 0 MACs.
    @Test func vitTinyMACsEqualAHandCount() throws {
        let t = 50, d = 64, hidden = 128, heads = 4, hd = 16
        let patch = 49 * d * 16                  // 4×4×1 kernel per output pixel and channel
        let qkv = t * d * 3 * d
        let scores = heads * t * t * hd         // QKᵀ
        let mix = heads * t * t * hd            // AV
        let proj = t * d * d
        let fc1 = t * d * hidden, fc2 = t * hidden * d
        let head = d * 10
        let expected = patch + 4 * (qkv + scores + mix + proj + fc1 + fc2) + head
        #expect(expected == 7_884_416)

        let profile = try Zoo.make("vit-tiny", seed: 0).profile()
        #expect(profile.reduce(0) { $0 + $1.macs } == expected)
        #expect(profile.first { $0.name == "blocks.0.attn.core" }?.macs == scores + mix)
        #expect(profile.first { $0.name == "blocks.3.mlp.fc1" }?.macs == fc1)
        #expect(profile.filter { $0.kind == "layernorm" }.count == 9)
        #expect(profile.filter { $0.kind == "layernorm" }.allSatisfy { $0.macs == 0 })
    }

    @Test func layerNamesShapesAndGroupsFollowTheContract() throws {
        let model = try Zoo.make("vit-small", seed: 0)
        let names = Set(model.layers.map(\.name))
        for i in 0..<6 {
            for suffix in ["", ".norm1", ".attn", ".attn.qkv", ".attn.core", ".attn.proj", ".norm2", ".mlp.fc1", ".mlp.act", ".mlp.fc2"] {
                #expect(names.contains("blocks.\(i)\(suffix)"), "blocks.\(i)\(suffix)")
            }
        }
        #expect(!names.contains("blocks.6"))
        let state = Dictionary(uniqueKeysWithValues: model.state.map { ($0.0, $0.1.shape) })
        #expect(state["patch.proj.weight"] == [128, 1, 4, 4])
        #expect(state["embed.cls"] == [1, 1, 128])
        #expect(state["embed.pos"] == [1, 50, 128])
        #expect(state["blocks.0.attn.qkv.weight"] == [384, 128])
        #expect(state["blocks.5.mlp.fc1.weight"] == [256, 128])
        #expect(state["head.weight"] == [10, 128])
        #expect(model.channelGroups.map(\.producer) == (0..<6).flatMap { ["blocks.\($0).attn.qkv", "blocks.\($0).mlp.fc1"] })
        let neurons = model.channelGroups.filter { $0.kind == .neuron }, heads = model.channelGroups.filter { $0.kind == .head }
        #expect(neurons.count == 6 && heads.count == 6)
        #expect(neurons.allSatisfy { $0.coupled.isEmpty && $0.rowsPerUnit == 1 && $0.consumers == [.init(layer: $0.producer.replacingOccurrences(of: "fc1", with: "fc2"), inputsPerChannel: 1)] })
        // A head: 32 rows in each of Q, K and V (dim 128 / 4 heads), 32 columns of proj.
        #expect(heads.allSatisfy { $0.coupled.isEmpty && $0.rowsPerChannel == 32 && $0.rowBlocks == 3 && $0.channels(rows: 384) == 4
                && $0.consumers == [.init(layer: $0.producer.replacingOccurrences(of: "qkv", with: "proj"), inputsPerChannel: 32)] })

        let x = try Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 1))
        let context = ForwardContext(training: false, taps: ["blocks.2", "blocks.2.attn.map", "patch"])
        let logits = try withNoGrad { try model.forward(x, context) }
        #expect(logits.shape == [2, 10])
        #expect(context.tapped["blocks.2"]?.shape == [2, 50, 128])
        #expect(context.tapped["blocks.2.attn.map"]?.shape == [2, 4, 50, 50])
        #expect(context.tapped["patch"]?.shape == [2, 49, 128])
    }

    @Test func widthAndDepthOptionsResizeTheModel() throws {
        let half = try Zoo.make("vit-tiny", options: ModelOptions(width: 0.5, depth: 2), seed: 0)
        #expect(half.layer(named: "blocks.1") != nil && half.layer(named: "blocks.2") == nil)
        #expect((half.layer(named: "blocks.0.attn.qkv") as? Linear)?.weight.shape == [96, 32])
        #expect((half.layer(named: "blocks.0.attn.core") as? AttentionCore)?.headDim == 8)
        #expect(try half.predict(Tensor.zeros([1, 1, 28, 28])).shape == [1, 10])
        // 128 × 0.3 = 38.4 → 38 features, rounded to a multiple of the 4 heads.
        let odd = try Zoo.make("vit-small", options: ModelOptions(width: 0.3), seed: 0)
        #expect((odd.layer(named: "norm") as? LayerNorm)?.features == 40)
        // The smallest width keeps one feature per head.
        let tiny = try Zoo.skeleton("vit-tiny", options: ModelOptions(width: 0.01))
        #expect((tiny.layer(named: "head") as? Linear)?.inFeatures == 4)
    }

    @Test func depthIsRangeCheckedAndRefusedByFixedDepthModels() throws {
        let outOfRange = #expect(throws: ModelError.self) { try Zoo.make("vit-tiny", options: ModelOptions(depth: 0)) }
        #expect(outOfRange?.description == "depth 0 is out of range: expected 1...64")
        let fixed = #expect(throws: ModelError.self) { try Zoo.make("resnet8", options: ModelOptions(depth: 3)) }
        #expect(fixed?.description == "depth 3: only the vit-* models take a depth; resnet8 has a fixed one")
    }

    /// Options saved before `depth` existed decode with the architecture's depth; nil is not written.
    @Test func optionsWithoutDepthStillDecode() throws {
        let old = #"{"inputChannels":1,"imageSize":28,"classCount":10,"width":1}"#
        let options = try JSONDecoder().decode(ModelOptions.self, from: Data(old.utf8))
        #expect(options == ModelOptions())
        #expect(String(decoding: try JSONEncoder().encode(ModelOptions()), as: UTF8.self).contains("depth") == false)
        let deep = try JSONDecoder().decode(ModelOptions.self, from: JSONEncoder().encode(ModelOptions(depth: 3)))
        #expect(deep.depth == 3)
    }

    /// timm's initialisation: linear weights, class token and position embedding from a normal of
    /// σ 0.02 truncated to ±2σ, linear biases zero, LayerNorm γ = 1 and β = 0.
    @Test func initialisationFollowsTimm() throws {
        let model = try Zoo.make("vit-small", seed: 2)
        let state = Dictionary(uniqueKeysWithValues: model.state.map { ($0.0, $0.1) })
        for name in ["blocks.0.attn.qkv.weight", "blocks.5.mlp.fc2.weight", "embed.pos", "head.weight"] {
            let w = try #require(state[name])
            #expect(try w.abs().max().item() <= 0.04 + 1e-7, "\(name) exceeds 2σ")
            #expect(abs(try w.standardDeviation().item() - 0.0176) < 0.002, "\(name): σ of a ±2σ-truncated normal of σ 0.02 is 0.0176")
        }
        #expect(try #require(state["blocks.0.attn.qkv.bias"]).abs().max().item() == 0)
        #expect(try #require(state["norm.weight"]).scalars(as: Float.self).allSatisfy { $0 == 1 })
        #expect(try #require(state["blocks.1.norm2.bias"]).abs().max().item() == 0)
    }
}
