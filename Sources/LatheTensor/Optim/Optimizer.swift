/// A first-order optimizer over a fixed list of parameters.
///
/// Threading: not thread-safe; one training loop owns it.
public protocol Optimizer: AnyObject {
    /// The current learning rate (set by a schedule before each step).
    var learningRate: Double { get set }
    /// The parameters being optimised.
    var parameters: [Tensor] { get }
    /// Applies one update from the parameters' accumulated gradients.
    func step() throws
    /// What the optimizer has accumulated (moments, momentum buffers, its step count), as
    /// copies: with the parameters' values, all that a resumed run needs.
    func state() throws -> OptimizerState
    /// Restores `state` (from `state()` of an optimizer of the same kind over parameters of the
    /// same shapes); an error names the tensor that does not fit, and changes nothing.
    func restore(_ state: OptimizerState) throws
}

/// An optimizer's accumulated state: tensors named `<buffer>.<parameter index>` (e.g. `m.3`)
/// and the number of steps taken.
public struct OptimizerState {
    public var steps: Int
    public var tensors: [String: Tensor]

    public init(steps: Int, tensors: [String: Tensor]) {
        self.steps = steps
        self.tensors = tensors
    }

    /// The buffers named `<buffer>.<index>` for each of `names`, checked against `parameters`'
    /// shapes and float dtype, as copies; nil where the state has none. Unknown names are refused.
    func buffers(_ names: [String], for parameters: [Tensor], optimizer: String) throws -> [[Tensor?]] {
        var out = names.map { _ in [Tensor?](repeating: nil, count: parameters.count) }
        for (key, tensor) in tensors {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2, let which = names.firstIndex(of: parts[0]), let index = Int(parts[1]), parameters.indices.contains(index) else {
                throw TensorError("\(optimizer) state", "tensor '\(key)': expected <\(names.joined(separator: "|"))>.<parameter index below \(parameters.count)>")
            }
            guard tensor.shape == parameters[index].shape, tensor.dtype == parameters[index].dtype else {
                throw TensorError("\(optimizer) state", "tensor '\(key)' is \(tensor.dtype) \(tensor.shape); parameter \(index) is \(parameters[index].dtype) \(parameters[index].shape)")
            }
            out[which][index] = try tensor.detached().clone()
        }
        return out
    }
}

extension Optimizer {
    /// Drops every parameter's gradient (the next backward starts from zero).
    public func zeroGrad() throws {
        for p in parameters { try p.zeroGrad() }
    }
}
