import CLathePlugin
import LatheTensor

/// [1.3] What a factorizer returned for one layer, checked: W ≈ a·b at the reported rank.
public struct FactorizerResult: Sendable {
    /// `[out, rank]`
    public var a: Tensor
    /// `[rank, D]` (D: the weight's elements per output row)
    public var b: Tensor
    public var rank: Int
    /// What the factorizer reported with host->report_metric, in order (`rank` included).
    public var metrics: [(name: String, value: Double)]
}

extension PluginMethod {
    /// Calls a factorizer on `weight` (viewed as `[out, D]`) with the layer's input `statistics`
    /// (when it declares any), and checks what it returns: every element of both factors written
    /// and finite, and the metric `rank` reported once as an integer in 1...min(out, D). Returns
    /// the factors cut to that rank.
    public func factorize(weight: Tensor, statistics: InputStatistics?, params: BoundParams,
                          context: CallContext = CallContext(role: .weight, axis: 0)) throws -> FactorizerResult {
        try requireKind(.factorizer)
        let w = try Self.float32(weight, role: "weight")
        let shape = w.shape
        guard shape.count >= 1, shape[0] > 0 else { throw PluginError("\(qualifiedID): the weight must have at least one row") }
        try validate(context, rank: shape.count, batch: nil)
        let out = shape[0], d = shape.dropFirst().reduce(1, *), k = Swift.min(out, d)
        let stats = try InputStatistics.operands(statistics, for: shape, flags: descriptor.flags, owner: qualifiedID)
        let a = try Tensor.empty([out, k]), b = try Tensor.empty([k, d])
        let (views, optional) = try TensorViews.with([w, a, b], optional: stats, method: qualifiedID)
        let state = CallState()
        state.inputShape = shape
        try withExtendedLifetime(views) {
            try invoke([.input("weight", views[0]), .output("a", views[1]), .output("b", views[2])], params: params, state: state,
                       context: context, statistics: InputStatistics.arguments(optional), calibrationRows: statistics?.rows ?? 0)
        }
        let reported = state.metrics.filter { $0.name == "rank" }
        guard reported.count == 1, let value = reported.first?.value else {
            throw PluginError("\(qualifiedID) must report the rank it chose once (host->report_metric(call, \"rank\", r)); it reported it \(reported.count) times")
        }
        guard value == value.rounded(), value >= 1, value <= Double(k) else {
            throw PluginError("\(qualifiedID) reported rank \(value); expected an integer in 1...\(k) (min of \(out) rows and \(d) columns)")
        }
        let rank = Int(value)
        return FactorizerResult(a: try a.narrowed(1, start: 0, length: rank).contiguous(), b: try b.narrowed(0, start: 0, length: rank).contiguous(),
                                rank: rank, metrics: state.metrics)
    }
}
