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
}

extension Optimizer {
    /// Drops every parameter's gradient (the next backward starts from zero).
    public func zeroGrad() throws {
        for p in parameters { try p.zeroGrad() }
    }
}
