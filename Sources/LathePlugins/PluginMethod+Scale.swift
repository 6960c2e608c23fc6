import CLathePlugin
import LatheTensor

/// [1.3] What a channel scaler returned for one layer, checked.
public struct ScalerResult: Sendable {
    /// `[G, C]`: one finite, positive scale per input channel (channel g·C + c is `[g, c]`).
    public var scales: Tensor
    /// What the scaler reported with host->report_metric, in order.
    public var metrics: [(name: String, value: Double)]
}

extension PluginMethod {
    /// The input channels per group of a weight: a linear layer's `in`, a conv's `in/G` (both
    /// dimension 1), or 1 for a one-dimensional weight.
    public static func inputChannels(ofWeight shape: [Int]) -> Int { shape.count >= 2 ? shape[1] : 1 }

    /// Calls a channel scaler on `weight` with the layer's input `statistics`, and checks what it
    /// returns: `[G, C]` scales (G the statistics' group count, C the weight's input channels per
    /// group), every one written, finite and positive.
    public func scales(weight: Tensor, statistics: InputStatistics?, params: BoundParams,
                       context: CallContext = CallContext(role: .weight, axis: 0)) throws -> ScalerResult {
        try requireKind(.scaler)
        let w = try Self.float32(weight, role: "weight")
        let shape = w.shape
        guard shape.count >= 1, shape[0] > 0 else { throw PluginError("\(qualifiedID): the weight must have at least one row") }
        try validate(context, rank: shape.count, batch: nil)
        let stats = try InputStatistics.operands(statistics, for: shape, flags: descriptor.flags, owner: qualifiedID)
        guard let groups = stats.compactMap({ $0?.shape.first }).first else {
            throw PluginError("\(qualifiedID): a scaler needs input statistics")
        }
        let scales = try Tensor.empty([groups, Self.inputChannels(ofWeight: shape)])
        let (views, optional) = try TensorViews.with([w, scales], optional: stats, method: qualifiedID)
        let state = CallState()
        state.inputShape = shape
        try withExtendedLifetime(views) {
            try invoke([.input("weight", views[0]), .output("scales", views[1])], params: params, state: state,
                       context: context, statistics: InputStatistics.arguments(optional), calibrationRows: statistics?.rows ?? 0)
        }
        let values = try scales.scalars(as: Float.self)
        if let bad = values.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
            throw PluginError("\(qualifiedID) wrote scale \(values[bad]) for input channel \(bad); every scale must be finite and > 0")
        }
        return ScalerResult(scales: scales, metrics: state.metrics)
    }
}

extension PluginMethod {
    /// [1.3] Fake-quantizes a layer's weight with a quantizer that reads the statistics of the
    /// layer's input (`needs-input-*`, e.g. a clipping search weighted by the input's mean
    /// square); a quantizer without such flags is called as `quantize(_:params:context:)`.
    public func quantize(weight: Tensor, statistics: InputStatistics?, params: BoundParams,
                         context: CallContext = CallContext(role: .weight, axis: 0)) throws -> (output: Tensor, qparams: QuantParams) {
        guard !descriptor.flags.isDisjoint(with: .inputStatistics) else { return try quantize(weight, params: params, context: context) }
        try requireKind(.quantizer)
        let w = try Self.float32(weight, role: "weight")
        guard w.rank >= 1, w.shape[0] > 0 else { throw PluginError("\(qualifiedID): the weight must have at least one row") }
        try validate(context, rank: w.rank, batch: nil)
        let stats = try InputStatistics.operands(statistics, for: w.shape, flags: descriptor.flags, owner: qualifiedID)
        let output = try Tensor.empty(w.shape)
        let (views, optional) = try TensorViews.with([w, output], optional: stats, method: qualifiedID)
        let state = CallState()
        state.inputShape = w.shape
        try withExtendedLifetime(views) {
            try invoke([.input("input", views[0]), .output("output", views[1])], params: params, state: state, context: context,
                       statistics: InputStatistics.arguments(optional), calibrationRows: statistics?.rows ?? 0)
        }
        guard let qparams = state.qparams else {
            throw PluginError("\(qualifiedID) did not report its quantization parameters (host->report_qparams)")
        }
        return (output, qparams)
    }
}
