import LatheCalibration
import LathePlugins
import LatheTrain

/// One low-rank factorization (`kind = "factorize"` in a sweep, `lathe factorize` on the command
/// line): a factorizer plugin (SVD, ASVD) turns each chosen conv or linear layer's weight into
/// A·B of a rank it picks, and the host replaces the layer by the pair (`Model.factorize`).
/// Fine-tuning is a separate stage (`finetune`) or `lathe factorize --finetune-epochs`.
/// JSON and TOML keys are snake_case; every key but `method` is optional.
public struct FactorizeConfig: Sendable, Codable, Equatable {
    /// The factorizer, `plugin/method` (required).
    public var method: String = ""
    /// Its hyperparameters, checked against its declaration before anything runs.
    public var params: [String: HyperValue] = [:]
    /// The layers to factorize; empty: every conv and linear layer that can be (ungrouped, in a
    /// sequential block) but those in `exclude`.
    public var layers: [String] = []
    /// Layers left dense.
    public var exclude: [String] = []
    /// Training batches (of the recipe's batch size) the input statistics are taken over (for
    /// factorizers that declare any).
    public var calibrationBatches: Int = 8
    /// Seed of the shuffle that picks them; nil: the recipe's seed.
    public var calibrationSeed: Int?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, params, layers, exclude
        case calibrationBatches = "calibration_batches"
        case calibrationSeed = "calibration_seed"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FactorizeConfig()
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        params = try c.decodeIfPresent([String: HyperValue].self, forKey: .params) ?? d.params
        layers = try c.decodeIfPresent([String].self, forKey: .layers) ?? d.layers
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude
        calibrationBatches = try c.decodeIfPresent(Int.self, forKey: .calibrationBatches) ?? d.calibrationBatches
        calibrationSeed = try c.decodeIfPresent(Int.self, forKey: .calibrationSeed)
    }

    /// The calibration samples of a run whose recipe has this batch size and seed.
    public func calibrationPlan(batchSize: Int, recipeSeed: UInt64) -> CalibrationPlan {
        CalibrationKeys.plan(batches: calibrationBatches, seed: calibrationSeed, batchSize: batchSize, recipeSeed: recipeSeed)
    }

    /// Checks the keys that need no registry; the error names the key, its value and what was expected.
    public func validate() throws {
        guard MethodKeys.isPluginMethod(method) else {
            throw FactorizeError.invalidConfig(key: "method", value: method, expected: "PLUGIN/METHOD of a factorizer, e.g. lowrank/svd")
        }
        if let bad = CalibrationKeys.invalid(batches: calibrationBatches, seed: calibrationSeed, gramLimitMiB: nil) {
            throw FactorizeError.invalidConfig(key: bad.key, value: bad.value, expected: bad.expected)
        }
        if let both = layers.first(where: exclude.contains) {
            throw FactorizeError.invalidConfig(key: "exclude", value: both, expected: "a layer not also listed in `layers`")
        }
    }

    /// Checks the factorizer against the registry's manifests (nothing loaded): it exists, is a
    /// factorizer, and its hyperparameters bind.
    public func validate(against registry: Registry) throws -> (method: MethodDescriptor, params: BoundParams) {
        try validate()
        let (manifest, descriptor) = try registry.resolve(method)
        guard descriptor.kind == .factorizer else {
            throw FactorizeError.invalidConfig(key: "method", value: method, expected: "a factorizer (it is a \(descriptor.kind.rawValue))")
        }
        return (descriptor, try descriptor.bind(params, plugin: manifest.plugin.name))
    }

    /// The keys of a factorize stage, with the defaults of `FactorizeConfig()`.
    public static let schema = ConfigSchema(
        title: "Stage `factorize`",
        doc: """
            Low-rank factorization: a factorizer (e.g. `lowrank/svd`) replaces each chosen conv or linear layer by a pair \
            of rank r (linear → linear, or a k×k conv with r filters → a 1×1 conv); put a `finetune` stage after it to \
            recover accuracy, and a `quantize` stage to combine it with quantization.
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        let d = FactorizeConfig()
        let name = key.stringValue
        return switch key {
        case .method: MethodKeys.method(kind: "factorizer", example: "\"lowrank/svd\"")
        case .params:
            MethodKeys.params(kind: "factorizer", example: "{ rank_rule = \"macs\", amount = 0.5 }",
                              doc: "The factorizer's hyperparameters (how it picks the rank).")
        case .layers:
            .init(name, "array of strings", default: .value("[]"), allowed: .text("conv or linear layer names"), example: "[\"fc1\"]",
                  doc: "The layers to factorize; empty: every factorizable conv and linear layer but `exclude`.")
        case .exclude:
            .init(name, "array of strings", default: .value("[]"), allowed: .text("conv or linear layer names"), example: "[\"head\"]",
                  doc: "Layers left dense.")
        case .calibrationBatches:
            CalibrationKeys.batches(default: d.calibrationBatches,
                                    doc: "Training batches the input statistics are taken over (factorizers that declare any, e.g. `lowrank/asvd`).")
        case .calibrationSeed:
            CalibrationKeys.seed()
        }
    }
}

/// Errors from configuring or running a factorization. Messages name the key, layer or value.
public enum FactorizeError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(key: String, value: String, expected: String)
    case unknownLayer(key: String, layer: String, candidates: [String])

    public var description: String {
        switch self {
        case let .invalidConfig(key, value, expected): "invalid value '\(value)' for \(key): expected \(expected)"
        case let .unknownLayer(key, layer, candidates):
            "\(key): '\(layer)' is not a factorizable conv or linear layer of the model; expected one of: \(candidates.joined(separator: ", "))"
        }
    }
}
