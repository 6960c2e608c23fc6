import Foundation
import LatheModels
import LathePlugins
import LatheTensor

/// Why a checkpoint's quantization record could not be read: names the checkpoint, the
/// metadata key and what was wrong with its value.
public struct CheckpointQuantizationError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// What a quantized checkpoint records of its quantization, in its metadata under
/// ``metadataKey`` as JSON: each quantized layer's weight parameters (as its quantizer reported
/// them) and, with static activations, the calibrated parameters of the layer's input and output.
///
/// With it, the fake-quantized model a checkpoint stores can be rebuilt exactly as
/// `lathe quantize` evaluated it (``simulationContext(inputQMax:)``), and exported with integer
/// weights and quantize/dequantize pairs (`lathe export --qdq`).
///
/// Versioned: ``version`` is ``currentVersion`` when written; a reader refuses versions it does
/// not know rather than misreading them.
public struct CheckpointQuantization: Codable, Sendable, Equatable {
    /// The checkpoint metadata key holding the JSON.
    public static let metadataKey = "lathe.qparams"
    /// The version this build writes and reads.
    public static let currentVersion = 1

    /// One quantized conv or linear layer.
    public struct Layer: Codable, Sendable, Equatable {
        /// The layer's full name (`conv1`, `features.0`).
        public var name: String
        /// `conv2d` or `linear`.
        public var kind: String
        /// The weight's parameters: the stored weight is already on this grid (fake-quantized).
        public var weight: QuantParams
        /// The calibrated parameters of the layer's input (after any explicit input scale), or
        /// nil when activations are not statically quantized.
        public var input: QuantParams?
        /// The calibrated parameters of the layer's output (before the activation function).
        public var output: QuantParams?

        public init(name: String, kind: String, weight: QuantParams, input: QuantParams?, output: QuantParams?) {
            self.name = name
            self.kind = kind
            self.weight = weight
            self.input = input
            self.output = output
        }
    }

    public var version: Int
    /// `QuantConfig.Activations` raw value the model was evaluated with: `none`, `static` or `dynamic`.
    public var activations: String
    /// The weight quantizer, PLUGIN/METHOD.
    public var method: String
    /// The quantized layers in forward order.
    public var layers: [Layer]

    public init(activations: String, method: String, layers: [Layer]) {
        version = Self.currentVersion
        self.activations = activations
        self.method = method
        self.layers = layers
    }

    /// The JSON string stored under ``metadataKey`` (keys sorted, so equal records are equal text).
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The record in a checkpoint's `metadata`, or nil when it has none (a checkpoint that is
    /// not quantized, or written before the record existed). `source` names the checkpoint in errors.
    /// - Throws: ``CheckpointQuantizationError`` when the value is not a record of a known version.
    public static func read(metadata: [String: String], source: String) throws -> CheckpointQuantization? {
        guard let text = metadata[metadataKey] else { return nil }
        struct Header: Decodable { var version: Int }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(text.utf8))
        } catch {
            throw CheckpointQuantizationError("\(source): metadata '\(metadataKey)' is not a quantization record (JSON with a 'version'): \(text.prefix(120))")
        }
        guard header.version == currentVersion else {
            throw CheckpointQuantizationError("\(source): metadata '\(metadataKey)' has version \(header.version); this build reads version \(currentVersion)")
        }
        do {
            return try JSONDecoder().decode(CheckpointQuantization.self, from: Data(text.utf8))
        } catch {
            throw CheckpointQuantizationError("\(source): metadata '\(metadataKey)' (version \(currentVersion)) does not decode: \(error)")
        }
    }

    /// Whether every layer has static input and output parameters (the model quantizes its
    /// activations with fixed ranges, as integer kernels need).
    public var hasStaticActivations: Bool {
        activations == QuantConfig.Activations.static.rawValue && !layers.isEmpty && layers.allSatisfy { $0.input != nil && $0.output != nil }
    }

    /// The input parameters fed to integer kernels whose largest activation code is `inputQMax`
    /// (255, or 127 where the kernels would saturate: `Int8Model.activationParams`).
    public static func inputParams(_ q: QuantParams, inputQMax: Int) -> QuantParams {
        Int8Model.activationParams(q, qmax: inputQMax)
    }

    /// An evaluation context that computes what `lathe quantize` evaluated: the stored weights
    /// are already quantized; each layer's input and output are fake-quantized with the recorded
    /// static parameters, the inputs spread over codes [0, `inputQMax`] (127: the 7-bit codes of
    /// kernels that would saturate on 8-bit ones; 255: as calibrated).
    /// - Throws: ``CheckpointQuantizationError`` when activations are not static.
    public func simulationContext(inputQMax: Int = 255) throws -> ForwardContext {
        let context = ForwardContext(training: false)
        guard activations != QuantConfig.Activations.dynamic.rawValue else {
            throw CheckpointQuantizationError("the model quantizes its activations dynamically (per batch); only static (calibrated) activations have fixed parameters to simulate")
        }
        for layer in layers {
            if let input = layer.input {
                let q = Self.inputParams(input, inputQMax: inputQMax)
                context.inputTransforms[layer.name] = { try Quantization.fakeQuantize($0, q) }
            }
            if let output = layer.output {
                context.outputTransforms[layer.name] = { try Quantization.fakeQuantize($0, output) }
            }
        }
        return context
    }
}

extension QuantizedModel {
    /// The record of this quantization for a checkpoint's metadata: the weight parameters and,
    /// with static activations, the calibrated input and output parameters of every layer.
    public func checkpointQuantization() -> CheckpointQuantization {
        let statics = config.activations == .static ? ranges : nil
        let layers = Quantization.quantizableLayers(model).compactMap { layer -> CheckpointQuantization.Layer? in
            guard let weight = weightParams[layer.name] else { return nil }
            return CheckpointQuantization.Layer(name: layer.name, kind: layer.kind, weight: weight,
                                                input: statics?.inputs[layer.name], output: statics?.outputs[layer.name])
        }
        return CheckpointQuantization(activations: config.activations.rawValue, method: config.method, layers: layers)
    }
}
