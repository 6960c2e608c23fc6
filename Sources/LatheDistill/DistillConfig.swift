import Foundation
import LatheModels
import LathePlugins
import LatheTrain

/// What one distillation run does: the teacher, the student, the distillation terms and how
/// they are weighted against cross-entropy. JSON with snake_case keys (unknown keys are
/// refused, so a misspelt key is an error rather than a silent default):
///
/// ```json
/// {
///   "teacher": {"model": "convnet", "width": 1, "recipe": {"epochs": 10}},
///   "student": {"model": "lenet5", "width": 0.5},
///   "terms": [
///     {"method": "kd/hinton", "params": {"temperature": 4, "alpha": 0.9}},
///     {"method": "distill/hint", "student_layer": "relu3", "teacher_layer": "relu3", "weight": 1}
///   ],
///   "ce_weight": null,
///   "adapters": "auto"
/// }
/// ```
///
/// **Loss weighting.** The student minimises
/// `ce_weight · CE(student logits, labels) + Σᵢ weightᵢ · Lᵢ(student, teacher)`,
/// where each `Lᵢ` is exactly what its plugin returns. A response-loss plugin owns the label
/// term (kd/hinton returns `α T² KL + (1 − α) CE`), so when `ce_weight` is absent it defaults
/// to **0 if any term is a response loss, else 1**: `kd/hinton` alone is then Hinton's loss
/// as published, and feature/relation terms are added to the usual cross-entropy. An explicit
/// `ce_weight` always wins.
public struct DistillConfig: Sendable, Codable, Equatable {
    /// The teacher: a zoo model trained once per (model, options, data, recipe, seed) and cached.
    public struct Teacher: Sendable, Codable, Equatable {
        /// Zoo architecture.
        public var model: String
        /// Width multiplier.
        public var width: Double
        /// Transformer blocks (vit-* only; nil: the architecture's).
        public var depth: Int?
        /// Changes to the run's recipe for training the teacher. The teacher's seed is
        /// `recipe.seed` when given and **0** otherwise (not the student's seed), so runs over
        /// several student seeds share one cached teacher.
        public var recipe: RecipeOverrides
        /// A trained checkpoint to use as the teacher instead of training and caching one (e.g.
        /// `lathe train`'s `model.safetensors`); it must hold `model` at `width` and `depth`.
        public var checkpoint: String?

