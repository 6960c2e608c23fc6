import Foundation
import LatheTensor
import Testing
@testable import LatheModels

/// Multi-head self-attention against a float64 reference written here from libtorch
/// primitives (one head at a time: slices of the projections, matmul, softmax), and a model
/// whose heads were cut by hand against the same model with those heads' outputs masked.
@Suite("ViT attention", .serialized)
struct AttentionTests {
    static func attention(_ model: Model, _ block: Int) throws -> MultiHeadAttention {
        try #require(model.layer(named: "blocks.\(block).attn") as? MultiHeadAttention)
    }

    /// x Wᵀ + b in float64 for rows `start..<start+count` of `weight` and `bias`.
    static func project(_ x: Tensor, _ weight: Tensor, _ bias: Tensor, rows start: Int, _ count: Int) throws -> Tensor {
        try x.matmul(weight.narrowed(0, start: start, length: count).transposed(0, 1)) + bias.narrowed(0, start: start, length: count)
    }

    @Test func outputAndGradientsMatchAFloat64Reference() throws {
        Engine.threads = 1
        let model = try Zoo.make("vit-tiny", seed: 3)
        let attn = try Self.attention(model, 1)
        let generator = try RandomGenerator(seed: 11)
        let (n, t, dim, heads) = (3, 50, 64, 4)
        let hd = dim / heads
        let x = try Tensor.randn([n, t, dim], generator: generator).requiringGrad()
        let upstream = try Tensor.randn([n, t, dim], generator: generator)

        let context = ForwardContext(training: true, taps: ["blocks.1.attn.map"])
        let y = try attn.forward(x, context)
        try (y * upstream).sum().backward()
        let tensors = [attn.qkv.weight, try #require(attn.qkv.bias), attn.proj.weight, try #require(attn.proj.bias)]
        let grads = [x] + tensors
        let got = try grads.map { try #require($0.grad) }

        // The reference: every tensor in float64, each head computed on its own.
        let x64 = try x.detached().converted(to: .float64).requiringGrad()
        let w64 = try tensors.map { try $0.detached().converted(to: .float64).requiringGrad() }
        var outputs: [Tensor] = []
        var maps: [Tensor] = []
        for h in 0..<heads {
            let q = try Self.project(x64, w64[0], w64[1], rows: h * hd, hd)
            let k = try Self.project(x64, w64[0], w64[1], rows: dim + h * hd, hd)
            let v = try Self.project(x64, w64[0], w64[1], rows: 2 * dim + h * hd, hd)
            let p = try (q.matmul(k.transposed(1, 2)) / Foundation.sqrt(Double(hd))).softmax(2)
            maps.append(p)
            outputs.append(try p.matmul(v))
        }
        let y64 = try Tensor.cat(outputs, dim: 2).matmul(w64[2].transposed(0, 1)) + w64[3]
        let loss64 = try (y64 * upstream.converted(to: .float64)).sum()
        let expected = try Tensor.gradients(of: [loss64], withRespectTo: [x64] + w64)

        func maxError(_ a: Tensor, _ b: Tensor) throws -> Double {
            try (a.converted(to: .float64) - b).abs().max().item()
        }
        #expect(y.shape == [n, t, dim])
        #expect(try maxError(y, y64) < 1e-5)
        for (name, pair) in zip(["input", "qkv.weight", "qkv.bias", "proj.weight", "proj.bias"], zip(got, expected)) {
            let scale = try pair.1.abs().max().item()
            #expect(scale > 0, "\(name): the reference gradient is zero")
            #expect(try maxError(pair.0, pair.1) < 1e-5 * Swift.max(1, scale), "\(name) gradient")
        }
        let map = try #require(context.tapped["blocks.1.attn.map"])
        #expect(map.shape == [n, heads, t, t])
        #expect(try maxError(map, Tensor.stack(maps, dim: 1)) < 1e-6)
    }

    /// Heads 1 and 3 of one block cut from `qkv` (their Q, K and V rows) and `proj` (their
    /// columns): the model computes what the full one computes with those heads' outputs zeroed.
    @Test func cuttingHeadsEqualsMaskingTheirOutputs() throws {
        Engine.threads = 1
        let model = try Zoo.make("vit-tiny", seed: 5)
        let attn = try Self.attention(model, 2)
        let (dim, hd) = (64, 16)
        let kept = [0, 2]
        let features = kept.flatMap { h in (h * hd)..<((h + 1) * hd) }
        let mask = try Tensor((0..<dim).map { features.contains($0) ? Float(1) : 0 })
        let x = try Tensor.randn([4, 1, 28, 28], generator: RandomGenerator(seed: 6))

        let context = ForwardContext(training: false)
        context.outputTransforms["blocks.2.attn.core"] = { try $0 * mask }
        let masked = try withNoGrad { try model.forward(x, context) }

        let rows = (0..<3).flatMap { part in features.map { part * dim + $0 } }
        let qkvBias = try #require(attn.qkv.bias)
        try attn.qkv.replace("weight", with: attn.qkv.weight.detached().indexSelect(0, rows).contiguous())
        try attn.qkv.replace("bias", with: qkvBias.detached().indexSelect(0, rows).contiguous())
        try attn.proj.replace("weight", with: attn.proj.weight.detached().indexSelect(1, features).contiguous())
        #expect(try attn.core.heads(width: attn.qkv.outFeatures) == 2)

        let cut = try model.predict(x)
        #expect(cut.shape == [4, 10])
        #expect(try (cut - masked).abs().max().item() < 1e-5)
        let profile = try model.profile().first { $0.name == "blocks.2.attn.core" }
        #expect(profile?.macs == 2 * 2 * 50 * 50 * hd)
    }

    @Test func aCoreRefusesAWidthThatIsNotWholeHeads() throws {
        let core = AttentionCore("core", headDim: 16, mapName: "map")
        let error = #expect(throws: ModelError.self) { try core.forward(Tensor.zeros([1, 5, 40]), ForwardContext(training: false)) }
        #expect(error?.description.contains("input width 40 is not 3 × heads × 16") == true)
    }
}
