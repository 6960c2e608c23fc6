import LatheTensor

/// What a profiled forward pass learned about one leaf layer.
public struct LayerProfile: Sendable, Equatable, Codable {
    /// Full layer name.
    public var name: String
    /// Layer kind (`conv2d`, `linear`, `batchnorm2d`, …).
    public var kind: String
    /// Input shape, batch included.
    public var inputShape: [Int]
    /// Output shape, batch included.
    public var outputShape: [Int]
    /// Multiply-accumulates per sample (conv and linear layers; zero for the others).
    public var macs: Int
    /// Number of parameters owned by the layer.
    public var parameters: Int
}

/// Where a training forward pass is in its run (for schedules that plugins compute themselves).
public struct TrainingPosition: Sendable, Equatable {
    /// Optimizer step of this pass, 0-based, within the run.
    public var step: Int
    public var totalSteps: Int
    /// 0-based.
    public var epoch: Int
    public var totalEpochs: Int
    /// Indices of the batch's samples in the training set, and its size.
    public var sampleIndices: [Int]
    public var datasetSize: Int

    public init(step: Int, totalSteps: Int, epoch: Int, totalEpochs: Int, sampleIndices: [Int] = [], datasetSize: Int = 0) {
        self.step = step
        self.totalSteps = totalSteps
        self.epoch = epoch
        self.totalEpochs = totalEpochs
        self.sampleIndices = sampleIndices
        self.datasetSize = datasetSize
    }
}

/// State threaded through one forward pass: train/eval mode, feature taps, profiling and
/// per-layer weight transforms (used by masks and fake quantization).
///
/// Threading: one context per forward pass; not shared between threads.
public final class ForwardContext {
    /// Batch norm uses batch statistics and updates running ones when true.
    public var training: Bool
    /// Names of layers whose outputs are kept in `tapped`.
    public var taps: Set<String>
    /// Outputs of the tapped layers from the last pass.
    public private(set) var tapped: [String: Tensor] = [:]
    /// Per-layer profiles, recorded when non-nil.
    public var profiles: [LayerProfile]?
    /// A transform applied to a layer's weight before use (by layer name), e.g. a pruning
    /// mask or a fake quantizer. Gradients flow through it.
    public var weightTransforms: [String: (Tensor) throws -> Tensor]
    /// A transform applied to a layer's output (by layer name), e.g. activation fake quantization.
    public var outputTransforms: [String: (Tensor) throws -> Tensor]
    /// A transform applied to a conv or linear layer's input (by layer name), e.g. activation
    /// fake quantization or calibration observers.
    public var inputTransforms: [String: (Tensor) throws -> Tensor] = [:]
    /// The training position of this pass; nil outside training.
    public var position: TrainingPosition?

    /// A context for training (`training: true`) or evaluation.
    public init(training: Bool, taps: Set<String> = [], profile: Bool = false) {
        self.training = training
        self.taps = taps
        self.profiles = profile ? [] : nil
        self.weightTransforms = [:]
        self.outputTransforms = [:]
    }

    /// The input a conv or linear layer should use this pass.
    public func input(_ layer: String, _ x: Tensor) throws -> Tensor {
        guard let transform = inputTransforms[layer] else { return x }
        return try transform(x)
    }

    /// The weight a layer should use this pass.
    public func weight(_ layer: String, _ weight: Tensor) throws -> Tensor {
        guard let transform = weightTransforms[layer] else { return weight }
        return try transform(weight)
    }

    /// Records a leaf layer's output (taps, profile, output transform) and returns what flows on.
    public func emit(_ layer: any Layer, kind: String, input: Tensor, output: Tensor, macsPerSample: Int = 0) throws -> Tensor {
        var out = output
        if let transform = outputTransforms[layer.name] { out = try transform(out) }
        if taps.contains(layer.name) { tapped[layer.name] = out }
        if profiles != nil {
            let parameterCount = layer.ownParameters.reduce(0) { $0 + $1.1.count }
            profiles?.append(LayerProfile(
                name: layer.name, kind: kind, inputShape: input.shape, outputShape: out.shape,
                macs: macsPerSample, parameters: parameterCount))
        }
        return out
    }

    /// Records a composite layer's output for taps (no profile entry).
    public func emitComposite(_ name: String, _ output: Tensor) {
        if taps.contains(name) { tapped[name] = output }
    }
}
