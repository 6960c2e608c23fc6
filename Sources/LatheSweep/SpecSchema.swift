import LatheDistill
import LatheModels
import LathePruning
import LatheQuant
import LatheTrain

/// The schema of a sweep spec: its top-level keys, a group's keys, the stage kinds and each
/// kind's keys. `SweepSpec.parse` and `resolve` take key sets, choices and ranges from here, and
/// `SpecReference` renders it (`lathe sweep --spec-reference`, `docs/sweep-spec.md`).
public enum SpecSchema {
    /// A top-level key of a sweep spec.
    public enum Key: String, Sendable, CaseIterable {
        case name, model, dataset, seeds
        case limitTrain = "limit_train"
        case limitTest = "limit_test"
        case timeout, baseline, groups
    }

    /// A key of a `[[groups]]` table.
    public enum GroupKey: String, Sendable, CaseIterable { case name, stages, grid }

    /// The model used when the spec names none.
    public static let defaultModel = "lenet5"
    /// The per-trial timeout used when the spec gives none, in seconds.
    public static let defaultTimeout = 1800.0
    /// The timeouts a spec may give, in seconds.
    public static let timeouts = ConfigSchema.NumberRange(lower: 0, lowerClosed: false, upper: SweepSpec.maxTimeout, upperClosed: true)

    public static let topLevel = ConfigSchema(
        title: "Top level",
        doc: "The keys at the top of the file, before any table.",
        keys: Key.allCases.map(key))

    public static func key(_ key: Key) -> ConfigSchema.Key {
        let name = key.rawValue
        return switch key {
        case .name:
            .init(name, "string", default: .required, allowed: .text("letters, digits, `-` and `_`"), example: "\"quickstart\"",
                  doc: "The sweep's name: its rows in the results database and the default output folder `runs/NAME`.")
        case .model:
            .init(name, "string", default: .value("\"\(defaultModel)\""), allowed: .text(Zoo.modelDescription), example: "\"convnet\"",
                  doc: "Zoo model of the baseline and of the quantize, prune and finetune trials (`lathe models` lists them), or an ONNX file (`lathe import`), read relative to the working directory and imported with its weights before the baseline trains.")
        case .dataset:
            .init(name, "string", default: .value("\"\(DataSource.fashionMNIST.rawValue)\""), allowed: .choices(of: DataSource.self),
                  example: "\"cifar10\"", doc: "Data set of every trial.")
        case .seeds:
            .init(name, "array of integers", default: .required, allowed: .integers(0...SweepSpec.maxSeed), example: "[0, 1, 2]",
                  doc: "Seeds, none repeated: every configuration runs once per seed, and its paired statistics compare it with the same seed's baseline.")
        case .limitTrain:
            .init(name, "integer", default: .note("none (the whole set)"), allowed: .integers(1...SweepSpec.maxImages), example: "20000",
                  doc: "Use the first N training images.")
        case .limitTest:
            .init(name, "integer", default: .note("none (the whole set)"), allowed: .integers(1...SweepSpec.maxImages), example: "5000",
                  doc: "Use the first N test images.")
        case .timeout:
            .init(name, "number", default: .value(ConfigSchema.Key.toml(defaultTimeout)), allowed: .numbers(timeouts),
                  example: "900", doc: "Seconds before a trial is killed (`lathe sweep --timeout` overrides it).")
        case .baseline:
            .init(name, "table", default: .value("{}"), allowed: .text("recipe keys"), example: "{ epochs = 4 }",
                  doc: "The dense fp32 baseline's recipe, trained once per seed and shared by every trial of that seed; usually written as a `[baseline]` table.")
        case .groups:
            .init(name, "array of tables", default: .required, allowed: .text("at least one group"), example: #"[{ name = "ptq", stages = [{ kind = "quantize" }] }]"#,
                  doc: "Trial groups, usually written as `[[groups]]` tables.")
        }
    }

    public static let group = ConfigSchema(
        title: "`[[groups]]`",
        doc: """
            One trial group: a pipeline of stages run on a copy of the seed's baseline, and a grid over the stages' keys. \
            Every grid point runs once per seed.
            """,
        keys: GroupKey.allCases.map(key))

    public static func key(_ key: GroupKey) -> ConfigSchema.Key {
        let name = key.rawValue
        return switch key {
        case .name:
            .init(name, "string", default: .required, allowed: .text("unique; not `baseline`"), example: "\"ptq\"",
                  doc: "The group's name, the start of its trials' labels.")
        case .stages:
            .init(name, "array of tables", default: .required, allowed: .text("at least one stage; each has a `kind`"),
                  example: #"[{ kind = "prune", sparsity = 0.9 }, { kind = "finetune", epochs = 2 }]"#,
                  doc: "The stages, run in order; each is `kind` plus that kind's keys.")
        case .grid:
            .init(name, "table of arrays", default: .note("none (one configuration)"), allowed: .text("keys `KIND.KEY[.SUBKEY...]`, non-empty arrays"),
                  example: #"{ "quantize.params.bits" = [8, 4] }"#,
                  doc: "Axes of the grid: each key sets a key of the group's first stage of that kind (a number addresses an array element, e.g. `distill.terms.0.params.alpha`); the trials are the cartesian product.")
        }
    }

    /// The `kind` key every stage has.
    public static let kind = ConfigSchema.Key("kind", "string", default: .required, allowed: .choices(StageKinds.names), example: "\"prune\"",
                                              doc: "The stage kind.")

    /// A distill stage: `DistillConfig`'s keys plus `recipe`, the student's recipe overrides.
    public static let distill: ConfigSchema = {
        var schema = DistillConfig.schema
        schema.keys.append(.init("recipe", "table", default: .value("{}"), allowed: .text("recipe keys"), example: "{ learning_rate = 0.01 }",
                                 doc: "Changes to the baseline's recipe for training the student (its seed stays the trial's)."))
        return schema
    }()

    /// The spec's tables: top level, recipes, groups.
    public static var tables: [ConfigSchema] { [topLevel, Recipe.schema, group] }

    /// The stage kinds' keys, then the distill stage's nested tables.
    public static var stages: [ConfigSchema] {
        StageKinds.all.map(\.schema) + StageKinds.all.flatMap(\.nestedSchemas)
    }

    /// Every section the reference lists, in its order.
    public static var sections: [ConfigSchema] { tables + stages }
}

extension FinetuneConfig {
    /// The keys of a finetune stage.
    public static let schema = ConfigSchema(
        title: "Stage `finetune`",
        doc: "More training of the current model with the baseline's recipe (another peak learning rate if given), e.g. after pruning.",
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        switch key {
        case .epochs:
            .init(key.stringValue, "integer", default: .value("\(FinetuneConfig().epochs)"), allowed: .integers(1...Recipe.maxEpochs), example: "2",
                  doc: "Fine-tuning epochs.")
        case .lr:
            .init(key.stringValue, "number", default: .note("the recipe's `learning_rate`"), allowed: .numbers(.positive), example: "0.01",
                  doc: "Peak learning rate.")
        }
    }
}
