import LatheTensor

/// A parameter-free layer: activation, pooling or reshaping. Named so that it can be tapped.
public final class Stateless: Layer {
    /// What the layer computes.
    public enum Operation: Sendable, Equatable {
        case relu, relu6
        /// The exact GELU, x·Φ(x) (Hendrycks & Gimpel 2016), of transformer MLPs.
        case gelu
        case maxPool(kernel: Int, stride: Int)
        case avgPool(kernel: Int, stride: Int)
        /// Average over the whole spatial extent, to `[N, C, 1, 1]`.
        case globalAvgPool
        /// `[N, …]` to `[N, -1]`.
        case flatten
        /// `[N, T, D]` to the first (class) token `[N, D]`.
        case classToken
    }

    public let name: String
    public let operation: Operation

    /// A layer computing `operation`.
    public init(_ name: String, _ operation: Operation) {
        self.name = name
        self.operation = operation
    }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let y: Tensor
        let kind: String
        switch operation {
        case .relu: (y, kind) = (try x.relu(), "relu")
        case .relu6: (y, kind) = (try x.relu6(), "relu6")
        case .gelu: (y, kind) = (try x.gelu(), "gelu")
        case let .maxPool(k, s): (y, kind) = (try x.maxPool2d(kernel: k, stride: s), "maxpool2d")
        case let .avgPool(k, s): (y, kind) = (try x.avgPool2d(kernel: k, stride: s), "avgpool2d")
        case .globalAvgPool: (y, kind) = (try x.adaptiveAvgPool2d(1, 1), "globalavgpool")
        case .flatten: (y, kind) = (try x.flattened(from: 1), "flatten")
        case .classToken: (y, kind) = (try x.narrowed(1, start: 0, length: 1).squeezed(1), "classtoken")
        }
        return try context.emit(self, kind: kind, input: x, output: y)
    }
}
