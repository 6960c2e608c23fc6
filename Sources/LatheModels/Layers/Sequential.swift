import LatheTensor

/// Layers applied one after another.
public final class Sequential: Layer {
    public let name: String
    public private(set) var layers: [any Layer]

    /// A chain named `name` (may be empty for the model root).
    public init(_ name: String, _ layers: [any Layer]) {
        self.name = name
        self.layers = layers
    }

    /// Puts `layer` in place of the child at `index` (low-rank factorization).
    func replaceChild(at index: Int, with layer: any Layer) { layers[index] = layer }

    public var children: [any Layer] { layers }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var h = x
        for layer in layers { h = try layer.forward(h, context) }
        context.emitComposite(name, h)
        return h
    }
}

/// A residual block: `relu(body(x) + shortcut(x))`, the shortcut being identity when nil
/// (He et al. 2016, "Deep Residual Learning").
public final class Residual: Layer {
    public let name: String
    public let body: Sequential
    public let shortcut: Sequential?

    /// A block adding `body` and `shortcut` (identity when nil).
    public init(_ name: String, body: Sequential, shortcut: Sequential?) {
        self.name = name
        self.body = body
        self.shortcut = shortcut
    }

    public var children: [any Layer] { [body] + (shortcut.map { [$0] } ?? []) }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let main = try body.forward(x, context)
        let skip = try shortcut?.forward(x, context) ?? x
        let y = try (main + skip).relu()
        context.emitComposite(name, y)
        return y
    }
}
