import Foundation
import LatheData
import LatheModels
import LatheTensor

/// Model checkpoints as `.safetensors`: every parameter and buffer under its layer-qualified
/// name, plus the architecture and options in the header metadata so that `lathe eval` can
/// rebuild the model. Readable by Python's `safetensors` package.
public enum Checkpoint {
    private static let formatKey = "lathe.format"
    private static let architectureKey = "lathe.architecture"
    private static let optionsKey = "lathe.options"
    private static let shapesChangedKey = "lathe.shapes_changed"
    private static let factorizedKey = "lathe.factorized"
    private static let graphKey = "lathe.graph"

    /// Prefix of the tensors stored beside the model's own (e.g. a quantizer's learned step
    /// sizes): `extra/NAME`. Loading the model ignores them; `extras(_:)` reads them.
    public static let extraPrefix = "extra/"

    /// `value` as JSON text for a metadata entry, keys sorted: the same model gives the same
    /// bytes in every process (an unsorted encoder follows each process's hash seed).
    public static func metadataJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Writes `model` atomically to `path`, with extra string `metadata` and `extras` tensors
    /// (stored as `extra/NAME`).
    public static func save(_ model: Model, to path: String, metadata: [String: String] = [:], shapesChanged: Bool = false,
                            extras: [String: Tensor] = [:]) throws {
        var tensors: [String: SafeTensors.Entry] = [:]
        let stored = model.state + extras.sorted { $0.key < $1.key }.map { (extraPrefix + $0.key, $0.value) }
        for (name, tensor) in stored {
            guard let dtype = SafeTensors.DType(rawValue: safetensorsCode(tensor.dtype)) else {
                throw TrainingError.badCheckpoint(path: path, reason: "tensor \(name) has type \(tensor.dtype), which safetensors cannot store")
            }
            tensors[name] = SafeTensors.Entry(dtype: dtype, shape: tensor.shape, bytes: try tensor.detached().bytes())
        }
        let options = try metadataJSON(model.options)
        var meta = metadata
        meta[formatKey] = "1"
        meta[architectureKey] = model.architecture
        meta[optionsKey] = options
        meta[shapesChangedKey] = shapesChanged ? "true" : "false"
        if let program = model.program {
            meta[graphKey] = try metadataJSON(program)
        }
        if !model.factorized.isEmpty {
            meta[factorizedKey] = model.factorized.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        try SafeTensors(tensors: tensors, metadata: meta).write(path: path)
    }

    /// Rebuilds the model stored at `path`. The options in its metadata are range-checked and
    /// the model is built as a skeleton without storage, so that nothing beyond the stored
    /// tensors is allocated before their names, shapes and element types are checked against
    /// the architecture's.
    public static func load(_ path: String) throws -> (model: Model, metadata: [String: String]) {
        let file = try SafeTensors.read(path: path)
        guard let architecture = file.metadata[architectureKey], let optionsText = file.metadata[optionsKey] else {
            throw TrainingError.badCheckpoint(path: path, reason: "not a Lathe checkpoint: header metadata lacks '\(architectureKey)' and '\(optionsKey)'")
        }
        let options: ModelOptions
        do {
            options = try JSONDecoder().decode(ModelOptions.self, from: Data(optionsText.utf8))
        } catch {
            throw TrainingError.badCheckpoint(path: path, reason: "metadata '\(optionsKey)' is not valid model options: \(optionsText)")
        }
        let model: Model
        do {
            if architecture == Model.graphArchitecture {
                guard let text = file.metadata[graphKey] else {
                    throw TrainingError.badCheckpoint(path: path, reason: "a graph model's checkpoint lacks metadata '\(graphKey)' (its program)")
                }
                let program: GraphProgram
                do {
                    program = try JSONDecoder().decode(GraphProgram.self, from: Data(text.utf8))
                } catch {
                    throw TrainingError.badCheckpoint(path: path, reason: "metadata '\(graphKey)' is not a valid graph program: \(error)")
                }
                model = try Model.skeleton(program: program, options: options)
            } else {
                model = try Zoo.skeleton(architecture, options: options)
            }
        } catch let error as ModelError {
            let key = if case .unknownModel = error { architectureKey } else if architecture == Model.graphArchitecture { graphKey } else { optionsKey }
            throw TrainingError.badCheckpoint(path: path, reason: "metadata '\(key)': \(error.description)")
        }
        if let text = file.metadata[factorizedKey] {
            var ranks: [String: Int] = [:]
            for item in text.split(separator: ",") {
                let parts = item.split(separator: "=")
                guard parts.count == 2, let rank = Int(parts[1]) else {
                    throw TrainingError.badCheckpoint(path: path, reason: "metadata '\(factorizedKey)': '\(item)' is not LAYER=RANK")
                }
                ranks[String(parts[0])] = rank
            }
            do {
                try model.restructure(factorized: ranks)
            } catch let error as ModelError {
                throw TrainingError.badCheckpoint(path: path, reason: "metadata '\(factorizedKey)': \(error.description)")
            }
        }
        var tensors: [String: Tensor] = [:]
        for (name, entry) in file.tensors where !name.hasPrefix(extraPrefix) {
            guard let dtype = DType.fromSafetensors(entry.dtype.rawValue) else {
                throw TrainingError.badCheckpoint(path: path, reason: "tensor \(name) has unsupported type \(entry.dtype.rawValue)")
            }
            tensors[name] = try Tensor(bytes: entry.bytes, shape: entry.shape, dtype: dtype)
        }
        do {
            try model.load(tensors, allowShapeChange: file.metadata[shapesChangedKey] == "true")
        } catch let error as ModelError {
            throw TrainingError.badCheckpoint(path: path, reason: error.description)
        }
        return (model, file.metadata)
    }

    /// The `extra/` tensors stored at `path`, by name without the prefix.
    public static func extras(_ path: String) throws -> [String: Tensor] {
        let file = try SafeTensors.read(path: path)
        var out: [String: Tensor] = [:]
        for (name, entry) in file.tensors where name.hasPrefix(extraPrefix) {
            guard let dtype = DType.fromSafetensors(entry.dtype.rawValue) else {
                throw TrainingError.badCheckpoint(path: path, reason: "tensor \(name) has unsupported type \(entry.dtype.rawValue)")
            }
            out[String(name.dropFirst(extraPrefix.count))] = try Tensor(bytes: entry.bytes, shape: entry.shape, dtype: dtype)
        }
        return out
    }

    static func safetensorsCode(_ dtype: DType) -> String {
        switch dtype {
        case .float32: "F32"
        case .float64: "F64"
        case .float16: "F16"
        case .int64: "I64"
        case .int32: "I32"
        case .int16: "I16"
        case .int8: "I8"
        case .uint8: "U8"
        case .bool: "BOOL"
        case .qint8, .quint8, .qint32: "unsupported"
        }
    }
}

extension DType {
    /// The element type for a safetensors dtype code (`F32`, `I64`, …).
    static func fromSafetensors(_ code: String) -> DType? {
        DType.allCases.first { Checkpoint.safetensorsCode($0) == code }
    }
}
