import CTorch

extension Tensor {
    /// Whether autograd tracks operations on this tensor.
    public var requiresGrad: Bool {
        ct_requires_grad(handle)
    }

    /// Marks this (leaf) tensor as a parameter that accumulates gradients. Returns self.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) throws -> Tensor {
        try checkStatus(ct_set_requires_grad(handle, flag), "requires_grad")
        return self
    }

    /// The accumulated gradient, or nil before any backward pass reached this tensor.
    public var grad: Tensor? {
        guard let h = ct_grad(handle) else { return nil }
        let t = Tensor(handle: h)
        return t.isDefined ? t : nil
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() throws { try checkStatus(ct_zero_grad(handle), "zero_grad") }

    /// Backpropagates from this tensor (a scalar unless `gradient` is given) into every leaf
    /// that requires gradients.
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        try withExtendedLifetime(gradient) {
            try checkStatus(ct_backward(handle, gradient?.handle, retainGraph), "backward (shape \(shape))")
        }
    }

    /// The same values, cut from the autograd graph.
    public func detached() throws -> Tensor { try Tensor.make(ct_detach(handle), "detach") }

    /// Gradients of `outputs` (summed) with respect to each of `inputs` (torch.autograd.grad).
    public static func gradients(of outputs: [Tensor], withRespectTo inputs: [Tensor], createGraph: Bool = false) throws -> [Tensor] {
        let outs: [ct_tensor?] = outputs.map(\.handle)
        let ins: [ct_tensor?] = inputs.map(\.handle)
        var results = [ct_tensor?](repeating: nil, count: inputs.count)
        try withExtendedLifetime((outputs, inputs)) {
            try checkStatus(ct_autograd_grad(outs, Int64(outs.count), ins, Int64(ins.count), createGraph, &results), "autograd.grad")
        }
        return try results.map { try make($0, "autograd.grad") }
    }
}
