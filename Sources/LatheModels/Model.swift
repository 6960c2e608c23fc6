import LatheTensor

/// How a zoo model is instantiated: the input it expects, its classes and its width.
public struct ModelOptions: Sendable, Codable, Equatable {
    /// Input channels (1 for Fashion-MNIST, 3 for CIFAR-10).
    public var inputChannels: Int
    /// Input height and width (square images).
    public var imageSize: Int
    /// Number of output classes.
    public var classCount: Int
    /// Channel / hidden-unit multiplier (0.5 gives a half-width student).
    public var width: Double
    /// Number of transformer blocks (vit-* only; nil: the architecture's own). Optional so that
    /// options saved before it existed still decode.
    public var depth: Int?

    /// Options for Fashion-MNIST-shaped input by default.
    public init(inputChannels: Int = 1, imageSize: Int = 28, classCount: Int = 10, width: Double = 1, depth: Int? = nil) {
        self.inputChannels = inputChannels
        self.imageSize = imageSize
        self.classCount = classCount
        self.width = width
        self.depth = depth
    }

    /// Largest accepted `inputChannels`.
    public static let maxInputChannels = 1024
    /// Accepted `imageSize`s: the zoo's pooling needs 16; the upper bound keeps every layer
    /// size of every architecture far from overflow.
    public static let imageSizes = 16...1024
    /// Largest accepted `classCount`.
    public static let maxClassCount = 100_000
    /// Accepted `depth`s.
    public static let depths = 1...64

    /// Checks every option against its range (options may come from a checkpoint's metadata),
    /// naming the option: within these ranges no layer size the zoo computes can overflow.
    public func validate() throws {
        guard (1...Self.maxInputChannels).contains(inputChannels) else {
            throw ModelError.invalidOption("inputChannels \(inputChannels) is out of range: expected 1...\(Self.maxInputChannels)")
        }
        guard Self.imageSizes.contains(imageSize) else {
            throw ModelError.invalidOption("imageSize \(imageSize) is out of range: expected \(Self.imageSizes.lowerBound)...\(Self.imageSizes.upperBound) (the zoo expects at least 16×16)")
        }
        guard (2...Self.maxClassCount).contains(classCount) else {
            throw ModelError.invalidOption("classCount \(classCount) is out of range: expected 2...\(Self.maxClassCount)")
        }
        guard width > 0, width <= 16 else {
            throw ModelError.invalidOption("width multiplier \(width) is out of range (0, 16]")
        }
        if let depth, !Self.depths.contains(depth) {
            throw ModelError.invalidOption("depth \(depth) is out of range: expected \(Self.depths.lowerBound)...\(Self.depths.upperBound)")
        }
    }

    /// `base` channels scaled by the width multiplier (at least 1).
    public func scaled(_ base: Int) -> Int { Swift.max(1, Int((Double(base) * width).rounded())) }
}

/// Channels that structured pruning must remove together: the output channels of `producer`,
/// the same-indexed channels of the `coupled` layers (batch norm, depthwise conv), and the
/// matching inputs of the `consumers`.
///
/// A channel is one row of the producer's weight (dimension 0) by default. A group whose unit
/// spans several rows (an attention head: its rows of Q, K and V in a fused projection) says
/// how: the producer's rows form `rowBlocks` equal blocks (Q | K | V), and channel `c` owns rows
/// `c·rowsPerChannel ..< (c+1)·rowsPerChannel` inside each block. Coupled layers are indexed by
/// the same rows.
public struct ChannelGroup: Sendable, Codable, Equatable {
    /// What a channel of the group is (pruning specs can select groups by kind).
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A conv filter or a linear layer's output feature.
        case channel
        /// An attention head (Q, K, V rows and the output projection's columns).
        case head
        /// A hidden neuron of a transformer MLP (fc1 row, fc2 column).
        case neuron
    }

    /// A layer reading the group's channels as inputs.
    public struct Consumer: Sendable, Codable, Equatable {
        /// Layer name.
        public var layer: String
        /// Input features per channel (1 for a conv; H·W for a linear layer after flatten; the
        /// head dimension for an attention output projection): channel `c` owns the inputs
        /// `c·inputsPerChannel ..< (c+1)·inputsPerChannel`.
        public var inputsPerChannel: Int

        public init(layer: String, inputsPerChannel: Int) {
            self.layer = layer
            self.inputsPerChannel = inputsPerChannel
        }
    }
    /// The conv or linear layer whose output channels are pruned.
    public var producer: String
    /// Layers indexed by the same rows on dimension 0.
    public var coupled: [String]
    /// Layers whose inputs are these channels.
    public var consumers: [Consumer]
    /// What a channel is.
    public var kind: Kind = .channel
    /// Rows of each block of the producer's weight that one channel owns.
    public var rowsPerChannel: Int = 1
    /// Equal blocks of the producer's rows that every channel has rows in (3 for a fused QKV).
    public var rowBlocks: Int = 1

    /// A group whose channels are single rows of the producer.
    public init(producer: String, coupled: [String], consumers: [Consumer], kind: Kind = .channel, rowsPerChannel: Int = 1, rowBlocks: Int = 1) {
        self.producer = producer
        self.coupled = coupled
        self.consumers = consumers
        self.kind = kind
        self.rowsPerChannel = rowsPerChannel
        self.rowBlocks = rowBlocks
    }

    /// Rows of the producer per channel, all blocks together.
    public var rowsPerUnit: Int { rowsPerChannel * rowBlocks }

    /// The channels of a producer with `rows` rows; nil when the rows do not split into whole channels.
    public func channels(rows: Int) -> Int? {
        guard rowsPerUnit > 0, rows % rowsPerUnit == 0 else { return nil }
        return rows / rowsPerUnit
    }

    /// The producer's rows of the channels `kept` (ascending), for a producer of `channels` channels.
    public func rows(of kept: [Int], channels: Int) -> [Int] {
        (0..<rowBlocks).flatMap { block in
            kept.flatMap { c in (0..<rowsPerChannel).map { block * channels * rowsPerChannel + c * rowsPerChannel + $0 } }
        }
    }
}

