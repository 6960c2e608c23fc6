import LatheTrain

/// The calibration keys that every calibration-aware stage shares (`prune`, `solve`, `scale`,
/// `factorize`): `calibration_batches`, `calibration_seed` and `calibration_gram_limit_mib`,
/// with one schema entry, one range check and one plan for all of them.
public enum CalibrationKeys {
    public static let batchesName = "calibration_batches"
    public static let seedName = "calibration_seed"
    public static let gramLimitName = "calibration_gram_limit_mib"
    static let batchesRange = 1...100_000
    static let seedRange = 0...Int(Int32.max)
    static let gramLimitRange = 1...1_048_576

    /// `calibration_batches`, with the stage's default and what the statistics feed.
    public static func batches(default value: Int, doc: String) -> ConfigSchema.Key {
        .init(batchesName, "integer", default: .value("\(value)"), allowed: .integers(batchesRange), example: "16", doc: doc)
    }

    /// `calibration_seed` (default: the recipe's seed).
    public static func seed() -> ConfigSchema.Key {
        .init(seedName, "integer", default: .note("the recipe's `seed`"), allowed: .integers(seedRange), example: "7",
              doc: "Seed of the shuffle that picks the calibration samples; vary it to see how much a result depends on them.")
    }

    /// `calibration_gram_limit_mib`, with the stage's default and who needs the Gram matrix.
    public static func gramLimit(default value: Int, doc: String) -> ConfigSchema.Key {
        .init(gramLimitName, "integer", default: .value("\(value)"), allowed: .integers(gramLimitRange), example: "4096", doc: doc)
    }

    /// The first value out of range, as (key, value, expected), or nil when all are valid.
    public static func invalid(batches: Int, seed: Int?, gramLimitMiB: Int?) -> (key: String, value: String, expected: String)? {
        if !batchesRange.contains(batches) { return (batchesName, "\(batches)", "an integer in \(batchesRange)") }
        if let seed, !seedRange.contains(seed) { return (seedName, "\(seed)", "an integer in \(seedRange)") }
        if let limit = gramLimitMiB, !gramLimitRange.contains(limit) { return (gramLimitName, "\(limit)", "an integer in \(gramLimitRange)") }
        return nil
    }

    /// The calibration samples of a run whose recipe has this batch size and seed.
    public static func plan(batches: Int, seed: Int?, gramLimitMiB: Int = CalibrationPlan.defaultGramLimitBytes >> 20,
                            batchSize: Int, recipeSeed: UInt64) -> CalibrationPlan {
        CalibrationPlan(batches: batches, batchSize: batchSize, seed: seed.map { UInt64($0) } ?? recipeSeed, gramLimitBytes: gramLimitMiB << 20)
    }
}

/// The `method` and `params` keys of the stages that run one plugin method of a kind (`solve`,
/// `scale`, `factorize`), and the check of a `PLUGIN/METHOD` name.
public enum MethodKeys {
    /// `method`: `PLUGIN/METHOD` of a `kind` (e.g. "layer solver") in the registry, required.
    public static func method(kind: String, example: String) -> ConfigSchema.Key {
        .init("method", "string", default: .note("none: required"), allowed: .text("PLUGIN/METHOD of a \(kind) in the registry"),
              example: example, doc: "The \(kind) (`lathe plugins list` shows them).")
    }

    /// `params`: the method's hyperparameters, checked against its declaration.
    public static func params(kind: String, example: String, doc: String? = nil) -> ConfigSchema.Key {
        .init("params", "table", default: .note("the \(kind)'s defaults"), allowed: .text("the \(kind)'s declared parameters"),
              example: example, doc: doc ?? "The \(kind)'s hyperparameters, checked against its declaration.")
    }

    /// Whether `name` has the form `PLUGIN/METHOD`.
    public static func isPluginMethod(_ name: String) -> Bool {
        name.split(separator: "/", omittingEmptySubsequences: false).count == 2
    }
}
