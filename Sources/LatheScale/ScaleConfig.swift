import LatheCalibration
import LathePlugins
import LatheTrain

/// One channel scaling (`kind = "scale"` in a sweep, `lathe quantize --scale` on the command
/// line): a scaler plugin (SmoothQuant, AWQ) gives each conv and linear layer one positive scale
/// per input channel from its input statistics; the host multiplies them into the weight and
/// folds 1/s into the op before (`ChannelScaling`). In fp32 the model computes the same function;
/// what changes is how quantization that follows sees weights and activations. With `search`,
/// the scaler is called once per value of one of its hyperparameters, and each layer keeps the
/// value whose weight, quantized by `quantizer`, gives the smallest output error on the
/// calibration rows (AWQ's grid search with the quantizer in the loop).
/// JSON and TOML keys are snake_case; every key but `method` is optional.
public struct ScaleConfig: Sendable, Codable, Equatable {
    /// The scaler, `plugin/method` (required).
    public var method: String = ""
    /// Its hyperparameters, checked against its declaration before anything runs.
    public var params: [String: HyperValue] = [:]
    /// Layers left unscaled.
    public var exclude: [String] = []
    /// A numeric hyperparameter of the scaler to search per layer (e.g. `alpha`); nil: no search.
    public var search: String?
    /// The values tried; empty: AWQ's grid 0, 0.05, …, 0.95.
    public var searchValues: [Double] = []
    /// The weight quantizer in the search's loop, `plugin/method` (required with `search`).
    public var quantizer: String?
    /// Its hyperparameters.
    public var quantizerParams: [String: HyperValue] = [:]
    /// Training batches (of the recipe's batch size) the input statistics are taken over.
    public var calibrationBatches: Int = 8
    /// Seed of the shuffle that picks them; nil: the recipe's seed.
    public var calibrationSeed: Int?
    /// Largest input Gram matrix of one layer (float64), MiB (the search's output error needs it).
    public var calibrationGramLimitMiB: Int = 1024

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, params, exclude, search
        case searchValues = "search_values"
        case quantizer
        case quantizerParams = "quantizer_params"
        case calibrationBatches = "calibration_batches"
        case calibrationSeed = "calibration_seed"
        case calibrationGramLimitMiB = "calibration_gram_limit_mib"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ScaleConfig()
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        params = try c.decodeIfPresent([String: HyperValue].self, forKey: .params) ?? d.params
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude
        search = try c.decodeIfPresent(String.self, forKey: .search)
        searchValues = try c.decodeIfPresent([Double].self, forKey: .searchValues) ?? d.searchValues
        quantizer = try c.decodeIfPresent(String.self, forKey: .quantizer)
        quantizerParams = try c.decodeIfPresent([String: HyperValue].self, forKey: .quantizerParams) ?? d.quantizerParams
        calibrationBatches = try c.decodeIfPresent(Int.self, forKey: .calibrationBatches) ?? d.calibrationBatches
        calibrationSeed = try c.decodeIfPresent(Int.self, forKey: .calibrationSeed)
        calibrationGramLimitMiB = try c.decodeIfPresent(Int.self, forKey: .calibrationGramLimitMiB) ?? d.calibrationGramLimitMiB
    }

    /// The values the search tries.
    public var grid: [Double] { searchValues.isEmpty ? (0..<20).map { Double($0) / 20 } : searchValues }

    /// The calibration samples of a run whose recipe has this batch size and seed.
    public func calibrationPlan(batchSize: Int, recipeSeed: UInt64) -> CalibrationPlan {
        CalibrationKeys.plan(batches: calibrationBatches, seed: calibrationSeed, gramLimitMiB: calibrationGramLimitMiB, batchSize: batchSize,
                             recipeSeed: recipeSeed)
    }

    /// Checks the keys that need no registry; the error names the key, its value and what was expected.
    public func validate() throws {
        guard MethodKeys.isPluginMethod(method) else {
            throw ScaleError.invalidConfig(key: "method", value: method, expected: "PLUGIN/METHOD of a channel scaler, e.g. calib/smoothquant")
        }
        if let bad = CalibrationKeys.invalid(batches: calibrationBatches, seed: calibrationSeed, gramLimitMiB: calibrationGramLimitMiB) {
            throw ScaleError.invalidConfig(key: bad.key, value: bad.value, expected: bad.expected)
        }
        if let bad = searchValues.first(where: { !$0.isFinite }) {
            throw ScaleError.invalidConfig(key: "search_values", value: "\(bad)", expected: "finite numbers")
        }
        guard searchValues.count <= 1000 else {
            throw ScaleError.invalidConfig(key: "search_values", value: "\(searchValues.count) values", expected: "at most 1000")
        }
        switch (search, quantizer) {
        case (nil, nil):
            guard searchValues.isEmpty, quantizerParams.isEmpty else {
                throw ScaleError.invalidConfig(key: searchValues.isEmpty ? "quantizer_params" : "search_values", value: "set",
                                               expected: "`search` and `quantizer` with it")
            }
        case (.some, nil):
            throw ScaleError.invalidConfig(key: "quantizer", value: "(missing)", expected: "the weight quantizer in the search's loop, e.g. \"uniform/affine\"")
        case (nil, .some):
            throw ScaleError.invalidConfig(key: "search", value: "(missing)", expected: "the scaler hyperparameter the quantizer's loop searches, e.g. \"alpha\"")
        case let (.some(name), .some(q)):
            guard MethodKeys.isPluginMethod(q) else {
                throw ScaleError.invalidConfig(key: "quantizer", value: q, expected: "PLUGIN/METHOD of a quantizer, e.g. uniform/affine")
            }
            guard params[name] == nil else {
                throw ScaleError.invalidConfig(key: "params.\(name)", value: "set", expected: "no value for the searched hyperparameter '\(name)'")
            }
        }
    }

    /// What `validate(against:)` resolves.
    public struct Resolved {
        public var scaler: MethodDescriptor
        public var params: BoundParams
        /// The quantizer in the search's loop and its values, when searching.
        public var quantizer: (method: MethodDescriptor, params: BoundParams)?
    }

    /// Checks the scaler (and the search's quantizer) against the registry's manifests (nothing
    /// loaded): they exist and are of their kinds, the searched hyperparameter is numeric and
    /// every value of the grid binds, and the hyperparameters bind.
    public func validate(against registry: Registry) throws -> Resolved {
        try validate()
        let (manifest, descriptor) = try registry.resolve(method)
        guard descriptor.kind == .scaler else {
            throw ScaleError.invalidConfig(key: "method", value: method, expected: "a channel scaler (it is a \(descriptor.kind.rawValue))")
        }
        let params = try descriptor.bind(self.params, plugin: manifest.plugin.name)
        var resolved = Resolved(scaler: descriptor, params: params, quantizer: nil)
        if let search, let quantizer {
            guard let declared = descriptor.params.first(where: { $0.name == search }), declared.type.isNumeric, !declared.type.isInteger else {
                throw ScaleError.invalidConfig(key: "search", value: search,
                                               expected: "a floating-point hyperparameter of \(method) (\(descriptor.params.filter { $0.type.isNumeric && !$0.type.isInteger }.map(\.name).joined(separator: ", ")))")
            }
            for value in grid { _ = try descriptor.bind(self.params.merging([search: .double(value)]) { $1 }, plugin: manifest.plugin.name) }
            let (qManifest, q) = try registry.resolve(quantizer)
            guard q.kind == .quantizer else {
                throw ScaleError.invalidConfig(key: "quantizer", value: quantizer, expected: "a quantizer (it is a \(q.kind.rawValue))")
            }
            resolved.quantizer = (q, try q.bind(quantizerParams, plugin: qManifest.plugin.name))
        }
        return resolved
    }
}

