import LatheModels
import LathePlugins
import LatheTensor

/// A model executed with real integer arithmetic on one of libtorch's quantized engines.
///
/// Every conv and linear layer runs as a prepacked `quantized::conv2d` / `quantized::linear`:
/// its float input is quantized to quint8 with the calibrated input parameters, the int8
/// kernel produces quint8 with the calibrated output parameters, and the result is
/// dequantized for the float layers that follow (ReLU, pooling, flatten). The fake-quantized
/// model with the same parameters is its simulation (`QuantizationStage`, static activations).
///
/// Where the engine's kernels would saturate on full-range codes on this CPU (x86 without
/// VNNI: `QuantizedEngine.activationQMax()`), each layer's calibrated input range is spread
/// over 7-bit codes [0, 127] instead of [0, 255], as PyTorch's `reduce_range` does.
///
/// Supports flat sequential models (mlp, lenet5, convnet); models with residual blocks or
/// batch norm are refused with a message.
public final class Int8Model {
    enum Step {
        /// `scale`: the layer's explicit input scale (channel scaling), applied in float before
        /// the input is quantized, as the fake-quantized model does.
        case linear(PackedWeights, input: QuantParams, output: QuantParams, scale: Tensor?)
        case conv(PackedWeights, input: QuantParams, output: QuantParams, scale: Tensor?)
        case float(any Layer)
    }

    /// The engine the weights were packed for.
    public let engine: QuantizedEngine
    /// The largest activation code fed to the integer kernels: 255, or 127 where 255 would
    /// saturate (`QuantizedEngine.activationQMax()`).
    public let activationQMax: Int
    /// Bits of the activation codes fed to the integer kernels: 8, or 7 where 8 would saturate.
    public var activationBits: Int { activationQMax == 255 ? 8 : 7 }
    private let steps: [Step]

    /// Packs `model`'s weights (already on the 8-bit symmetric grids `weights` reported) for
    /// `engine`, with calibrated activation parameters for each layer's input and output.
    public init(_ model: Model, engine: QuantizedEngine, weights: [String: QuantParams],
                inputs: [String: QuantParams], outputs: [String: QuantParams]) throws {
        try engine.activate()
        self.engine = engine
        let qmax = try engine.activationQMax()
        activationQMax = qmax
        var steps: [Step] = []
        for layer in model.root.layers {
            switch layer {
            case let linear as Linear:
                let (w, i, o) = try Self.parameters(linear.name, weights, inputs, outputs)
                let packed = try PackedWeights.linear(weight: try Self.integerWeight(linear.weight, w, linear.name), bias: try linear.bias?.detached())
                steps.append(.linear(packed, input: Self.activationParams(i, qmax: qmax), output: o, scale: try linear.inputScale?.detached()))
            case let conv as Conv2d:
                let (w, i, o) = try Self.parameters(conv.name, weights, inputs, outputs)
                let packed = try PackedWeights.conv2d(weight: try Self.integerWeight(conv.weight, w, conv.name), bias: try conv.bias?.detached(),
                                                      stride: conv.stride, padding: conv.padding, groups: conv.groups)
                steps.append(.conv(packed, input: Self.activationParams(i, qmax: qmax), output: o,
                                   scale: try conv.inputScale.map { try $0.detached().reshaped([1, $0.count, 1, 1]) }))
            case let stateless as Stateless:
                steps.append(.float(stateless))
            default:
                throw QuantError("real int8 execution supports flat sequential models of conv, linear, activation and pooling layers (mlp, lenet5, convnet); \(model.architecture) has '\(layer.name)' (\(type(of: layer)))")
            }
        }
        self.steps = steps
    }

