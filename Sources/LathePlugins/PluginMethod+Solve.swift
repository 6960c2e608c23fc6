import CLathePlugin
import LatheTensor

/// [1.2] What a layer solver returned for one layer, checked.
public struct SolverResult: Sendable {
    /// W′, the weight's shape.
    public var weight: Tensor
    /// Pruning solvers: 1 where kept, 0 where pruned (the weight's shape); nil for quantizing ones.
    public var mask: Tensor?
    /// Quantizing solvers: the grid W′ lies on; nil for pruning ones.
    public var qparams: QuantParams?
    /// What the solver reported with host->report_metric, in order.
    public var metrics: [(name: String, value: Double)]
}

extension PluginMethod {
    /// Calls a layer solver on `weight` with the layer's input `statistics`, and checks what it
    /// returns before anything is handed back: every element of W′ (and of the mask) written and
    /// finite; a pruning solver's mask all 0 or 1 with W′ zero wherever it is 0; a quantizing
    /// solver's reported grid valid for the weight's shape (AFFINE or SYMMETRIC) with every
    /// element of W′ on it, to within 1e-5 of a step (plus the float rounding of W′ itself).
    public func solve(weight: Tensor, statistics: InputStatistics?, params: BoundParams,
                      context: CallContext = CallContext(role: .weight, axis: 0)) throws -> SolverResult {
        try requireKind(.solver)
        let w = try Self.float32(weight, role: "weight")
        let shape = w.shape
        guard shape.count >= 1, shape[0] > 0 else { throw PluginError("\(qualifiedID): the weight must have at least one row") }
        try validate(context, rank: shape.count, batch: nil)
        let flags = descriptor.flags
        let stats = try InputStatistics.operands(statistics, for: shape, flags: flags, owner: qualifiedID)
        let prunes = flags.contains(.solverPrunes)
        let newWeight = try Tensor.empty(shape)
        let mask: Tensor? = prunes ? try Tensor.empty(shape) : nil
        let (views, optional) = try TensorViews.with([w, newWeight], optional: [mask] + stats, method: qualifiedID)
        let state = CallState()
        state.inputShape = shape
        try withExtendedLifetime(views) {
            let maskArgument: CallArgument = optional[0].map { .output("mask", $0) } ?? .input("mask", nil)
            try invoke([.input("weight", views[0]), .output("new weight", views[1]), maskArgument], params: params, state: state,
                       context: context, statistics: InputStatistics.arguments(Array(optional[1...])), calibrationRows: statistics?.rows ?? 0)
        }
        if let mask { try Self.checkMask(mask, newWeight, owner: qualifiedID) }
        var qparams: QuantParams?
        if !prunes {
            guard let q = state.qparams else {
                throw PluginError("\(qualifiedID) is a quantizing solver but did not report W′'s grid (host->report_qparams)")
            }
            try Self.checkOnGrid(newWeight, q, owner: qualifiedID)
            qparams = q
        } else if state.qparams != nil {
            throw PluginError("\(qualifiedID) declares solver-prunes but reported quantization parameters")
        }
        return SolverResult(weight: newWeight, mask: mask, qparams: qparams, metrics: state.metrics)
    }

    /// A mask is all 0 or 1, and W′ is 0 wherever it is 0.
    static func checkMask(_ mask: Tensor, _ weight: Tensor, owner: String) throws {
        let m = try mask.scalars(as: Float.self), w = try weight.scalars(as: Float.self)
        if let bad = m.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw PluginError("\(owner) wrote mask value \(m[bad]) at element \(bad); a mask holds 0 (pruned) or 1 (kept)")
        }
        let leaks = zip(m, w).filter { $0.0 == 0 && $0.1 != 0 }.count
        if leaks > 0 {
            throw PluginError("\(owner) left \(leaks) pruned weight(s) nonzero in W′ (W′ must be 0 wherever the mask is 0)")
        }
    }

    /// Every element of `weight` is (q − z)·s on the reported grid, q an integer in [qmin, qmax].
    static func checkOnGrid(_ weight: Tensor, _ q: QuantParams, owner: String) throws {
        guard q.scheme == .affine || q.scheme == .symmetric, q.axis == 0 else {
            throw PluginError("\(owner) reported a \(q.scheme.rawValue) grid on axis \(q.axis); a quantizing solver reports an affine or symmetric one per row (axis 0) or per group of a row")
        }
        let shape = weight.shape
        let rows = shape[0], row = shape.dropFirst().reduce(1, *)
        let values = try weight.scalars(as: Float.self)
        let perRow = q.groupSize > 0 ? (row + q.groupSize - 1) / q.groupSize : 1
        for r in 0..<rows {
            for j in 0..<row {
                let index = q.groupSize > 0 ? r * perRow + j / q.groupSize : r
                let s = Double(q.scales[index]), z = Double(q.zeroPoints.isEmpty ? 0 : q.zeroPoints[index])
                let v = Double(values[r * row + j])
                let code = (v / s + z).rounded()
                // W′ is a float: (q − z)·s rounded to float32, so a few of v's own ulps too.
                guard code >= Double(q.qmin), code <= Double(q.qmax), abs(v - (code - z) * s) <= 1e-5 * s + 4 * Double(Float(v).ulp) else {
                    throw PluginError("\(owner): W′[\(r), \(j)] = \(v) is not on the reported grid (scale \(s), zero point \(Int(z)), codes \(q.qmin)...\(q.qmax))")
                }
            }
        }
    }
}