/// Errors from configuring or running a channel scaling. Messages name the key, layer or value.
public enum ScaleError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(key: String, value: String, expected: String)
    case unknownLayer(key: String, layer: String, candidates: [String])
    case invalidScales(layer: String, String)

    public var description: String {
        switch self {
        case let .invalidConfig(key, value, expected): "invalid value '\(value)' for \(key): expected \(expected)"
        case let .unknownLayer(key, layer, candidates):
            "\(key): '\(layer)' is not a conv or linear layer of the model; expected one of: \(candidates.joined(separator: ", "))"
        case let .invalidScales(layer, message): "channel scales of '\(layer)': \(message)"
        }
    }
}

extension ScaleConfig {
    /// The keys of a scale stage, with the defaults of `ScaleConfig()`.
    public static let schema = ConfigSchema(
        title: "Stage `scale`",
        doc: """
            A channel scaler (e.g. `calib/smoothquant`, `calib/awq`) gives every conv and linear layer one positive scale per \
            input channel; the weight's columns are multiplied by it and its inverse is folded into the op before the layer \
            (LayerNorm, batch norm, a linear or conv layer's rows, attention's V rows) or kept as an explicit `input_scale`. \
            The fp32 function is unchanged; put a `quantize` stage after it. With `search`, each layer keeps the value of one \
            scaler hyperparameter whose weight, quantized by `quantizer`, has the smallest output error on the calibration rows.
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        let d = ScaleConfig()
        let name = key.stringValue
        return switch key {
        case .method: MethodKeys.method(kind: "channel scaler", example: "\"calib/smoothquant\"")
        case .params: MethodKeys.params(kind: "scaler", example: "{ alpha = 0.5 }")
        case .exclude:
            .init(name, "array of strings", default: .value("[]"), allowed: .text("conv or linear layer names"), example: "[\"head\"]",
                  doc: "Layers left unscaled.")
        case .search:
            .init(name, "string", default: .note("none: no search"), allowed: .text("a floating-point hyperparameter of the scaler"),
                  example: "\"alpha\"", doc: "Searched per layer: each layer keeps the value with the smallest quantized output error.")
        case .searchValues:
            .init(name, "array of numbers", default: .note("0, 0.05, …, 0.95 (AWQ's grid)"), allowed: .text("at most 1000 finite values"),
                  example: "[0.25, 0.5, 0.75]", doc: "The values `search` tries.")
        case .quantizer:
            .init(name, "string", default: .note("none; required with `search`"), allowed: .text("PLUGIN/METHOD of a quantizer"),
                  example: "\"uniform/affine\"", doc: "The weight quantizer in the search's loop (usually the one of the `quantize` stage after).")
        case .quantizerParams:
            .init(name, "table", default: .note("the quantizer's defaults"), allowed: .text("the quantizer's declared parameters"),
                  example: "{ bits = 3, per_channel = true }", doc: "The search quantizer's hyperparameters.")
        case .calibrationBatches:
            CalibrationKeys.batches(default: d.calibrationBatches, doc: "Training batches (of the recipe's batch size) the input statistics are taken over.")
        case .calibrationSeed:
            CalibrationKeys.seed()
        case .calibrationGramLimitMiB:
            CalibrationKeys.gramLimit(default: d.calibrationGramLimitMiB,
                                      doc: "Largest input Gram matrix (float64, MiB) of one layer, which the search needs; a larger one is refused before anything runs.")
        }
    }
}
