import LatheModels
import LatheTrain

// The distillation config's keys, defaults and ranges: what `validate(base:)` and the decoders
// (`rejectUnknownKeys`) check, and what the sweep spec reference lists.

extension DistillConfig {
    /// Width multipliers a teacher or student may have.
    static let widths = ConfigSchema.NumberRange(lower: 0, lowerClosed: false, upper: 16, upperClosed: true)
    /// The `depth` key of a teacher or a student.
    static let depthKey = ConfigSchema.Key(
        "depth", "integer", default: .note("the architecture's"), allowed: .integers(ModelOptions.depths), example: "2",
        doc: "Transformer blocks (`vit-*` models only; the others refuse it).")

    /// The keys of a distillation config (a sweep's distill stage adds `recipe`).
    public static let schema = ConfigSchema(
        title: "Stage `distill`",
        doc: """
            Knowledge distillation: the student (which replaces the spec's model) learns from a teacher that is \
            trained once per (model, width, data, recipe, seed) and cached. The student minimises \
            `ce_weight · CE(student, labels) + Σ weight · term`.
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        switch key {
        case .teacher:
            .init(key.stringValue, "table", default: .required, allowed: .text("see the teacher table"),
                  example: #"{ model = "convnet", recipe = { epochs = 4 } }"#, doc: "The teacher.")
        case .student:
            .init(key.stringValue, "table", default: .required, allowed: .text("see the student table"),
                  example: #"{ model = "lenet5", width = 0.5 }"#, doc: "The student.")
        case .terms:
            .init(key.stringValue, "array of tables", default: .value("[]"), allowed: .text("see the terms table"),
                  example: #"[{ method = "kd/hinton", params = { temperature = 4.0, alpha = 0.9 } }]"#,
                  doc: "Distillation terms, summed. Empty: the student trains alone on the labels (the no-distillation control).")
        case .ceWeight:
            .init(key.stringValue, "number", default: .note("0 if a term is a response loss, else 1"), allowed: .numbers(.nonNegative),
                  example: "0.5", doc: "Weight of the host's cross-entropy with the labels (a response loss such as `kd/hinton` carries its own label term).")
        case .adapters:
            .init(key.stringValue, "string", default: .value("\"\(AdapterPolicy.auto.rawValue)\""), allowed: .choices(of: AdapterPolicy.self),
                  example: "\"always\"", doc: "Learnable adapter on a feature term's student tensor: when the shapes differ, always, or never.")
        }
    }
}

extension DistillConfig.Teacher {
    public static let schema = ConfigSchema(
        title: "`distill`: `teacher`",
        doc: "The `teacher` table of a distill stage.",
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        switch key {
        case .model:
            .init(key.stringValue, "string", default: .required, allowed: .text(Zoo.modelDescription), example: "\"convnet\"", doc: "Zoo architecture, or an ONNX file (imported with its weights; then trained further as the teacher).")
        case .width:
            .init(key.stringValue, "number", default: .value("1.0"), allowed: .numbers(DistillConfig.widths), example: "2.0", doc: "Width multiplier.")
        case .depth:
            DistillConfig.depthKey
        case .recipe:
            .init(key.stringValue, "table", default: .value("{}"), allowed: .text("recipe keys"), example: "{ epochs = 4 }",
                  doc: "Changes to the baseline's recipe for training the teacher; its `seed` defaults to 0 (not the trial's).")
        case .checkpoint:
            .init(key.stringValue, "string", default: .note("none: the teacher is trained and cached"), allowed: .text("a checkpoint path"),
                  example: "\"runs/vit-small-seed0/model.safetensors\"",
                  doc: "A trained checkpoint (e.g. `lathe train`'s) used as the teacher: it must hold `model` at `width` and `depth`, trained on the spec's data set; nothing is trained or cached, and `recipe` must be absent. A relative path is read from the working directory.")
        }
    }
}

extension DistillConfig.Student {
    public static let schema = ConfigSchema(
        title: "`distill`: `student`",
        doc: "The `student` table of a distill stage.",
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        switch key {
        case .model:
            .init(key.stringValue, "string", default: .required, allowed: .text(Zoo.modelDescription), example: "\"lenet5\"", doc: "Zoo architecture, or an ONNX file (imported with its weights as the student's starting point).")
        case .width:
            .init(key.stringValue, "number", default: .value("1.0"), allowed: .numbers(DistillConfig.widths), example: "0.5", doc: "Width multiplier.")
        case .depth:
            DistillConfig.depthKey
        }
    }
}

extension DistillConfig.Term {
    public static let schema = ConfigSchema(
        title: "`distill`: each of `terms`",
        doc: "One element of a distill stage's `terms` array: a loss plugin method applied to a student and a teacher tensor.",
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        switch key {
        case .method:
            .init(key.stringValue, "string", default: .required, allowed: .text("PLUGIN/METHOD of a loss in the registry"),
                  example: "\"distill/hint\"", doc: "The loss (`lathe plugins list` shows them).")
        case .params:
            .init(key.stringValue, "table", default: .value("{}"), allowed: .text("the method's declared parameters"),
                  example: "{ temperature = 4.0 }", doc: "Hyperparameters, checked against the method's declaration; absent ones take its defaults.")
        case .weight:
            .init(key.stringValue, "number", default: .value("1.0"), allowed: .numbers(.nonNegative), example: "0.5", doc: "Weight of the term in the loss.")
        case .studentLayer:
            .init(key.stringValue, "string", default: .note("none (the logits)"), allowed: .text("a layer of the student"),
                  example: "\"relu3\"", doc: "Student layer whose output is distilled (feature and relation losses).")
        case .teacherLayer:
            .init(key.stringValue, "string", default: .note("none (the logits)"), allowed: .text("a layer of the teacher"),
                  example: "\"relu3\"", doc: "Teacher layer it is matched with.")
        }
    }
}
