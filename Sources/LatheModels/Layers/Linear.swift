import LatheTensor

/// A fully connected layer, y = x Wᵀ + b, with an `[out, in]` weight.
public final class Linear: InputScalable {
    public let name: String
    /// `[outFeatures, inFeatures]`
    public private(set) var weight: Tensor
    /// `[outFeatures]`, or nil without bias.
    public private(set) var bias: Tensor?
    /// `[inFeatures]`: an explicit per-input factor applied before the layer (channel scaling
    /// that could not be folded into the op before it), or nil.
    public private(set) var inputScale: Tensor?

    /// A layer initialised from `generator`.
    public convenience init(_ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator) throws {
        try self.init(name, inFeatures, outFeatures, bias: bias, initialization: .uniform(generator))
    }

    init(_ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, initialization: Initialization) throws {
        self.name = name
        weight = try initialization.tensor([outFeatures, inFeatures], fanIn: inFeatures)
        self.bias = bias ? try initialization.bias([outFeatures], fanIn: inFeatures) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        let x = try context.input(name, inputScale.map { try input * $0 } ?? input)
        let y = try x.linear(weight: context.weight(name, weight), bias: bias)
        // One product per feature vector: a token sequence `[N, T, in]` has T per sample.
        let vectors = x.shape.dropFirst().dropLast().reduce(1, *)
        return try context.emit(self, kind: "linear", input: x, output: y, macsPerSample: vectors * inFeatures * outFeatures)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
    public var ownBuffers: [(String, Tensor)] { inputScale.map { [("input_scale", $0)] } ?? [] }
    public var inputChannelCount: Int { inFeatures }

    public func replace(_ shortName: String, with tensor: Tensor) throws {
        switch shortName {
        case "weight": weight = tensor
        case "bias": bias = tensor
        case "input_scale": inputScale = tensor
        default: throw ModelError.unknownTensor("\(name).\(shortName)")
        }
    }
}
