import LatheTensor

/// Vision transformers (Dosovitskiy et al. 2021) sized for 28×28 images.
extension ZooBuilder {
    /// A ViT's fixed shape before the width and depth options.
    struct ViTShape {
        var patch: Int
        var dim: Int
        var depth: Int
        var heads: Int
        var mlpRatio: Int

        /// `vit-tiny`: 49 patches of 4×4 on 28×28, width 64, 4 blocks of 4 heads.
        static let tiny = ViTShape(patch: 4, dim: 64, depth: 4, heads: 4, mlpRatio: 2)
        /// `vit-small`: width 128, 6 blocks of 4 heads.
        static let small = ViTShape(patch: 4, dim: 128, depth: 6, heads: 4, mlpRatio: 2)
    }

    /// Patch embedding → class token and position embedding → pre-norm blocks → class token →
    /// LayerNorm → linear head. The width multiplier scales the embedding width (rounded to a
    /// multiple of the heads, at least one feature per head); `depth` replaces the block count.
    /// Linear layers, the class token and the position embedding start from timm's truncated
    /// normal (σ = 0.02, biases zero); the patch convolution from PyTorch's default, as in timm.
    /// Channel groups: each block's attention heads (a head's Q, K and V rows of `qkv` with its
    /// columns of `proj`) and its MLP hidden neurons (fc1 rows with fc2 columns).
    func vit(_ shape: ViTShape, name: String) throws -> Model {
        let heads = shape.heads
        let dim = Swift.max(1, (w(shape.dim) + heads / 2) / heads) * heads
        let depth = options.depth ?? shape.depth
        let side = (s - shape.patch) / shape.patch + 1
        let tokens = side * side
        let linear = initialization.transformer()
        var layers: [any Layer] = [
            try PatchEmbedding("patch", channels: c, dim: dim, patch: shape.patch, initialization: initialization),
            try TokenEmbedding("embed", tokens: tokens, dim: dim, initialization: linear),
        ]
        var groups: [ChannelGroup] = []
        for i in 0..<depth {
            let p = "blocks.\(i)"
            layers.append(try TransformerBlock(p, dim: dim, heads: heads, mlpRatio: shape.mlpRatio, initialization: linear))
            groups.append(ChannelGroup(producer: "\(p).attn.qkv", coupled: [], consumers: [.init(layer: "\(p).attn.proj", inputsPerChannel: dim / heads)],
                                       kind: .head, rowsPerChannel: dim / heads, rowBlocks: 3))
            groups.append(ChannelGroup(producer: "\(p).mlp.fc1", coupled: [], consumers: [.init(layer: "\(p).mlp.fc2", inputsPerChannel: 1)],
                                       kind: .neuron))
        }
        layers += [
            Stateless("pool", .classToken),
            try LayerNorm("norm", dim, initialization: linear),
            try Linear("head", dim, classes, initialization: linear),
        ]
        return Model(architecture: name, options: options, root: Sequential("", layers), channelGroups: groups)
    }
}
