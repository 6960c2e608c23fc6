import CTorch

/// Neural-network operators and losses (functional form; the layers live in LatheModels).
extension Tensor {
    /// 2-D convolution of an NCHW input with an `[out, in/groups, kh, kw]` weight.
    public func conv2d(
        weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) throws -> Tensor {
        let s = [Int64(stride.0), Int64(stride.1)]
        let p = [Int64(padding.0), Int64(padding.1)]
        let d = [Int64(dilation.0), Int64(dilation.1)]
        return try withExtendedLifetime(bias) {
            try Tensor.make(
                ct_conv2d(handle, weight.handle, bias?.handle, s, p, d, Int64(groups)),
                "conv2d(input \(shape), weight \(weight.shape), groups \(groups))")
        }
    }

    /// The columns a conv multiplies its weight with (im2col): `[N, C·kh·kw, L]` for an NCHW
    /// input, L output positions, feature (c, u, v) at `(c·kh + u)·kw + v`.
    public func im2col(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) throws -> Tensor {
        let k = [Int64(kernel.0), Int64(kernel.1)], s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
        return try Tensor.make(ct_im2col(handle, k, s, p), "im2col(input \(shape), kernel \(kernel))")
    }

    /// y = x Wᵀ + b with an `[out, in]` weight.
    public func linear(weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        try withExtendedLifetime(bias) {
            try Tensor.make(ct_linear(handle, weight.handle, bias?.handle), "linear(input \(shape), weight \(weight.shape))")
        }
    }

    /// Batch normalisation over the channel dimension; running statistics are updated in place
    /// when `training`.
    public func batchNorm(
        weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
        training: Bool, momentum: Double = 0.1, eps: Double = 1e-5
    ) throws -> Tensor {
        try withExtendedLifetime((weight, bias, runningMean, runningVar)) {
            try Tensor.make(
                ct_batch_norm(handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle, training, momentum, eps),
                "batch_norm(input \(shape))")
        }
    }

    /// Layer normalisation over the last dimension (Ba et al. 2016), with optional scale and
    /// shift `[lastDim]`.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) throws -> Tensor {
        let last = Int64(shape.last ?? 0)
        return try withExtendedLifetime((weight, bias)) {
            try Tensor.make(ct_layer_norm(handle, last, weight?.handle, bias?.handle, eps), "layer_norm(input \(shape))")
        }
    }

    /// A square pooling window as the shim's (h, w) pairs: kernel, stride (the kernel's size when
    /// nil) and padding.
    static func poolWindow(_ kernel: Int, _ stride: Int?, _ padding: Int) -> (kernel: [Int64], stride: [Int64], padding: [Int64]) {
        let s = Int64(stride ?? kernel)
        return ([Int64(kernel), Int64(kernel)], [s, s], [Int64(padding), Int64(padding)])
    }

    /// Max pooling over kernel × kernel windows (stride defaults to the kernel size).
    ///
    /// Windows that tile the input (stride == kernel, no padding) on float tensors run Lathe's own
    /// kernel, bitwise equal to ATen's `max_pool2d` (same tie and NaN rules) and several times
    /// faster than Debian's libtorch 1.13 build of it; other shapes run ATen's.
    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        let (k, s, p) = Self.poolWindow(kernel, stride, padding)
        return try Tensor.make(ct_max_pool2d(handle, k, s, p), "max_pool2d(input \(shape), kernel \(kernel))")
    }

    /// ATen's `max_pool2d` whatever the shape: the reference `maxPool2d` is tested against.
    func atenMaxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        let (k, s, p) = Self.poolWindow(kernel, stride, padding)
        return try Tensor.make(ct_max_pool2d_aten(handle, k, s, p), "max_pool2d(input \(shape), kernel \(kernel))")
    }

    /// Nearest-neighbour upsampling of an NCHW tensor by an integer `scale` (each pixel becomes a
    /// `scale × scale` block; ATen's `upsample_nearest2d` with an integer factor), differentiable.
    public func upsampledNearest(_ scale: Int) throws -> Tensor {
        guard shape.count == 4, scale >= 1 else {
            throw TensorError("upsampledNearest", "expected an NCHW tensor and a scale ≥ 1, got shape \(shape), scale \(scale)")
        }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return try reshaped([n, c, h, 1, w, 1]).expanded([n, c, h, scale, w, scale]).reshaped([n, c, h * scale, w * scale])
    }

    /// Average pooling over kernel × kernel windows.
    public func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        let (k, s, p) = Self.poolWindow(kernel, stride, padding)
        return try Tensor.make(ct_avg_pool2d(handle, k, s, p), "avg_pool2d(input \(shape), kernel \(kernel))")
    }

    /// Average pooling to a fixed output size.
    public func adaptiveAvgPool2d(_ height: Int, _ width: Int) throws -> Tensor {
        try Tensor.make(ct_adaptive_avg_pool2d(handle, Int64(height), Int64(width)), "adaptive_avg_pool2d")
    }

    /// Mean cross-entropy of `[N, C]` logits against int64 `labels` of shape `[N]`.
    public func crossEntropy(labels: Tensor, labelSmoothing: Double = 0) throws -> Tensor {
        try Tensor.make(ct_cross_entropy(handle, labels.handle, labelSmoothing), "cross_entropy(logits \(shape), labels \(labels.shape))")
    }

    /// Mean squared error.
    public func mseLoss(_ target: Tensor) throws -> Tensor {
        try Tensor.make(ct_mse_loss(handle, target.handle), "mse_loss(\(shape) vs \(target.shape))")
    }

    /// KL(target ‖ input), self being log-probabilities and `target` probabilities, averaged over the batch.
    public func klDivergence(target: Tensor) throws -> Tensor {
        try Tensor.make(ct_kl_div(handle, target.handle), "kl_div(\(shape) vs \(target.shape))")
    }
}
