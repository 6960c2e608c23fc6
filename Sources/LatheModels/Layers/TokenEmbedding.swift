import LatheTensor

/// The class token and learned position embedding of a ViT: prepends `cls` `[1, 1, D]` to the
/// patch tokens `[N, T, D]` and adds `pos` `[1, 1+T, D]`.
public final class TokenEmbedding: Layer {
    public let name: String
    /// `[1, 1, dim]`
    public private(set) var cls: Tensor
    /// `[1, 1 + tokens, dim]`
    public private(set) var pos: Tensor

    init(_ name: String, tokens: Int, dim: Int, initialization: Initialization) throws {
        self.name = name
        cls = try initialization.tensor([1, 1, dim], fanIn: dim)
        pos = try initialization.tensor([1, 1 + tokens, dim], fanIn: dim)
    }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        guard x.rank == 3, x.shape[1] + 1 == pos.shape[1], x.shape[2] == pos.shape[2] else {
            throw ModelError.invalidOption("\(name): expected tokens [N, \(pos.shape[1] - 1), \(pos.shape[2])], got shape \(x.shape)")
        }
        let token = try cls.expanded([x.shape[0], 1, x.shape[2]])
        let y = try Tensor.cat([token, x], dim: 1) + pos
        return try context.emit(self, kind: "embedding", input: x, output: y)
    }

    public var ownParameters: [(String, Tensor)] { [("cls", cls), ("pos", pos)] }

    public func replace(_ shortName: String, with tensor: Tensor) throws {
        switch shortName {
        case "cls": cls = tensor
        case "pos": pos = tensor
        default: throw ModelError.unknownTensor("\(name).\(shortName)")
        }
    }
}
