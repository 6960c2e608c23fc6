import LatheTensor

/// Multi-head self-attention: a fused query/key/value projection `qkv`, the attention `core`
/// and the output projection `proj`. Emits its output as the composite `name`.
public final class MultiHeadAttention: Layer {
    public let name: String
    /// `[dim → 3·dim]`, rows ordered Q | K | V.
    public let qkv: Linear
    public let core: AttentionCore
    /// `[dim → dim]`
    public let proj: Linear

    init(_ name: String, dim: Int, heads: Int, initialization: Initialization) throws {
        guard heads > 0, dim % heads == 0 else {
            throw ModelError.invalidOption("\(name): width \(dim) is not a multiple of \(heads) heads")
        }
        self.name = name
        qkv = try Linear("\(name).qkv", dim, 3 * dim, initialization: initialization)
        core = AttentionCore("\(name).core", headDim: dim / heads, mapName: "\(name).map")
        proj = try Linear("\(name).proj", dim, dim, initialization: initialization)
    }

    public var children: [any Layer] { [qkv, core, proj] }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let y = try proj.forward(core.forward(qkv.forward(x, context), context), context)
        context.emitComposite(name, y)
        return y
    }
}
