import LathePlugins
import LatheTrain

/// What a quantization stage does. Codable with snake_case keys (sweep specs, metrics JSON).
///
/// Workflows (Krishnamoorthi 2018, arXiv:1806.08342):
/// - `ptq`: post-training quantization of the weights with the weight quantizer plugin; with
///   `activations = static`, activations are quantized too with ranges from calibration
///   batches, and with `dynamic` they are quantized per batch.
/// - `qat`: quantization-aware training: the plugin runs in the forward pass on every step, the
///   backward pass uses a (clipped) straight-through estimator, batch norm is folded into the
///   preceding convolution first; the trained weights are then quantized as in `ptq`.
public struct QuantConfig: Codable, Sendable, Equatable {
    public enum Workflow: String, Codable, Sendable, CaseIterable { case ptq, qat }
    public enum Activations: String, Codable, Sendable, CaseIterable { case none, `static`, dynamic }

    /// `plugin/method` of the weight quantizer.
    public var method: String = "uniform/symmetric"
    /// Its hyperparameters (validated against the plugin's declaration); absent ones take the plugin's defaults.
    public var params: [String: HyperValue] = [:]
    public var workflow: Workflow = .ptq
    public var activations: Activations = .none
    /// `plugin/method` of the activation quantizer (static: run once on calibration data).
    public var activationMethod: String = "uniform/affine"
    public var activationParams: [String: HyperValue] = ["bits": .int(8)]
    /// Per-layer value of the weight quantizer's `bits` parameter.
    public var layerBits: [String: Int] = [:]
    /// `bits` for the first and the last quantized layer (e.g. 8 while the rest use 4).
    public var firstLastBits: Int?
    /// Layers left in floating point.
    public var exclude: [String] = []
    /// Calibration batches (of the recipe's batch size) from the training set.
    public var calibrationBatches: Int = 8
    /// Fold batch norm into the preceding convolution before quantizing.
    public var foldBatchNorm: Bool = true
    /// QAT epochs and peak learning rate (cosine schedule).
    public var qatEpochs: Int = 2
    public var qatLearningRate: Double = 0.005
    /// Zero the straight-through gradient outside the quantizer's clipping range.
    public var clippedSTE: Bool = true
    /// Peak learning rate of the quantizers' learnable tensors (LSQ step sizes, PACT clips) in
    /// QAT, on the same schedule; nil: `qat_learning_rate`.
    public var learnableLearningRate: Double?
    /// Weight decay of the learnable tensors (0: none, as LSQ and PACT train their step sizes
    /// and clips; PACT's paper regularises α, set it here).
    public var learnableWeightDecay: Double = 0
    /// Also build real int8 layers on libtorch's quantized engines and measure them.
    public var realInt8: Bool = false
    /// Also quantize one layer at a time and tabulate the accuracy drop per layer.
    public var sensitivity: Bool = false
    /// Mixed precision: a size budget for the quantized layers (at most one of the three), met
    /// by per-layer `bits` from `mixedBits` chosen by an exact knapsack on `mixedSensitivity`.
    /// Effective bits per quantized weight, scales included.
    public var budgetBits: Double?
    /// The size of every layer at this uniform width (the same quantizer): "equal size".
    public var budgetUniformBits: Int?
    /// Bytes of the quantized layers, scales included.
    public var budgetBytes: Int?
    /// Candidate widths of mixed precision.
    public var mixedBits: [Int] = [2, 3, 4, 5, 6, 8]
    public var mixedSensitivity: MixedSensitivity = .loss