/// A zoo model: named layers, its options, and its declared channel-dependency groups.
///
/// Threading: one training or evaluation loop at a time.
public final class Model {
    /// Zoo architecture name (`lenet5`).
    public let architecture: String
    /// Instantiation options.
    public let options: ModelOptions
    /// The layer tree.
    public let root: Sequential
    /// Structured-pruning groups.
    public internal(set) var channelGroups: [ChannelGroup]
    /// Layers replaced by a low-rank pair (`factorize`), with their ranks; checkpoints record it.
    public internal(set) var factorized: [String: Int] = [:]
    /// The dataflow program of an imported model (`architecture` is then `graph`); nil for the zoo's.
    public internal(set) var program: GraphProgram?

    init(architecture: String, options: ModelOptions, root: Sequential, channelGroups: [ChannelGroup]) {
        self.architecture = architecture
        self.options = options
        self.root = root
        self.channelGroups = channelGroups
    }

    /// Logits for an NCHW batch.
    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try root.forward(x, context)
    }

    /// Logits in evaluation mode without gradients.
    public func predict(_ x: Tensor) throws -> Tensor {
        try withNoGrad { try forward(x, ForwardContext(training: false)) }
    }

    /// Every layer, depth first.
    public var layers: [any Layer] { root.allLayers }

    /// The layer with this full name.
    public func layer(named name: String) -> (any Layer)? { layers.first { $0.name == name } }

    /// Everything a forward pass can tap, in order: each named layer's output, and after each
    /// attention core its attention probabilities (`blocks.{i}.attn.map`, `[N, H, T, T]`); for a
    /// graph model also every node that is not a layer (an add merging pyramid levels, an activation).
    public var tapNames: [String] {
        layers.flatMap { layer -> [String] in
            let extra = (layer as? AttentionCore).map { [$0.mapName] } ?? []
            return ([layer.name] + extra).filter { !$0.isEmpty }
        } + (program?.nodes.filter { $0.op.layer == nil }.map(\.name) ?? [])
    }

    /// Trainable tensors in a stable order.
    public var parameters: [Tensor] { root.namedParameters.map(\.1) }

    /// Trainable tensors with their names.
    public var namedParameters: [(String, Tensor)] { root.namedParameters }

    /// Parameters and buffers: everything a checkpoint holds.
    public var state: [(String, Tensor)] { root.namedParameters + root.namedBuffers }

    /// Number of trainable elements.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Loads tensors by name. Every model tensor must be present with the model's element type;
    /// with `allowShapeChange` a tensor may have a new shape (a physically pruned model),
    /// otherwise shapes must match.
    public func load(_ tensors: [String: Tensor], allowShapeChange: Bool = false) throws {
        for layer in layers {
            // An explicit input scale is optional state: a checkpoint that has one gives the layer one.
            if let scalable = layer as? any InputScalable, scalable.inputScale == nil, let scale = tensors["\(layer.name).input_scale"] {
                guard scale.shape == [scalable.inputChannelCount] || allowShapeChange else {
                    throw ModelError.shapeMismatch("\(layer.name).input_scale", expected: [scalable.inputChannelCount], found: scale.shape)
                }
                try layer.replace("input_scale", with: scale)
            }
            for (short, current) in layer.ownParameters + layer.ownBuffers {
                let full = "\(layer.name).\(short)"
                guard let loaded = tensors[full] else { throw ModelError.missingTensor(full) }
                if !allowShapeChange, loaded.shape != current.shape {
                    throw ModelError.shapeMismatch(full, expected: current.shape, found: loaded.shape)
                }
                guard loaded.dtype == current.dtype else {
                    throw ModelError.typeMismatch(full, expected: current.dtype, found: loaded.dtype)
                }
                let value = try loaded.contiguous()
                try layer.replace(short, with: current.requiresGrad ? value.detached().requiringGrad() : value.detached())
            }
        }
        let known = Set(state.map(\.0))
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelError.unknownTensor(extra)
        }
    }

    /// A deep copy: same architecture, options and tensor values (shapes included, so pruned
    /// models copy too); no storage is shared.
    public func copy() throws -> Model {
        // The zoo's own graph models (detector, segmenter) rebuild from their name, imported ones from their program.
        let twin = try architecture == Model.graphArchitecture ? program.map { try Model.skeleton(program: $0, options: options) } ?? Zoo.skeleton(architecture, options: options)
            : Zoo.skeleton(architecture, options: options)
        try twin.restructure(factorized: factorized)
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in state { tensors[name] = try tensor.detached().clone() }
        try twin.load(tensors, allowShapeChange: true)
        return twin
    }

    /// Per-layer shapes, MACs and parameters from one evaluation pass on a single sample.
    public func profile() throws -> [LayerProfile] {
        let x = try Tensor.zeros([1, options.inputChannels, options.imageSize, options.imageSize])
        let context = ForwardContext(training: false, profile: true)
        _ = try withNoGrad { try forward(x, context) }
        return context.profiles ?? []
    }
}
