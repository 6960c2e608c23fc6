import LatheTensor

/// One named node of a model. Leaf layers own parameters; composite layers own children.
///
/// Names are unique within a model and dotted by nesting (`layer1.0.conv1`); parameters are
/// named `<layer>.<tensor>` (`layer1.0.conv1.weight`), which is also their checkpoint key.
///
/// Threading: a layer belongs to one training or evaluation loop at a time.
public protocol Layer: AnyObject {
    /// The layer's full dotted name.
    var name: String { get }
    /// Computes the output and records taps and profiles in `context`.
    func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor
    /// Directly nested layers (empty for leaves).
    var children: [any Layer] { get }
    /// This layer's own trainable tensors, by short name (`weight`, `bias`).
    var ownParameters: [(String, Tensor)] { get }
    /// This layer's own non-trainable state (`running_mean`), by short name.
    var ownBuffers: [(String, Tensor)] { get }
    /// Replaces one of this layer's own tensors (parameter or buffer), e.g. after channel pruning or loading.
    func replace(_ shortName: String, with tensor: Tensor) throws
}

/// A conv or linear layer, which may carry an explicit per-input-channel scale: the input is
/// multiplied by `input_scale` (a buffer, saved in checkpoints) before the layer computes. Channel
/// scaling (SmoothQuant, AWQ) sets it where 1/s cannot be folded into the op before the layer.
public protocol InputScalable: Layer {
    /// `[inputChannelCount]`, or nil.
    var inputScale: Tensor? { get }
    /// Input channels (a linear layer's features).
    var inputChannelCount: Int { get }
}

extension Layer {
    public var children: [any Layer] { [] }
    public var ownParameters: [(String, Tensor)] { [] }
    public var ownBuffers: [(String, Tensor)] { [] }
    public func replace(_ shortName: String, with tensor: Tensor) throws {
        throw ModelError.unknownTensor("\(name).\(shortName)")
    }

    /// This layer and every nested layer, depth first.
    public var allLayers: [any Layer] { [self] + children.flatMap(\.allLayers) }

    /// Every trainable tensor of this subtree with its full name.
    public var namedParameters: [(String, Tensor)] {
        allLayers.flatMap { layer in layer.ownParameters.map { ("\(layer.name).\($0.0)", $0.1) } }
    }

    /// Every buffer of this subtree with its full name.
    public var namedBuffers: [(String, Tensor)] {
        allLayers.flatMap { layer in layer.ownBuffers.map { ("\(layer.name).\($0.0)", $0.1) } }
    }
}

/// Errors from building, loading or editing models.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The zoo has no model of that name.
    case unknownModel(String, known: [String])
    /// A tensor name that the model does not have.
    case unknownTensor(String)
    /// A tensor whose shape differs from the model's.
    case shapeMismatch(String, expected: [Int], found: [Int])
    /// A tensor whose element type differs from the model's.
    case typeMismatch(String, expected: DType, found: DType)
    /// A model tensor absent from a checkpoint.
    case missingTensor(String)
    /// A model option out of range (width multiplier, input size).
    case invalidOption(String)

    public var description: String {
        switch self {
        case let .unknownModel(name, known): "unknown model '\(name)'; expected one of: \(known.joined(separator: ", "))"
        case let .unknownTensor(name): "the model has no tensor named '\(name)'"
        case let .shapeMismatch(name, expected, found): "tensor '\(name)' has shape \(found), expected \(expected)"
        case let .typeMismatch(name, expected, found): "tensor '\(name)' has element type \(found), expected \(expected)"
        case let .missingTensor(name): "checkpoint lacks tensor '\(name)'"
        case let .invalidOption(message): message
        }
    }
}
