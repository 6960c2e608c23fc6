import CTorch

/// In-place updates, used by optimizers, initialisers and masks. Under `withNoGrad` they are
/// not recorded by autograd.
extension Tensor {
    /// self += alpha · other
    public func add_(_ other: Tensor, alpha: Double = 1) throws { try checkStatus(ct_add_(handle, other.handle, alpha), "add_") }
    /// self *= other
    public func mul_(_ other: Tensor) throws { try checkStatus(ct_mul_(handle, other.handle), "mul_") }
    /// self *= s
    public func mul_(_ s: Double) throws { try checkStatus(ct_mul_scalar_(handle, s), "mul_") }
    /// self += s
    public func add_(_ s: Double) throws { try checkStatus(ct_add_scalar_(handle, s), "add_") }
    /// self += value · a · b
    public func addcmul_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try checkStatus(ct_addcmul_(handle, a.handle, b.handle, value), "addcmul_")
    }
    /// self += value · a / b
    public func addcdiv_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try checkStatus(ct_addcdiv_(handle, a.handle, b.handle, value), "addcdiv_")
    }
    /// self = source (broadcast), shapes must be compatible.
    public func copy_(_ source: Tensor) throws { try checkStatus(ct_copy_(handle, source.handle), "copy_ (\(source.shape) into \(shape))") }
    /// Every element set to `value`.
    public func fill_(_ value: Double) throws { try checkStatus(ct_fill_(handle, value), "fill_") }
    /// Values clamped into `[low, high]` in place.
    public func clamp_(_ low: Double, _ high: Double) throws { try checkStatus(ct_clamp_(handle, low, high), "clamp_") }
    /// self += weight · (end - self)
    public func lerp_(_ end: Tensor, weight: Double) throws { try checkStatus(ct_lerp_(handle, end.handle, weight), "lerp_") }
    /// Fills with Uniform[low, high) samples from `generator`.
    public func uniform_(_ low: Double, _ high: Double, generator: RandomGenerator? = nil) throws {
        try checkStatus(ct_uniform_(handle, low, high, generator?.handle), "uniform_")
    }
    /// Fills with Normal(mean, std) samples from `generator`.
    public func normal_(mean: Double = 0, std: Double = 1, generator: RandomGenerator? = nil) throws {
        try checkStatus(ct_normal_(handle, mean, std, generator?.handle), "normal_")
    }
    /// Fills with Normal(mean, std) samples truncated to `[low, high]` from `generator`
    /// (`torch.nn.init.trunc_normal_`).
    public func truncatedNormal_(mean: Double = 0, std: Double, low: Double, high: Double, generator: RandomGenerator? = nil) throws {
        try checkStatus(ct_trunc_normal_(handle, mean, std, low, high, generator?.handle), "trunc_normal_")
    }
}
