import Foundation
import LatheDistill
import LathePlugins
import LatheTensor
import LatheTrain
import Testing

/// distill/attention-map (MiniLM's self-attention distribution transfer) against a float64
/// reference written here with libtorch ops, and between two ViTs of different widths.
@Suite("distill/attention-map")
struct AttentionMapLossTests {
    /// Softmax rows [B, H, T, T], float32.
    static func maps(_ batch: Int, heads: Int, tokens: Int, seed: UInt64) throws -> Tensor {
        try Support.randn([batch, heads, tokens, tokens], seed: seed, scale: 2).softmax(3)
    }

    static func kl(_ p: Tensor, _ q: Tensor) throws -> Tensor {
        try (p * (p.log() - q.log())).sum()
    }

    func loss(_ id: String = "distill/attention-map", student: Tensor, teacher: Tensor, perHead: Int) throws -> (Double, Tensor) {
        let method = try Support.method(id)
        return try method.loss(student: student, teacher: teacher, labels: try Support.labels(student.shape[0]),
                               params: try method.bind(["per_head": .int(Int64(perHead))]))
    }

    @Test func headByHeadIsMiniLMsKL() throws {
        let s = try Self.maps(3, heads: 4, tokens: 5, seed: 1), t = try Self.maps(3, heads: 4, tokens: 5, seed: 2)
        let (value, gradient) = try loss(student: s, teacher: t, perHead: 1)
        let s64 = try Support.leaf64(s), t64 = try t.converted(to: .float64)
        let expected = try Self.kl(t64, s64) / Double(3 * 4 * 5)
        try expected.backward()
        Support.expectClose(value, try expected.item(), rtol: 1e-6, "loss")
        try Support.expectClose(gradient, try #require(s64.grad), rtol: 1e-5, "gradient")
        #expect(value > 0)
        // Equal maps: no loss, and the gradient -P/Q is the same constant everywhere (normal to
        // every row's simplex, so that the softmax's backward maps it to 0).
        let (zero, flat) = try loss(student: t, teacher: t, perHead: 1)
        #expect(abs(zero) < 1e-12)
        #expect(try (flat + 1.0 / Double(3 * 4 * 5)).abs().max().item() < 1e-6)
    }

    /// The averaged form compares heads' means, so the head counts may differ (2 and 6 here).
    @Test func averagedHeadsAllowDifferentHeadCounts() throws {
        let s = try Self.maps(2, heads: 2, tokens: 7, seed: 3), t = try Self.maps(2, heads: 6, tokens: 7, seed: 4)
        let (value, gradient) = try loss(student: s, teacher: t, perHead: 0)
        let s64 = try Support.leaf64(s), t64 = try t.converted(to: .float64)
        let expected = try Self.kl(t64.mean([1]), s64.mean([1])) / Double(2 * 7)
        try expected.backward()
        Support.expectClose(value, try expected.item(), rtol: 1e-6, "loss")
        try Support.expectClose(gradient, try #require(s64.grad), rtol: 1e-5, "gradient")
    }

    @Test func mapsThatCannotBeComparedAreRefusedSayingWhy() throws {
        func message(_ s: Tensor, _ t: Tensor, perHead: Int) -> String {
            do { _ = try loss(student: s, teacher: t, perHead: perHead) } catch { return String(describing: error) }
            return "no error"
        }
        let four = try Self.maps(2, heads: 4, tokens: 5, seed: 5)
        #expect(message(four, try Self.maps(2, heads: 2, tokens: 5, seed: 6), perHead: 1)
            .contains("the student has 4 heads and the teacher 2: set per_head = 0"))
        #expect(message(four, try Self.maps(2, heads: 4, tokens: 6, seed: 7), perHead: 0).contains("different token counts (5 and 6)"))
        #expect(message(try Support.randn([2, 4, 5, 3], seed: 8), four, perHead: 0).contains("expects attention maps [B, heads, T, T]"))
        #expect(message(try four - 0.5, four, perHead: 1).contains("expected attention probabilities"))
    }

    /// Between a ViT teacher and a narrower ViT student (128 and 64 wide, 4 heads each): the
    /// plan taps both attention maps and puts no adapter between them.
    @Test func aViTStudentTakesItsTeachersAttentionMaps() throws {
        let config = DistillConfig(
            teacher: .init(model: "vit-small", depth: 2, recipe: RecipeOverrides(epochs: 1)), student: .init(model: "vit-tiny", width: 1, depth: 2),
            terms: [.init(method: "distill/attention-map", studentLayer: "blocks.1.attn.map", teacherLayer: "blocks.1.attn.map")])
        let plan = try DistillationStage.prepare(config, train: Support.fashion.train, recipe: Recipe.defaults(for: "vit-tiny"),
                                                 registry: try Support.registry())
        let term = try #require(plan.terms.first)
        #expect(term.studentShape == [4, 50, 50] && term.teacherShape == [4, 50, 50], "\(term.studentShape) \(term.teacherShape)")
        #expect(term.adapter == nil)
    }
}