    private static func parameters(_ name: String, _ w: [String: QuantParams], _ i: [String: QuantParams], _ o: [String: QuantParams])
        throws -> (QuantParams, QuantParams, QuantParams)
    {
        guard let wq = w[name] else { throw QuantError("real int8: layer '\(name)' has no quantized weight (excluded layers cannot run in int8)") }
        guard let iq = i[name], let oq = o[name] else { throw QuantError("real int8: layer '\(name)' has no calibrated activation range") }
        for (what, q) in [("input", iq), ("output", oq)] where !(q.qmin == 0 && q.qmax == 255 && q.scales.count == 1) {
            throw QuantError("real int8: layer '\(name)' \(what) activations must be 8-bit affine per tensor (quint8); got \(q.scheme.rawValue) \(q.bits)-bit [\(q.qmin), \(q.qmax)]")
        }
        return (wq, iq, oq)
    }

    /// The float range that per-tensor affine `q` calibrated, spread over codes [0, `qmax`]
    /// (unchanged when `q` already ends at `qmax`). The simulation of a 7-bit engine uses the
    /// same parameters (`QuantizationStage`).
    public static func activationParams(_ q: QuantParams, qmax: Int) -> QuantParams {
        guard qmax != q.qmax, let first = q.scales.first else { return q }
        let scale = Double(first), zero = Int(q.zeroPoints.first ?? 0)
        let low = Double(q.qmin - zero) * scale, high = Double(q.qmax - zero) * scale
        let reduced = (high - low) / Double(qmax)
        let reducedZero = Swift.min(Swift.max(Int((-low / reduced).rounded()), 0), qmax)
        var params = q
        params.bits = qmax == 127 ? 7 : q.bits
        params.qmin = 0
        params.qmax = qmax
        params.scales = [Float(reduced)]
        params.zeroPoints = [Int32(reducedZero)]
        return params
    }

    /// The qint8 weight from a fake-quantized one and its reported 8-bit symmetric parameters.
    private static func integerWeight(_ weight: Tensor, _ q: QuantParams, _ name: String) throws -> Tensor {
        guard q.scheme == .symmetric, q.bits == 8, q.qmin >= -128, q.qmax <= 127, q.zeroPoints.allSatisfy({ $0 == 0 }), q.groupSize == 0 else {
            let layout = q.groupSize > 0 ? " in groups of \(q.groupSize)" : ""
            throw QuantError("real int8: layer '\(name)' weights must be 8-bit symmetric per tensor or per channel (e.g. uniform/symmetric bits=8); got \(q.scheme.rawValue) \(q.bits)-bit\(layout)")
        }
        let w = try weight.detached().contiguous()
        if q.axis == -1 {
            return try w.quantized(scale: Double(q.scales[0]), zeroPoint: 0, dtype: .qint8)
        }
        let scales = try Tensor(q.scales.map(Double.init), shape: [q.scales.count])
        let zeros = try Tensor([Int64](repeating: 0, count: q.scales.count), shape: [q.scales.count])
        return try w.quantized(scales: scales, zeroPoints: zeros, axis: q.axis, dtype: .qint8)
    }

    /// Logits for a float NCHW batch.
    public func forward(_ input: Tensor) throws -> Tensor {
        let context = ForwardContext(training: false)
        var x = input
        for step in steps {
            switch step {
            case let .linear(packed, i, o, scale):
                if let scale { x = try x * scale }
                let xq = try x.quantized(scale: Double(i.scales[0]), zeroPoint: Int(i.zeroPoints.first ?? 0), dtype: .quint8)
                x = try xq.quantizedLinear(packed, scale: Double(o.scales[0]), zeroPoint: Int(o.zeroPoints.first ?? 0)).dequantized()
            case let .conv(packed, i, o, scale):
                if let scale { x = try x * scale }
                let xq = try x.quantized(scale: Double(i.scales[0]), zeroPoint: Int(i.zeroPoints.first ?? 0), dtype: .quint8)
                x = try xq.quantizedConv2d(packed, scale: Double(o.scales[0]), zeroPoint: Int(o.zeroPoints.first ?? 0)).dequantized()
            case let .float(layer):
                x = try layer.forward(x, context)
            }
        }
        return x
    }
}
