import LatheTensor

/// A 2-D convolution with an `[out, in/groups, k, k]` weight (groups = in = out: depthwise).
public final class Conv2d: InputScalable {
    public let name: String
    /// `[outChannels, inChannels / groups, kernel, kernel]`
    public private(set) var weight: Tensor
    /// `[outChannels]`, or nil without bias.
    public private(set) var bias: Tensor?
    public let stride: Int
    public let padding: Int
    /// Number of channel groups; pruning a depthwise conv shrinks it with the channels.
    public private(set) var groups: Int
    /// `[inChannels]`: an explicit per-input-channel factor applied before the layer (channel
    /// scaling that could not be folded into the op before it), or nil.
    public private(set) var inputScale: Tensor?

    /// A layer initialised from `generator`.
    public convenience init(
        _ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        groups: Int = 1, bias: Bool = true, generator: RandomGenerator
    ) throws {
        try self.init(name, inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, groups: groups, bias: bias,
                      initialization: .uniform(generator))
    }

    init(
        _ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int,
        groups: Int, bias: Bool, initialization: Initialization
    ) throws {
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw ModelError.invalidOption("\(name): \(inChannels) → \(outChannels) channels are not divisible into \(groups) groups")
        }
        self.name = name
        self.stride = stride
        self.padding = padding
        self.groups = groups
        let fanIn = inChannels / groups * kernel * kernel
        weight = try initialization.tensor([outChannels, inChannels / groups, kernel, kernel], fanIn: fanIn)
        self.bias = bias ? try initialization.bias([outChannels], fanIn: fanIn) : nil
    }

    public var outChannels: Int { weight.shape[0] }
    public var inChannels: Int { weight.shape[1] * groups }
    public var kernel: Int { weight.shape[2] }
    /// Whether every input channel has its own filter (MobileNet's depthwise conv).
    public var isDepthwise: Bool { groups > 1 && groups == inChannels && groups == outChannels }

    public func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        let x = try context.input(name, inputScale.map { try input * $0.reshaped([1, $0.count, 1, 1]) } ?? input)
        let y = try x.conv2d(
            weight: context.weight(name, weight), bias: bias, stride: (stride, stride), padding: (padding, padding), groups: groups)
        let s = y.shape
        let macs = s[1] * s[2] * s[3] * (inChannels / groups) * kernel * kernel
        return try context.emit(self, kind: isDepthwise ? "conv2d-depthwise" : "conv2d", input: x, output: y, macsPerSample: macs)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
    public var ownBuffers: [(String, Tensor)] { inputScale.map { [("input_scale", $0)] } ?? [] }
    public var inputChannelCount: Int { inChannels }

    public func replace(_ shortName: String, with tensor: Tensor) throws {
        switch shortName {
        case "weight":
            // A depthwise conv keeps one filter per channel: its group count follows the channels.
            if isDepthwise { groups = tensor.shape[0] }
            weight = tensor
        case "bias": bias = tensor
        case "input_scale": inputScale = tensor
        default: throw ModelError.unknownTensor("\(name).\(shortName)")
        }
    }
}