    /// Whether a budget asks for mixed precision.
    public var isMixed: Bool { budgetBits != nil || budgetUniformBits != nil || budgetBytes != nil }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, params, workflow, activations
        case activationMethod = "activation_method", activationParams = "activation_params"
        case layerBits = "layer_bits", firstLastBits = "first_last_bits", exclude
        case calibrationBatches = "calibration_batches", foldBatchNorm = "fold_batch_norm"
        case qatEpochs = "qat_epochs", qatLearningRate = "qat_learning_rate", clippedSTE = "clipped_ste"
        case learnableLearningRate = "learnable_lr", learnableWeightDecay = "learnable_weight_decay"
        case realInt8 = "real_int8", sensitivity
        case budgetBits = "budget_bits", budgetUniformBits = "budget_uniform_bits", budgetBytes = "budget_bytes"
        case mixedBits = "mixed_bits", mixedSensitivity = "mixed_sensitivity"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = QuantConfig()
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        params = try c.decodeIfPresent([String: HyperValue].self, forKey: .params) ?? d.params
        workflow = try c.decodeChoiceIfPresent(Workflow.self, forKey: .workflow) ?? d.workflow
        activations = try c.decodeChoiceIfPresent(Activations.self, forKey: .activations) ?? d.activations
        activationMethod = try c.decodeIfPresent(String.self, forKey: .activationMethod) ?? d.activationMethod
        activationParams = try c.decodeIfPresent([String: HyperValue].self, forKey: .activationParams) ?? d.activationParams
        layerBits = try c.decodeIfPresent([String: Int].self, forKey: .layerBits) ?? d.layerBits
        firstLastBits = try c.decodeIfPresent(Int.self, forKey: .firstLastBits)
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude
        calibrationBatches = try c.decodeIfPresent(Int.self, forKey: .calibrationBatches) ?? d.calibrationBatches
        foldBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .foldBatchNorm) ?? d.foldBatchNorm
        qatEpochs = try c.decodeIfPresent(Int.self, forKey: .qatEpochs) ?? d.qatEpochs
        qatLearningRate = try c.decodeIfPresent(Double.self, forKey: .qatLearningRate) ?? d.qatLearningRate
        clippedSTE = try c.decodeIfPresent(Bool.self, forKey: .clippedSTE) ?? d.clippedSTE
        learnableLearningRate = try c.decodeIfPresent(Double.self, forKey: .learnableLearningRate)
        learnableWeightDecay = try c.decodeIfPresent(Double.self, forKey: .learnableWeightDecay) ?? d.learnableWeightDecay
        realInt8 = try c.decodeIfPresent(Bool.self, forKey: .realInt8) ?? d.realInt8
        sensitivity = try c.decodeIfPresent(Bool.self, forKey: .sensitivity) ?? d.sensitivity
        budgetBits = try c.decodeIfPresent(Double.self, forKey: .budgetBits)
        budgetUniformBits = try c.decodeIfPresent(Int.self, forKey: .budgetUniformBits)
        budgetBytes = try c.decodeIfPresent(Int.self, forKey: .budgetBytes)
        mixedBits = try c.decodeIfPresent([Int].self, forKey: .mixedBits) ?? d.mixedBits
        mixedSensitivity = try c.decodeChoiceIfPresent(MixedSensitivity.self, forKey: .mixedSensitivity) ?? d.mixedSensitivity
    }

    /// Checks values that need no plugin (the plugins check their own parameters).
    public func validate() throws {
        let calibration = Self.key(.calibrationBatches)
        guard calibration.allows(calibrationBatches) else {
            throw QuantError("calibration_batches \(calibrationBatches): expected \(calibration.expected)")
        }
        let qat = Self.key(.qatEpochs)
        guard qat.allows(qatEpochs), workflow != .qat || qatEpochs >= 1 else {
            throw QuantError("qat_epochs \(qatEpochs): expected an integer in \(workflow == .qat ? 1 : 0)...\(Recipe.maxEpochs)")
        }
        let lr = Self.key(.qatLearningRate)
        guard lr.allows(qatLearningRate) else { throw QuantError("qat_learning_rate \(qatLearningRate): expected \(lr.expected)") }
        let learnableLR = Self.key(.learnableLearningRate)
        if let value = learnableLearningRate, !learnableLR.allows(value) {
            throw QuantError("learnable_lr \(value): expected \(learnableLR.expected)")
        }
        let decay = Self.key(.learnableWeightDecay)
        guard decay.allows(learnableWeightDecay) else {
            throw QuantError("learnable_weight_decay \(learnableWeightDecay): expected \(decay.expected)")
        }
        let bits = Self.key(.firstLastBits)
        if let b = firstLastBits, !bits.allows(b) { throw QuantError("first_last_bits \(b): expected \(bits.expected)") }
        for (layer, b) in layerBits.sorted(by: { $0.key < $1.key }) where !Self.key(.layerBits).allows(b) {
            throw QuantError("layer_bits.\(layer) = \(b): expected \(Self.key(.layerBits).expected)")
        }
        try validateMixed()
    }

    /// The mixed-precision keys: at most one budget, in range; not with fixed per-layer widths.
    private func validateMixed() throws {
        let budgets = [budgetBits.map { _ in "budget_bits" }, budgetUniformBits.map { _ in "budget_uniform_bits" },
                       budgetBytes.map { _ in "budget_bytes" }].compactMap { $0 }
        guard budgets.count <= 1 else { throw QuantError("\(budgets.joined(separator: " and ")): expected at most one budget") }
        if let b = budgetBits, !(b > 0 && b <= 32) { throw QuantError("budget_bits \(b): expected a number in (0, 32]") }
        if let b = budgetBytes, b <= 0 { throw QuantError("budget_bytes \(b): expected a positive integer") }
        let widths = Self.key(.layerBits)
        guard !mixedBits.isEmpty, mixedBits.count <= 16, Set(mixedBits).count == mixedBits.count,
              mixedBits.allSatisfy({ widths.allows($0) }) else {
            throw QuantError("mixed_bits \(mixedBits): expected 1 to 16 distinct integers in \(widths.expected)")
        }
        if let b = budgetUniformBits, !mixedBits.contains(b) {
            throw QuantError("budget_uniform_bits \(b): expected one of mixed_bits \(mixedBits)")
        }
        if isMixed, !layerBits.isEmpty || firstLastBits != nil {
            throw QuantError("\(budgets[0]) chooses every layer's bits: expected no layer_bits or first_last_bits with it")
        }
    }
}

/// A quantization failure with a message naming the key, layer or value.
public struct QuantError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
