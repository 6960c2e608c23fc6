import LatheModels
import LatheTensor

/// A learnable map from the student's feature shape to the teacher's, for feature losses that
/// need equal shapes (FitNets' regressor): a 1×1 convolution for NCHW maps of equal spatial
/// size, a linear layer for `[B, D]` features. Trained with the student (its parameters go to
/// `Trainer.extraParameters`); not part of the saved student.
public final class Adapter {
    /// The adapter's layer type.
    public enum Kind: String, Sendable, Codable {
        case conv1x1 = "conv1x1"
        case linear
    }

    public let kind: Kind
    /// Per-sample input shape (the student tensor without its batch dimension).
    public let inputShape: [Int]
    /// Per-sample output shape (the teacher tensor's).
    public let outputShape: [Int]
    private let layer: any Layer

    /// An adapter from per-sample `student` shape to `teacher` shape (batch dimension
    /// excluded), initialised like PyTorch's conv/linear from `seed`. Throws, naming `label`
    /// and both shapes, when no 1×1 conv or linear layer can map one onto the other.
    public init(student: [Int], teacher: [Int], label: String, seed: UInt64) throws {
        let generator = try RandomGenerator(seed: seed)
        switch (student.count, teacher.count) {
        case (3, 3) where student[1] == teacher[1] && student[2] == teacher[2]:
            kind = .conv1x1
            layer = try Conv2d("\(label).adapter", student[0], teacher[0], kernel: 1, generator: generator)
        case (1, 1):
            kind = .linear
            layer = try Linear("\(label).adapter", student[0], teacher[0], generator: generator)
        default:
            throw DistillError.invalidTerm(
                "\(label): cannot adapt student features \(student) to teacher features \(teacher): a 1×1-conv adapter needs [C, H, W] maps of equal H×W, a linear adapter [D] vectors; choose layers with matching spatial size")
        }
        inputShape = student
        outputShape = teacher
    }

    /// The trainable tensors.
    public var parameters: [Tensor] { layer.ownParameters.map(\.1) }

    /// Number of trainable elements.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Maps a student batch `[B] + inputShape` to `[B] + outputShape` (gradients flow to the
    /// adapter and to the student).
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try layer.forward(x, ForwardContext(training: true))
    }
}

/// Puts a plugin's gradient into autograd.
public enum GradientInjection {
    /// A scalar whose value is `loss` and whose gradient with respect to `student` is exactly
    /// `gradient`: `(student · g).sum() − (student · g).sum().detached() + loss` with
    /// `g = gradient.detached()`. The first term carries the gradient (∂/∂student = g, bit for
    /// bit), the other two make the value the plugin's loss (for logging and divergence checks).
    public static func surrogate(student: Tensor, gradient: Tensor, loss: Double) throws -> Tensor {
        let g = try gradient.detached()
        let carrier = try (student * g).sum()
        return try carrier - carrier.detached() + loss
    }
}
