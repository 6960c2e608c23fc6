import LatheTensor

/// A pre-norm transformer encoder block (as in ViT, Dosovitskiy et al. 2021):
/// `h = x + attn(norm1(x))`, `y = h + mlp(norm2(h))`, with `mlp` = fc1 → GELU → fc2.
/// Emits its output as the composite `name` (the block's token features).
public final class TransformerBlock: Layer {
    public let name: String
    public let norm1: LayerNorm
    public let attn: MultiHeadAttention
    public let norm2: LayerNorm
    /// `fc1`, `act` (GELU), `fc2`, emitted as the composite `<name>.mlp`.
    public let mlp: Sequential

    init(_ name: String, dim: Int, heads: Int, mlpRatio: Int, initialization: Initialization) throws {
        self.name = name
        let hidden = dim * mlpRatio
        norm1 = try LayerNorm("\(name).norm1", dim, initialization: initialization)
        attn = try MultiHeadAttention("\(name).attn", dim: dim, heads: heads, initialization: initialization)
        norm2 = try LayerNorm("\(name).norm2", dim, initialization: initialization)
        mlp = Sequential("\(name).mlp", [
            try Linear("\(name).mlp.fc1", dim, hidden, initialization: initialization),
            Stateless("\(name).mlp.act", .gelu),
            try Linear("\(name).mlp.fc2", hidden, dim, initialization: initialization),
        ])
    }

    public var children: [any Layer] { [norm1, attn, norm2, mlp] }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let h = try x + attn.forward(norm1.forward(x, context), context)
        let y = try h + mlp.forward(norm2.forward(h, context), context)
        context.emitComposite(name, y)
        return y
    }
}
