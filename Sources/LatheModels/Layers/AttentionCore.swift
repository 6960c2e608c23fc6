import Foundation
import LatheTensor

/// Scaled dot-product self-attention over fused query/key/value features (Vaswani et al. 2017):
/// for each head h, softmax(Q_h K_hᵀ / √d) V_h, the heads' outputs concatenated.
///
/// The input `[N, T, 3·H·d]` holds Q, K and V one after another, each with head h's `d`
/// features at `h·d..<(h+1)·d` (the row order of the `qkv` projection that feeds it). The head
/// count H is derived from the input width at every pass and only the head size `d` is fixed,
/// so a model whose heads were physically removed (rows of `qkv`, columns of `proj`) runs as it is.
/// The layer has no parameters; it taps its attention probabilities `[N, H, T, T]` as `mapName`.
public final class AttentionCore: Layer {
    public let name: String
    /// Features per head, d.
    public let headDim: Int
    /// Tap name of the attention probabilities (`blocks.{i}.attn.map`).
    public let mapName: String

    /// A core with `headDim` features per head.
    public init(_ name: String, headDim: Int, mapName: String) {
        self.name = name
        self.headDim = headDim
        self.mapName = mapName
    }

    /// The number of heads an input of `width` features (Q, K and V) holds.
    public func heads(width: Int) throws -> Int {
        guard headDim > 0, width > 0, width % (3 * headDim) == 0 else {
            throw ModelError.invalidOption("\(name): input width \(width) is not 3 × heads × \(headDim) (query, key and value of \(headDim)-feature heads)")
        }
        return width / (3 * headDim)
    }

    /// `[N, T, 3·H·d]` to `[N, T, H·d]`; profiled with 2·H·T·T·d MACs per sample (QKᵀ and AV).
    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        guard x.rank == 3 else {
            throw ModelError.invalidOption("\(name): expected tokens [N, T, features], got shape \(x.shape)")
        }
        let (n, t) = (x.shape[0], x.shape[1])
        let h = try heads(width: x.shape[2])
        let qkv = try x.reshaped([n, t, 3, h, headDim]).permuted([2, 0, 3, 1, 4])
        let q = try qkv.narrowed(0, start: 0, length: 1).squeezed(0)
        let k = try qkv.narrowed(0, start: 1, length: 1).squeezed(0)
        let v = try qkv.narrowed(0, start: 2, length: 1).squeezed(0)
        let scores = try q.matmul(k.transposed(2, 3)) * (1 / Foundation.sqrt(Double(headDim)))
        let probabilities = try scores.softmax(3)
        context.emitComposite(mapName, probabilities)
        let y = try probabilities.matmul(v).transposed(1, 2).reshaped([n, t, h * headDim])
        return try context.emit(self, kind: "attention", input: x, output: y, macsPerSample: 2 * h * t * t * headDim)
    }
}
