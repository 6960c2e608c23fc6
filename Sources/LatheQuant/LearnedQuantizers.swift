import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// The final value of one learnable tensor of a quantizer (e.g. a layer's LSQ step sizes).
public struct LearnedValue: Codable, Sendable, Equatable {
    public var layer: String
    /// `weight` or `activation`.
    public var role: String
    public var name: String
    public var shape: [Int]
    public var mean: Double
    public var min: Double
    public var max: Double
    /// Every value, when there are at most `LearnedValue.listed`.
    public var values: [Double]?

    static let listed = 64
}

/// Quantizers that run as `MethodInstance`s: those with learnable tensors (LSQ, PACT) or their
/// own backward entry. One instance per quantized layer's weight and, for a learnable activation
/// quantizer, per quantized layer's input. The host owns the learnables: initialised by the
/// plugin from the first tensor each instance sees (the weight; the input of the first
/// calibration batch), trained in QAT with their own learning rate and weight decay, applied
/// when the weights are finally quantized and when the quantized model is evaluated.
public final class LearnedQuantizers: @unchecked Sendable {
    /// Weight instances by layer.
    public private(set) var weights: [String: MethodInstance] = [:]
    /// Activation (layer input) instances by layer.
    public private(set) var activations: [String: MethodInstance] = [:]

    /// Whether `method` runs as an instance (learnables or a backward entry).
    static func runsAsInstance(_ method: PluginMethod) -> Bool {
        !method.descriptor.learnables.isEmpty || method.descriptor.hasBackward
    }

    /// Whether `method` has learnable tensors.
    static func learns(_ method: PluginMethod) -> Bool { !method.descriptor.learnables.isEmpty }

    /// Instances for the weight quantizers and the activation quantizer that need them, with
    /// their learnables initialised; nil when none does.
    static func make(_ model: Model, weights quantizers: [LayerQuantizer], activation: LayerQuantizer?, config: QuantConfig,
                     train: ImageDataset, batchSize: Int) throws -> LearnedQuantizers?
    {
        let learned = LearnedQuantizers()
        for q in quantizers where runsAsInstance(q.method) {
            guard let layer = model.layer(named: q.layer), let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else {
                throw QuantError("layer '\(q.layer)' has no weight")
            }
            let instance = MethodInstance(method: q.method, params: q.params)
            try instance.initialize(input: try weight.detached().contiguous(), context: context(q.layer, .weight, position: nil))
            learned.weights[q.layer] = instance
        }
        if let activation, config.activations != .none, learns(activation.method) {
            guard config.activations == .static else {
                throw QuantError("activation_method '\(activation.method.qualifiedID)' learns its parameters, which are fixed after training: use activations = \"static\", not \"\(config.activations.rawValue)\"")
            }
            guard !config.realInt8 else {
                throw QuantError("real_int8 with the learnable activation quantizer '\(activation.method.qualifiedID)' is not supported yet (the int8 engines need output ranges it does not learn)")
            }
            let layers = Quantization.quantizableLayers(model).map(\.name).filter { !config.exclude.contains($0) }
            let inputs = try firstInputs(model, layers: layers, data: train, batchSize: batchSize)
            for name in layers {
                guard let x = inputs[name] else { continue }
                let instance = MethodInstance(method: activation.method, params: activation.params)
                try instance.initialize(input: x, context: context(name, .activation, position: nil))
                learned.activations[name] = instance
            }
        }
        return learned.weights.isEmpty && learned.activations.isEmpty ? nil : learned
    }

    /// Each layer's input on one training batch (the first, in order), as the layer sees it.
    private static func firstInputs(_ model: Model, layers: [String], data: ImageDataset, batchSize: Int) throws -> [String: Tensor] {
        final class Collector { var inputs: [String: Tensor] = [:] }
        let collector = Collector()
        let context = ForwardContext(training: false)
        for name in layers {
            context.inputTransforms[name] = { x in collector.inputs[name] = try x.detached().contiguous(); return x }
        }
        let indices = Array(0..<Swift.min(data.count, batchSize))
        try withNoGrad { _ = try model.forward(try data.batch(indices[...]).images, context) }
        return collector.inputs
    }

    /// Every learnable tensor (the QAT optimizer's second parameter group).
    public var parameters: [Tensor] {
        (weights.sorted { $0.key < $1.key } + activations.sorted { $0.key < $1.key }).flatMap { $0.value.learnables }
    }

