import LatheTensor

/// Image to tokens (ViT): a `patch × patch` convolution with stride `patch`, its feature map
/// `[N, D, H', W']` read row-major as `H'·W'` tokens `[N, H'·W', D]`. Emitted as the composite `name`.
public final class PatchEmbedding: Layer {
    public let name: String
    /// The convolution `<name>.proj`.
    public let proj: Conv2d

    init(_ name: String, channels: Int, dim: Int, patch: Int, initialization: Initialization) throws {
        self.name = name
        proj = try Conv2d("\(name).proj", channels, dim, kernel: patch, stride: patch, padding: 0, groups: 1, bias: true,
                          initialization: initialization)
    }

    public var children: [any Layer] { [proj] }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let y = try proj.forward(x, context).flattened(from: 2).transposed(1, 2)
        context.emitComposite(name, y)
        return y
    }
}
