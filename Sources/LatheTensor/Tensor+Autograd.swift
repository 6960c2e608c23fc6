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

/// The Swift side of a `Tensor.custom` node: the backward closure, kept alive by the node.
private final class CustomBackward {
    let body: (Tensor) throws -> [Tensor?]
    init(_ body: @escaping (Tensor) throws -> [Tensor?]) { self.body = body }
}

extension Tensor {
    /// `value` attached to the autograd graph as a function of `inputs`, with gradients computed
    /// by `backward`: given dL/d(result) (value's shape) it returns dL/d(input) for each input
    /// (nil for none), each of its input's shape. For operations computed outside libtorch,
    /// e.g. a plugin's quantizer with its own backward entry. An error thrown by `backward`
    /// fails the backward pass with its description; a gradient of the wrong shape is refused.
    /// Without grad mode, or when no input requires grad, the result is `value` without history.
    public static func custom(value: Tensor, inputs: [Tensor], backward: @escaping (Tensor) throws -> [Tensor?]) throws -> Tensor {
        let context = Unmanaged.passRetained(CustomBackward(backward)).toOpaque()
        let handles: [ct_tensor?] = inputs.map(\.handle)
        let result = withExtendedLifetime((value, inputs)) {
            ct_custom_function(value.handle, handles, Int64(handles.count), { context, upstream, grads, n, message, capacity in
                guard let context, let upstream, let grads else { return 1 }
                let box = Unmanaged<CustomBackward>.fromOpaque(context).takeUnretainedValue()
                func fail(_ text: String) -> Int32 {
                    if let message, capacity > 0 {
                        let bytes = Array(text.utf8.prefix(capacity - 1))
                        for (i, b) in bytes.enumerated() { message[i] = CChar(bitPattern: b) }
                        message[bytes.count] = 0
                    }
                    return 1
                }
                guard let borrowed = ct_shallow_clone(upstream) else { return fail("could not reference the upstream gradient") }
                do {
                    let gradients = try box.body(Tensor(handle: borrowed))
                    guard gradients.count == Int(n) else {
                        return fail("backward returned \(gradients.count) gradients for \(n) inputs")
                    }
                    for (i, g) in gradients.enumerated() { grads[i] = g.flatMap { ct_shallow_clone($0.handle) } }
                    return 0
                } catch {
                    return fail(String(describing: error))
                }
            }, context, { context in
                if let context { Unmanaged<CustomBackward>.fromOpaque(context).release() }
            })
        }
        return try make(result, "custom function")
    }
}