    /// The call context of a layer's weight (axis 0) or input (per tensor).
    static func context(_ layer: String, _ role: TensorRole, position: TrainingPosition?) -> CallContext {
        var c = CallContext()
        c.layer = layer
        c.role = role
        c.axis = role == .weight ? 0 : -1
        if let position {
            c.step = position.step
            c.totalSteps = position.totalSteps
            c.epoch = position.epoch
            c.totalEpochs = position.totalEpochs
        }
        return c
    }

    /// The differentiable quantizer of `instance`: the plugin's forward as the value, its
    /// backward entry for the gradients of the input and of every learnable.
    static func transform(_ instance: MethodInstance, context: CallContext) -> (Tensor) throws -> Tensor {
        return { x in
            let input = try x.detached().contiguous()
            let (value, _) = try instance.quantize(input, context: context)
            return try Tensor.custom(value: value, inputs: [x] + instance.learnables) { upstream in
                let (gradInput, learnableGrads) = try instance.backward(input: input, gradOutput: upstream, context: context)
                return [gradInput] + learnableGrads
            }
        }
    }

    /// Installs the training transforms (weights and inputs) on a QAT step's context.
    func installTraining(_ context: ForwardContext) {
        for (layer, instance) in weights {
            context.weightTransforms[layer] = Self.transform(instance, context: Self.context(layer, .weight, position: context.position))
        }
        for (layer, instance) in activations {
            context.inputTransforms[layer] = Self.transform(instance, context: Self.context(layer, .activation, position: context.position))
        }
    }

    /// Installs the learned input quantization for evaluation (fixed learned parameters).
    func installEvaluation(_ context: ForwardContext) {
        for (layer, instance) in activations {
            let call = Self.context(layer, .activation, position: nil)
            context.inputTransforms[layer] = { x in try instance.quantize(try x.detached().contiguous(), context: call).output }
        }
    }

    /// Quantizes a layer's weight with its instance; nil when the layer has none.
    func quantizeWeight(layer: String, _ weight: Tensor) throws -> (output: Tensor, qparams: QuantParams)? {
        guard let instance = weights[layer] else { return nil }
        return try instance.quantize(try weight.detached().contiguous(), context: Self.context(layer, .weight, position: nil))
    }

    /// The parameters each activation instance reports on its layer's calibration input (the
    /// static ranges of a learned activation quantizer).
    func activationParams(_ model: Model, data: ImageDataset, batchSize: Int) throws -> [String: QuantParams] {
        let inputs = try Self.firstInputs(model, layers: activations.keys.sorted(), data: data, batchSize: batchSize)
        var out: [String: QuantParams] = [:]
        for (layer, instance) in activations {
            guard let x = inputs[layer] else { continue }
            out[layer] = try instance.quantize(x, context: Self.context(layer, .activation, position: nil)).qparams
        }
        return out
    }

    /// The final learnable values, for the ledger.
    func values() throws -> [LearnedValue] {
        var out: [LearnedValue] = []
        for (role, instances) in [("weight", weights), ("activation", activations)] {
            for (layer, instance) in instances.sorted(by: { $0.key < $1.key }) {
                for (name, tensor) in zip(instance.learnableNames, instance.learnables) {
                    let v = try tensor.detached().converted(to: .float64).contiguous().scalars(as: Double.self)
                    out.append(LearnedValue(layer: layer, role: role, name: name, shape: tensor.shape,
                                            mean: v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count), min: v.min() ?? 0, max: v.max() ?? 0,
                                            values: v.count <= LearnedValue.listed ? v : nil))
                }
            }
        }
        return out
    }

    /// The learnables and state buffers as named tensors for a checkpoint's `extra/` section:
    /// `quant.LAYER.weight.NAME`, `quant.LAYER.activation.NAME`, `….state` (uint8 bytes).
    func checkpointTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (role, instances) in [("weight", weights), ("activation", activations)] {
            for (layer, instance) in instances {
                for (name, tensor) in zip(instance.learnableNames, instance.learnables) {
                    out["quant.\(layer).\(role).\(name)"] = try tensor.detached()
                }
                if let bytes = instance.stateBytes {
                    out["quant.\(layer).\(role).state"] = try Tensor(bytes: bytes, shape: [bytes.count], dtype: .uint8)
                }
            }
        }
        return out
    }
}