        public init(model: String, width: Double = 1, depth: Int? = nil, recipe: RecipeOverrides = RecipeOverrides(), checkpoint: String? = nil) {
            self.model = model
            self.width = width
            self.depth = depth
            self.recipe = recipe
            self.checkpoint = checkpoint
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case model, width, depth, recipe, checkpoint }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, Self.schema, in: "teacher")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.decode(String.self, forKey: .model)
            width = try c.decodeIfPresent(Double.self, forKey: .width) ?? 1
            depth = try c.decodeIfPresent(Int.self, forKey: .depth)
            recipe = try c.decodeIfPresent(RecipeOverrides.self, forKey: .recipe) ?? RecipeOverrides()
            checkpoint = try c.decodeIfPresent(String.self, forKey: .checkpoint)
        }

        /// The recipe the teacher trains with: `base` with the overrides applied, seed 0 unless overridden.
        /// Give as `base` a recipe for the teacher's architecture (`baseRecipe(run:student:)`).
        public func trainingRecipe(base: Recipe) -> Recipe {
            var r = recipe.applied(to: base)
            r.seed = recipe.seed ?? 0
            return r
        }

        /// The base of the teacher's recipe for a run whose (student's) recipe is `run`: `run`
        /// itself when the teacher's architecture has the student's default recipe, else the
        /// teacher architecture's defaults (a `convnet` teacher of a `vit-tiny` student trains
        /// with SGD and its schedule, not with the transformer's AdamW recipe; a `vit-*` teacher
        /// of a CNN student with AdamW). The teacher's `recipe` overrides apply on top.
        public func baseRecipe(run: Recipe, student: String) -> Recipe {
            Recipe.defaults(for: model) == Recipe.defaults(for: student) ? run : Recipe.defaults(for: model)
        }
    }

    /// The student: a zoo model, usually narrower (width multiplier) or another architecture.
    public struct Student: Sendable, Codable, Equatable {
        public var model: String
        public var width: Double
        /// Transformer blocks (vit-* only; nil: the architecture's).
        public var depth: Int?

        public init(model: String, width: Double = 1, depth: Int? = nil) {
            self.model = model
            self.width = width
            self.depth = depth
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case model, width, depth }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, Self.schema, in: "student")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.decode(String.self, forKey: .model)
            width = try c.decodeIfPresent(Double.self, forKey: .width) ?? 1
            depth = try c.decodeIfPresent(Int.self, forKey: .depth)
        }
    }

    /// One distillation term: a loss plugin method applied to a pair of tensors.
    public struct Term: Sendable, Codable, Equatable {
        /// `plugin/method`, e.g. `kd/hinton` or `distill/hint`.
        public var method: String
        /// Hyperparameters by name (checked against the method's declaration; defaults filled).
        public var params: [String: HyperValue]
        /// The student layer whose output is distilled (feature and relation losses; response
        /// losses use the logits and take no layer).
        public var studentLayer: String?
        /// The teacher layer it is matched with.
        public var teacherLayer: String?
        /// Weight of this term in the total loss (≥ 0).
        public var weight: Double

        public init(method: String, params: [String: HyperValue] = [:], studentLayer: String? = nil,
                    teacherLayer: String? = nil, weight: Double = 1) {
            self.method = method
            self.params = params
            self.studentLayer = studentLayer
            self.teacherLayer = teacherLayer
            self.weight = weight
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case method, params, weight
            case studentLayer = "student_layer"
            case teacherLayer = "teacher_layer"
        }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, Self.schema, in: "term")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            method = try c.decode(String.self, forKey: .method)
            params = try c.decodeIfPresent([String: HyperValue].self, forKey: .params) ?? [:]
            studentLayer = try c.decodeIfPresent(String.self, forKey: .studentLayer)
            teacherLayer = try c.decodeIfPresent(String.self, forKey: .teacherLayer)
            weight = try c.decodeIfPresent(Double.self, forKey: .weight) ?? 1
        }
    }

    /// When the host puts a learnable adapter on a feature term's student tensor.
    public enum AdapterPolicy: String, Sendable, Codable, CaseIterable {
        /// Only when the student and teacher tensors' shapes differ (1×1 conv for NCHW, linear for NC).
        case auto
        /// On every feature term (FitNets' regressor, even for equal shapes).
        case always
        /// Never: a feature term with different shapes is an error.
        case never
    }

    public var teacher: Teacher
    public var student: Student
    /// Distillation terms, summed. May be empty: the student then trains alone (the baseline),
    /// and the report still carries the teacher's accuracy.
    public var terms: [Term]
    /// Weight of the host's cross-entropy with the labels; nil: the default rule (see the type's doc).
    public var ceWeight: Double?
    public var adapters: AdapterPolicy

    public init(teacher: Teacher, student: Student, terms: [Term], ceWeight: Double? = nil, adapters: AdapterPolicy = .auto) {
        self.teacher = teacher
        self.student = student
        self.terms = terms
        self.ceWeight = ceWeight
        self.adapters = adapters
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case teacher, student, terms, adapters
        case ceWeight = "ce_weight"
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, Self.schema, in: "distillation config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        teacher = try c.decode(Teacher.self, forKey: .teacher)
        student = try c.decode(Student.self, forKey: .student)
        terms = try c.decodeIfPresent([Term].self, forKey: .terms) ?? []
        ceWeight = try c.decodeIfPresent(Double.self, forKey: .ceWeight)
        adapters = try c.decodeChoiceIfPresent(AdapterPolicy.self, forKey: .adapters) ?? .auto
    }

    /// Reads a JSON config; errors name the file and the offending key.
    public static func read(path: String) throws -> DistillConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DistillError.invalidConfig("\(path): cannot read the file (\(error.localizedDescription))")
        }
        do {
            return try JSONDecoder().decode(DistillConfig.self, from: data)
        } catch let error as DistillError {
            throw DistillError.invalidConfig("\(path): \(error.description)")
        } catch let error as DecodingError {
            throw DistillError.invalidConfig("\(path): \(describe(error))")
        }
    }

    /// The JSON text (pretty, sorted keys).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Checks what can be checked without the registry or the data: zoo names, widths,
    /// weights, the teacher recipe. Errors name the key and the value.
    /// Checks the models, widths, depths, weights and both recipes; `teacherBase` as in
    /// `DistillationStage.prepare`.
    public func validate(base: Recipe, teacherBase: Recipe? = nil) throws {
        func model(_ name: String, _ key: String, _ allowed: ConfigSchema.Key) throws {
            if let problem = Zoo.problem(with: name) {
                throw DistillError.invalidConfig("\(key) \(problem)")
            }
        }
        func width(_ value: Double, _ key: String) throws {
            guard Self.widths.contains(value) else {
                throw DistillError.invalidConfig("\(key) \(value): expected \(Self.widths.expected)")
            }
        }
        func depth(_ value: Int?, _ key: String, model: String) throws {
            guard let value else { return }
            guard ModelOptions.depths.contains(value) else {
                throw DistillError.invalidConfig("\(key) \(value): expected an integer in \(ModelOptions.depths.lowerBound)...\(ModelOptions.depths.upperBound)")
            }
            guard Zoo.acceptsDepth(model) else {
                throw DistillError.invalidConfig("\(key) \(value): only the vit-* models take a depth; \(model) has a fixed one")
            }
        }
        if let path = teacher.checkpoint {
            guard !path.isEmpty else { throw DistillError.invalidConfig("teacher.checkpoint is empty; expected the path of a checkpoint") }
            guard teacher.recipe == RecipeOverrides() else {
                throw DistillError.invalidConfig("teacher.recipe cannot be combined with teacher.checkpoint \(path): that teacher is trained already")
            }
        }
        try model(teacher.model, "teacher.model", Teacher.key(.model))
        try width(teacher.width, "teacher.width")
        try depth(teacher.depth, "teacher.depth", model: teacher.model)
        try model(student.model, "student.model", Student.key(.model))
        try width(student.width, "student.width")
        try depth(student.depth, "student.depth", model: student.model)
        if let w = ceWeight, !Self.key(.ceWeight).allows(w) {
            throw DistillError.invalidConfig("ce_weight \(w): expected \(Self.key(.ceWeight).expected)")
        }
        for (index, term) in terms.enumerated() {
            let label = "terms[\(index)] (\(term.method))"
            guard Term.key(.weight).allows(term.weight) else {
                throw DistillError.invalidConfig("\(label): weight \(term.weight): expected \(Term.key(.weight).expected)")
            }
        }
        do { try teacher.trainingRecipe(base: teacherBase ?? teacher.baseRecipe(run: base, student: student.model)).validate() } catch let error as TrainingError {
            throw DistillError.invalidConfig("teacher.recipe: \(error.description)")
        }
    }
}

