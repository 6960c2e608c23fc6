import LatheCalibration
import LathePlugins
import LatheTrain

/// One layer-wise solve (`kind = "solve"` in a sweep, `lathe solve` on the command line): a layer
/// solver plugin (GPTQ, SparseGPT, …) applied to every conv and linear layer in network order,
/// each calibrated on the outputs of the layers already solved. Post-training: no fine-tuning.
/// JSON and TOML keys are snake_case; every key but `method` is optional.
public struct SolveConfig: Sendable, Codable, Equatable {
    /// The solver, `plugin/method` (required).
    public var method: String = ""
    /// Its hyperparameters, checked against its declaration before anything runs.
    public var params: [String: HyperValue] = [:]
    /// Layers left as they are.
    public var exclude: [String] = []
    /// Training batches (of the recipe's batch size) the input statistics are taken over.
    public var calibrationBatches: Int = 8
    /// Seed of the shuffle that picks them; nil: the recipe's seed.
    public var calibrationSeed: Int?
    /// Largest input Gram matrix of one layer (float64), MiB.
    public var calibrationGramLimitMiB: Int = 1024

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, params, exclude
        case calibrationBatches = "calibration_batches"
        case calibrationSeed = "calibration_seed"
        case calibrationGramLimitMiB = "calibration_gram_limit_mib"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SolveConfig()
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        params = try c.decodeIfPresent([String: HyperValue].self, forKey: .params) ?? d.params
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude
        calibrationBatches = try c.decodeIfPresent(Int.self, forKey: .calibrationBatches) ?? d.calibrationBatches
        calibrationSeed = try c.decodeIfPresent(Int.self, forKey: .calibrationSeed)
        calibrationGramLimitMiB = try c.decodeIfPresent(Int.self, forKey: .calibrationGramLimitMiB) ?? d.calibrationGramLimitMiB
    }

    /// The calibration samples of a run whose recipe has this batch size and seed.
    public func calibrationPlan(batchSize: Int, recipeSeed: UInt64) -> CalibrationPlan {
        CalibrationKeys.plan(batches: calibrationBatches, seed: calibrationSeed, gramLimitMiB: calibrationGramLimitMiB, batchSize: batchSize,
                             recipeSeed: recipeSeed)
    }

    /// Checks the keys that need no registry; the error names the key, its value and what was expected.
    public func validate() throws {
        guard MethodKeys.isPluginMethod(method) else {
            throw SolveError.invalidConfig(key: "method", value: method, expected: "PLUGIN/METHOD of a layer solver, e.g. calib/gptq")
        }
        if let bad = CalibrationKeys.invalid(batches: calibrationBatches, seed: calibrationSeed, gramLimitMiB: calibrationGramLimitMiB) {
            throw SolveError.invalidConfig(key: bad.key, value: bad.value, expected: bad.expected)
        }
    }

    /// Checks the solver against the registry's manifests (nothing loaded): it exists, is a
    /// solver, and its hyperparameters bind. Returns its declaration and the bound values.
    public func validate(against registry: Registry) throws -> (method: MethodDescriptor, params: BoundParams) {
        try validate()
        let (manifest, descriptor) = try registry.resolve(method)
        guard descriptor.kind == .solver else {
            throw SolveError.invalidConfig(key: "method", value: method, expected: "a layer solver (it is a \(descriptor.kind.rawValue))")
        }
        return (descriptor, try descriptor.bind(params, plugin: manifest.plugin.name))
    }

    /// The keys of a solve stage, with the defaults of `SolveConfig()`.
    public static let schema = ConfigSchema(
        title: "Stage `solve`",
        doc: """
            A layer solver (e.g. `calib/gptq`) applied to every conv and linear layer in network order, each from the \
            statistics of its input taken through the layers already solved; post-training, no fine-tuning.
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        let d = SolveConfig()
        let name = key.stringValue
        return switch key {
        case .method: MethodKeys.method(kind: "layer solver", example: "\"calib/gptq\"")
        case .params: MethodKeys.params(kind: "solver", example: "{ bits = 3 }")
        case .exclude:
            .init(name, "array of strings", default: .value("[]"), allowed: .text("conv or linear layer names"), example: "[\"conv1\"]",
                  doc: "Layers left as they are.")
        case .calibrationBatches:
            CalibrationKeys.batches(default: d.calibrationBatches, doc: "Training batches (of the recipe's batch size) the input statistics are taken over.")
        case .calibrationSeed:
            CalibrationKeys.seed()
        case .calibrationGramLimitMiB:
            CalibrationKeys.gramLimit(default: d.calibrationGramLimitMiB,
                                      doc: "Largest input Gram matrix (float64, MiB) of one layer; a larger one is refused before anything is computed.")
        }
    }
}

/// Errors from configuring or running a solve. Messages name the key, layer or value at fault.
public enum SolveError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(key: String, value: String, expected: String)
    case unknownLayer(key: String, layer: String, candidates: [String])

    public var description: String {
        switch self {
        case let .invalidConfig(key, value, expected): "invalid value '\(value)' for \(key): expected \(expected)"
        case let .unknownLayer(key, layer, candidates):
            "\(key): '\(layer)' is not a conv or linear layer of the model; expected one of: \(candidates.joined(separator: ", "))"
        }
    }
}
