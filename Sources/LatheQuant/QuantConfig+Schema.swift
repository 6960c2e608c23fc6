import LatheTrain

extension QuantConfig {
    /// Bit widths of `first_last_bits` and `layer_bits`.
    static let bitWidths = 1...16

    /// The keys of a quantization stage, with the defaults of `QuantConfig()` and the ranges
    /// `validate()` checks.
    public static let schema = ConfigSchema(
        title: "Stage `quantize`",
        doc: """
            Quantization of the weights (and optionally the activations) with a quantizer plugin: `ptq` quantizes \
            the trained weights, `qat` trains with the quantizer in the forward pass first (batch norm folded, \
            straight-through gradient).
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        let d = QuantConfig()
        let name = key.stringValue
        return switch key {
        case .method:
            .init(name, "string", default: .value("\"\(d.method)\""), allowed: .text("PLUGIN/METHOD of a quantizer in the registry"),
                  example: "\"lowbit/kmeans\"", doc: "The weight quantizer (`lathe plugins list` shows them).")
        case .params:
            .init(name, "table", default: .note("the method's defaults"), allowed: .text("the method's declared parameters"),
                  example: "{ bits = 4, per_channel = true }", doc: "The quantizer's hyperparameters, checked against its declaration.")
        case .workflow:
            .init(name, "string", default: .value("\"\(d.workflow.rawValue)\""), allowed: .choices(of: Workflow.self), example: "\"qat\"",
                  doc: "Post-training quantization, or quantization-aware training followed by it.")
        case .activations:
            .init(name, "string", default: .value("\"\(d.activations.rawValue)\""), allowed: .choices(of: Activations.self), example: "\"static\"",
                  doc: "Activation quantization: none, static (ranges from calibration batches) or dynamic (per batch).")
        case .activationMethod:
            .init(name, "string", default: .value("\"\(d.activationMethod)\""), allowed: .text("PLUGIN/METHOD of a quantizer in the registry"),
                  example: "\"uniform/symmetric\"", doc: "The activation quantizer.")
        case .activationParams:
            .init(name, "table", default: .value("{ bits = 8 }"), allowed: .text("the activation method's declared parameters"),
                  example: "{ bits = 8, range = \"percentile\" }", doc: "The activation quantizer's hyperparameters.")
        case .layerBits:
            .init(name, "table of integers", default: .value("{}"), allowed: .integers(bitWidths), example: "{ fc1 = 4 }",
                  doc: "Per-layer value of the weight quantizer's `bits` parameter.")
        case .firstLastBits:
            .init(name, "integer", default: .note("none (`params.bits`)"), allowed: .integers(bitWidths), example: "8",
                  doc: "`bits` of the first and the last quantized layer.")
        case .exclude:
            .init(name, "array of strings", default: .value("[]"), allowed: .text("layer names"), example: "[\"fc3\"]",
                  doc: "Layers left in floating point.")
        case .calibrationBatches:
            .init(name, "integer", default: .value("\(d.calibrationBatches)"), allowed: .integers(1...100_000), example: "16",
                  doc: "Training batches that calibrate static activation ranges.")
        case .foldBatchNorm:
            .init(name, "bool", default: .value("\(d.foldBatchNorm)"), example: "false", doc: "Fold batch norm into the preceding convolution first.")
        case .qatEpochs:
            .init(name, "integer", default: .value("\(d.qatEpochs)"), allowed: .integers(0...Recipe.maxEpochs), example: "1",
                  doc: "QAT epochs (at least 1 with `workflow = \"qat\"`).")
        case .qatLearningRate:
            .init(name, "number", default: .value(ConfigSchema.Key.toml(d.qatLearningRate)), allowed: .numbers(.positive), example: "0.001",
                  doc: "QAT peak learning rate (cosine schedule).")
        case .clippedSTE:
            .init(name, "bool", default: .value("\(d.clippedSTE)"), example: "false",
                  doc: "Zero the straight-through gradient outside the quantizer's clipping range.")
        case .learnableLearningRate:
            .init(name, "number", default: .note("`qat_learning_rate`"), allowed: .numbers(.positive), example: "0.01",
                  doc: "QAT peak learning rate of the quantizers' learnable tensors (LSQ step sizes, PACT clips), same schedule.")
        case .learnableWeightDecay:
            .init(name, "number", default: .value(ConfigSchema.Key.toml(d.learnableWeightDecay)), allowed: .numbers(.nonNegative), example: "0.0001",
                  doc: "Weight decay of the quantizers' learnable tensors.")
        case .realInt8:
            .init(name, "bool", default: .value("\(d.realInt8)"), example: "true",
                  doc: "Also build real int8 layers on libtorch's quantized engines and measure them.")
        case .sensitivity:
            .init(name, "bool", default: .value("\(d.sensitivity)"), example: "true",
                  doc: "Also quantize one layer at a time and tabulate each layer's accuracy drop.")
        case .budgetBits:
            .init(name, "number", default: .note("none: no mixed precision"), allowed: .text("(0, 32]"), example: "3.5",
                  doc: "Mixed precision: effective bits per quantized weight (scales included) the chosen per-layer widths may use.")
        case .budgetUniformBits:
            .init(name, "integer", default: .note("none"), allowed: .text("one of `mixed_bits`"), example: "3",
                  doc: "Mixed precision at the size of every layer at this width with the same quantizer (equal size to uniform).")
        case .budgetBytes:
            .init(name, "integer", default: .note("none"), allowed: .text("a positive integer"), example: "65536",
                  doc: "Mixed precision: bytes of the quantized layers (scales included).")
        case .mixedBits:
            .init(name, "array of integers", default: .value("\(d.mixedBits)"), allowed: .text("1 to 16 distinct widths in 1...16"),
                  example: "[2, 3, 4, 8]", doc: "Candidate per-layer widths of mixed precision (the weight quantizer's `bits`).")
        case .mixedSensitivity:
            .init(name, "string", default: .value("\"\(d.mixedSensitivity.rawValue)\""), allowed: .choices(of: MixedSensitivity.self),
                  example: "\"hessian-trace\"",
                  doc: "Per-layer cost of a width: `loss` (cross-entropy increase on the calibration batches with that layer alone quantized) or `hessian-trace` (HAWQ-v2: mean input square × ‖Q(W) − W‖²). An exact knapsack minimises the sum within the budget.")
        }
    }
}