/// Optional changes to a `Recipe` (snake_case keys); absent fields keep the base recipe's value.
public struct RecipeOverrides: Sendable, Codable, Equatable {
    public var epochs: Int?
    public var batchSize: Int?
    public var learningRate: Double?
    public var optimizer: Recipe.OptimizerKind?
    public var momentum: Double?
    public var nesterov: Bool?
    public var weightDecay: Double?
    public var schedule: Recipe.ScheduleKind?
    public var stepEpochs: Int?
    public var gamma: Double?
    public var labelSmoothing: Double?
    public var horizontalFlip: Bool?
    public var warmupEpochs: Int?
    public var seed: UInt64?

    public init(epochs: Int? = nil, seed: UInt64? = nil) {
        self.epochs = epochs
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case epochs, optimizer, momentum, nesterov, schedule, gamma, seed
        case batchSize = "batch_size"
        case learningRate = "learning_rate"
        case weightDecay = "weight_decay"
        case stepEpochs = "step_epochs"
        case labelSmoothing = "label_smoothing"
        case horizontalFlip = "horizontal_flip"
        case warmupEpochs = "warmup_epochs"
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, Recipe.schema, in: "recipe")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate)
        optimizer = try c.decodeChoiceIfPresent(Recipe.OptimizerKind.self, forKey: .optimizer)
        momentum = try c.decodeIfPresent(Double.self, forKey: .momentum)
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov)
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay)
        schedule = try c.decodeChoiceIfPresent(Recipe.ScheduleKind.self, forKey: .schedule)
        stepEpochs = try c.decodeIfPresent(Int.self, forKey: .stepEpochs)
        gamma = try c.decodeIfPresent(Double.self, forKey: .gamma)
        labelSmoothing = try c.decodeIfPresent(Double.self, forKey: .labelSmoothing)
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip)
        warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
    }

    /// `base` with every present field replaced.
    public func applied(to base: Recipe) -> Recipe {
        var r = base
        if let v = epochs { r.epochs = v }
        if let v = batchSize { r.batchSize = v }
        if let v = learningRate { r.learningRate = v }
        if let v = optimizer { r.optimizer = v }
        if let v = momentum { r.momentum = v }
        if let v = nesterov { r.nesterov = v }
        if let v = weightDecay { r.weightDecay = v }
        if let v = schedule { r.schedule = v }
        if let v = stepEpochs { r.stepEpochs = v }
        if let v = gamma { r.gamma = v }
        if let v = labelSmoothing { r.labelSmoothing = v }
        if let v = horizontalFlip { r.horizontalFlip = v }
        if let v = warmupEpochs { r.warmupEpochs = v }
        if let v = seed { r.seed = v }
        return r
    }
}

