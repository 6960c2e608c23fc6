import CLathePlugin
import LatheTensor

/// [1.2] Calibration statistics of one layer's input, as a criterion that declares
/// `needs-input-*` receives them in `lathe_call.input_*` (the header's "Calibration statistics").
///
/// With the weight viewed as a matrix `[out, D]`, feature j is what column j multiplies: an
/// input feature of a linear layer, or an unfolded (im2col) input element (channel, kernel row,
/// kernel column) of a conv. A grouped conv has one row of statistics per group, so `G` is the
/// layer's group count (1 for linear layers and ordinary convs).
public struct InputStatistics: Sendable {
    /// `[G, D]`: max |x_j| over the calibration rows.
    public var absMax: Tensor?
    /// `[G, D]`: Σ x_j² / n.
    public var meanSquare: Tensor?
    /// `[G, D, D]`: XᵀX / n.
    public var gram: Tensor?
    /// [1.3] `[G, D]`: Σ |x_j| / n.
    public var absMean: Tensor?
    /// n: the rows (input vectors, or output positions of a conv) the statistics cover.
    public var rows: Int

    public init(absMax: Tensor? = nil, meanSquare: Tensor? = nil, gram: Tensor? = nil, absMean: Tensor? = nil, rows: Int) {
        self.absMax = absMax
        self.meanSquare = meanSquare
        self.gram = gram
        self.absMean = absMean
        self.rows = rows
    }

    /// Which statistics a method's flags ask for.
    public static func needed(by flags: MethodFlags) -> (absMax: Bool, meanSquare: Bool, gram: Bool, absMean: Bool) {
        (flags.contains(.needsInputAbsMax), flags.contains(.needsInputMeanSquare), flags.contains(.needsInputGram),
         flags.contains(.needsInputAbsMean))
    }

    /// `statistics`' operands for a method declaring `flags` (`operands(for:flags:owner:)`), or
    /// four nils when it declares none; an error when it declares some and none were given.
    static func operands(_ statistics: InputStatistics?, for weightShape: [Int], flags: MethodFlags, owner: String) throws -> [Tensor?] {
        guard !flags.isDisjoint(with: .inputStatistics) else { return [nil, nil, nil, nil] }
        guard let statistics else {
            throw PluginError("\(owner) declares \(flags.intersection(.inputStatistics).names.joined(separator: ", ")) but no calibration statistics were given")
        }
        return try statistics.operands(for: weightShape, flags: flags, owner: owner)
    }

    /// The call's statistics arguments (`lathe_call.input_*`) for the views of `operands`.
    static func arguments(_ views: [UnsafeMutablePointer<DLTensor>?]) -> [CallArgument] {
        zip(["input abs-max", "input mean square", "input Gram matrix", "input abs-mean"], views).map { .input($0, $1) }
    }

    /// The statistics a method declaring `flags` gets for a weight of shape `weightShape`, as
    /// contiguous float32 tensors in the order abs-max, mean square, Gram, abs-mean (nil where not declared),
    /// after checking that each one it needs is there with the shape the header promises.
    func operands(for weightShape: [Int], flags: MethodFlags, owner: String) throws -> [Tensor?] {
        let need = Self.needed(by: flags)
        guard need.absMax || need.meanSquare || need.gram || need.absMean else { return [nil, nil, nil, nil] }
        guard let out = weightShape.first, out > 0 else {
            throw PluginError("\(owner): a weight of shape \(weightShape) has no output rows to take input statistics for")
        }
        let d = weightShape.dropFirst().reduce(1, *)
        guard rows > 0 else {
            throw PluginError("\(owner) needs calibration statistics of the layer's input, but they cover 0 rows")
        }
        func operand(_ tensor: Tensor?, _ wanted: Bool, _ name: String, gram: Bool) throws -> Tensor? {
            guard wanted else { return nil }
            guard let tensor else {
                throw PluginError("\(owner) declares needs-input-\(name) but no input \(name) statistics were given")
            }
            let shape = tensor.shape
            let groups = shape.first ?? 0
            let expected = gram ? [groups, d, d] : [groups, d]
            guard groups > 0, out % groups == 0, shape == expected else {
                throw PluginError("\(owner): input \(name) statistics of shape \(shape) do not fit a weight of shape \(weightShape); expected \(gram ? "[G, \(d), \(d)]" : "[G, \(d)]") with G dividing \(out)")
            }
            return try PluginMethod.float32(tensor, role: "input \(name)")
        }
        let operands = [try operand(absMax, need.absMax, "abs-max", gram: false),
                        try operand(meanSquare, need.meanSquare, "mean-square", gram: false),
                        try operand(gram, need.gram, "gram", gram: true),
                        try operand(absMean, need.absMean, "abs-mean", gram: false)]
        let groups = Set(operands.compactMap { $0?.shape[0] })
        guard groups.count <= 1 else {
            throw PluginError("\(owner): the input statistics disagree on the group count (\(groups.sorted()))")
        }
        return operands
    }
}
