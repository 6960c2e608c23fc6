import Foundation
import LatheModels
import LathePlugins
import LatheQuant
import LatheTensor

/// Why a checkpoint has no QDQ export: names the checkpoint and layer and says what is supported.
public struct QDQExportError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// `lathe export --qdq`: a quantized checkpoint's record (`lathe.qparams`) as the QDQ layers of
/// its ONNX export, and the simulated model the export must reproduce.
public struct QDQExportPlan {
    /// The activation code widths `--activation-bits` chooses between.
    public enum ActivationBits: String, CaseIterable, Sendable {
        case auto, seven = "7", eight = "8"
    }

    /// The layers to export in QDQ form.
    public var layers: [String: QDQLayer]
    /// The record they come from.
    public var record: CheckpointQuantization
    /// The largest input activation code: 255, or 127 (7-bit codes).
    public var inputQMax: Int
    /// Why `inputQMax` is what it is, in words.
    public var reason: String

    /// Whether activations are quantized (else only the weights are stored as int8).
    public var quantizesActivations: Bool { record.hasStaticActivations }

    /// The plan for the checkpoint at `path` with `metadata`.
    /// - Throws: `ValidationError` naming the checkpoint and layer when the checkpoint has no
    ///   quantization record, or its weights or activations are not what QDQ int8 export supports.
    public init(checkpoint path: String, metadata: [String: String], activationBits: ActivationBits) throws {
        let found: CheckpointQuantization?
        do {
            found = try CheckpointQuantization.read(metadata: metadata, source: path)
        } catch let error as CheckpointQuantizationError {
            throw QDQExportError(error.description)
        }
        guard let record = found else {
            throw QDQExportError("--qdq: checkpoint '\(path)' has no quantization record (metadata '\(CheckpointQuantization.metadataKey)'): export a checkpoint written by `lathe quantize` (or a sweep's quantize stage), e.g. `lathe quantize --param bits=8 --param per_channel=true --activations static`, or export without --qdq")
        }
        guard !record.layers.isEmpty else { throw QDQExportError("--qdq: checkpoint '\(path)' records no quantized layer") }
        guard record.activations != QuantConfig.Activations.dynamic.rawValue else {
            throw QDQExportError("--qdq: checkpoint '\(path)' quantizes activations dynamically (per batch); QDQ export needs static (calibrated) activations (`lathe quantize --activations static`) or none (weight-only int8)")
        }
        let statics = record.activations == QuantConfig.Activations.static.rawValue
        switch activationBits {
        case .auto: (inputQMax, reason) = QDQActivation.runtimeInputQMax()
        case .seven: (inputQMax, reason) = (127, "7-bit activation codes (--activation-bits 7)")
        case .eight: (inputQMax, reason) = (255, "8-bit activation codes (--activation-bits 8)")
        }
        var layers: [String: QDQLayer] = [:]
        for layer in record.layers {
            let w = layer.weight
            guard w.scheme == .symmetric, (2...8).contains(w.bits), w.elementFormat == .int, w.zeroPoints.allSatisfy({ $0 == 0 }),
                  w.qmin >= -(1 << (w.bits - 1)), w.qmax < 1 << (w.bits - 1), !w.scales.isEmpty else
            {
                let layout = w.groupSize > 0 ? " in groups of \(w.groupSize)" : w.axis < 0 ? " per tensor" : " per channel"
                let element = w.elementFormat == .int ? "\(w.bits)-bit" : w.elementFormat.rawValue
                throw QDQExportError("--qdq: layer '\(layer.name)' of '\(path)' has \(w.scheme.rawValue) \(element) weights\(layout); QDQ export supports symmetric integer weights of 2 to 8 bits (zero points 0) per tensor, per output channel or in groups along the rows: 8-bit as int8 (opset 17, e.g. uniform/symmetric bits=8 per_channel=true), up to 4 bits as int4 (opset 21, e.g. formats/int_group). Export without --qdq for a float model of the dequantized weights (the quantization record goes to its metadata_props)")
            }
            guard w.axis == -1 || w.axis == 0 else {
                throw QDQExportError("--qdq: layer '\(layer.name)' of '\(path)' has per-channel weight scales along axis \(w.axis); QDQ export supports axis 0 (output channels)")
            }
            var q = QDQLayer(weight: QDQWeight(scales: w.scales, qmin: w.qmin, qmax: w.qmax, bits: w.bits, groupSize: w.groupSize))
            if statics {
                guard let input = layer.input, let output = layer.output else {
                    throw QDQExportError("--qdq: layer '\(layer.name)' of '\(path)' has no calibrated \(layer.input == nil ? "input" : "output") range (learned activation quantizers record only input step sizes); QDQ export needs static input and output ranges for every quantized layer")
                }
                q.input = try Self.activation(CheckpointQuantization.inputParams(input, inputQMax: inputQMax), layer: layer.name, role: "input", path: path)
                q.output = try Self.activation(output, layer: layer.name, role: "output", path: path)
            }
            layers[layer.name] = q
        }
        self.layers = layers
        self.record = record
    }

    private static func activation(_ q: QuantParams, layer: String, role: String, path: String) throws -> QDQActivation {
        guard q.scheme == .affine || q.scheme == .symmetric, q.qmin == 0, q.qmax <= 255, q.scales.count == 1,
              let scale = q.scales.first, scale.isFinite, scale > 0 else
        {
            throw QDQExportError("--qdq: layer '\(layer)' of '\(path)' has \(role) activations \(q.scheme.rawValue) \(q.bits)-bit [\(q.qmin), \(q.qmax)] with \(q.scales.count) scales; QDQ export supports per-tensor affine uint8 codes (uniform/affine bits=8)")
        }
        return QDQActivation(scale: scale, zeroPoint: Int(q.zeroPoints.first ?? 0), qmax: q.qmax)
    }

    /// What goes to `metadata_props` beside the record: the form of the export.
    public var metadata: [String: String] {
        let forms = Set(layers.values.map { q in
            let w = q.weight
            let layout = w.groupSize > 0 ? "in groups of \(w.groupSize) (blocked DequantizeLinear)" : w.scales.count > 1 ? "per output channel (DequantizeLinear axis 0)" : "per tensor"
            return "\(w.isInt4 ? "int4" : "int8") symmetric weights \(layout)\(w.bits != 8 && w.bits != 4 ? " holding \(w.bits)-bit codes" : "")"
        }).sorted()
        let activations = quantizesActivations
            ? "uint8 per-tensor activations on each quantized layer's input (codes 0...\(inputQMax)) and output (codes 0...255)"
            : "float activations (weight-only)"
        return ["lathe.qdq": "\(forms.joined(separator: ", ")); \(activations); \(reason)"]
    }

    /// The logits of Lathe's simulation of what the export computes: `model` (its weights
    /// already quantized) with the recorded activation quantization at the exported code widths.
    public func simulatedLogits(_ model: Model, images: [Float], shape: [Int]) throws -> Tensor {
        let context = try record.simulationContext(inputQMax: inputQMax)
        let sample = shape.dropFirst().reduce(1, *), count = shape.first ?? 0
        return try withNoGrad {
            try Tensor.cat(try stride(from: 0, to: count, by: 1000).map { start in
                let n = min(1000, count - start)
                let batch = try Tensor(Array(images[(start * sample)..<((start + n) * sample)]), shape: [n] + shape.dropFirst())
                return try model.forward(batch, context)
            }, dim: 0)
        }
    }
}