/// Errors of the distillation workflow; every message names the key, value, layer or file.
public enum DistillError: Error, CustomStringConvertible, Equatable {
    /// A config key with a bad value.
    case invalidConfig(String)
    /// A term that cannot run (method, layer, parameter, shape).
    case invalidTerm(String)
    /// The teacher cache could not be used.
    case cache(String)

    public var description: String {
        switch self {
        case let .invalidConfig(message): message
        case let .invalidTerm(message): message
        case let .cache(message): "teacher cache: \(message)"
        }
    }
}

// MARK: - Decoding helpers

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws when the JSON object has a key that `schema` does not list, naming it and the known ones.
func rejectUnknownKeys(_ decoder: Decoder, _ schema: ConfigSchema, in context: String) throws {
    guard let c = try? decoder.container(keyedBy: AnyKey.self) else { return }
    let known = Set(schema.names)
    if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
        throw DistillError.invalidConfig(
            "\(context): unknown key '\(unknown)'; expected one of: \(known.sorted().joined(separator: ", "))")
    }
}

/// A one-line description of a decoding error with its key path.
func describe(_ error: DecodingError) -> String {
    func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
    switch error {
    case let .keyNotFound(key, context):
        let at = path(context.codingPath + [key])
        return "missing key '\(at)'"
    case let .typeMismatch(type, context):
        return "'\(path(context.codingPath))': expected \(type)"
    case let .valueNotFound(type, context):
        return "'\(path(context.codingPath))': expected \(type), found null"
    case let .dataCorrupted(context):
        let at = path(context.codingPath)
        return (at.isEmpty ? "" : "'\(at)': ") + context.debugDescription
    @unknown default:
        return "\(error)"
    }
}
