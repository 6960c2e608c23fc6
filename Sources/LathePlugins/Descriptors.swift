import CLathePlugin

/// The kinds of compression method a plugin can provide.
public enum MethodKind: String, Sendable, Codable, CaseIterable {
    case quantizer, criterion, loss
    /// [1.2] A layer solver: W and the layer's input statistics → W′ (quantized or masked).
    case solver
    /// [1.3] A channel scaler: W and the layer's input statistics → one positive scale per input
    /// channel (SmoothQuant, AWQ), which the host multiplies into W and divides out of the input.
    case scaler
    /// [1.3] A factorizer: W → A·B of a rank it chooses (SVD, ASVD); the host replaces the layer by two.
    case factorizer

    init?(code: Int32) {
        switch code {
        case Int32(LATHE_KIND_QUANTIZER.rawValue): self = .quantizer
        case Int32(LATHE_KIND_CRITERION.rawValue): self = .criterion
        case Int32(LATHE_KIND_LOSS.rawValue): self = .loss
        case Int32(LATHE_KIND_SOLVER.rawValue): self = .solver
        case Int32(LATHE_KIND_SCALER.rawValue): self = .scaler
        case Int32(LATHE_KIND_FACTORIZER.rawValue): self = .factorizer
        default: return nil
        }
    }

    /// The ABI minor version that introduced this kind.
    public var minorIntroduced: Int {
        switch self {
        case .quantizer, .criterion, .loss: 0
        case .solver: 2
        case .scaler, .factorizer: 3
        }
    }

    /// Number of fixed leading arguments of this kind's calling convention (after `lathe_call*`).
    var fixedPointerArguments: Int {
        switch self {
        case .quantizer: return 2  // input, output
        case .criterion: return 4  // weight, gradient, aux, scores
        case .loss: return 5       // student, teacher, labels, loss, student_grad
        case .solver: return 3     // weight, new_weight, mask
        case .scaler: return 2     // weight, scales
        case .factorizer: return 3 // weight, a, b
        }
    }
}

/// The C type a hyperparameter is passed as.
public enum ParamType: String, Sendable, Codable, CaseIterable {
    case i32, i64, f32, f64, bool, `enum`

    init?(code: Int32) {
        switch code {
        case Int32(LATHE_PARAM_I32.rawValue): self = .i32
        case Int32(LATHE_PARAM_I64.rawValue): self = .i64
        case Int32(LATHE_PARAM_F32.rawValue): self = .f32
        case Int32(LATHE_PARAM_F64.rawValue): self = .f64
        case Int32(LATHE_PARAM_BOOL.rawValue): self = .bool
        case Int32(LATHE_PARAM_ENUM.rawValue): self = .enum
        default: return nil
        }
    }

    /// Whether values are numbers with a range.
    public var isNumeric: Bool { self == .i32 || self == .i64 || self == .f32 || self == .f64 }
    /// Whether values are integers.
    public var isInteger: Bool { self == .i32 || self == .i64 }
}

/// What a pruning criterion scores.
public enum Granularity: String, Sendable, Codable {
    case none, element, outputChannel = "output-channel"

    init?(code: Int32) {
        switch code {
        case Int32(LATHE_GRANULARITY_NONE.rawValue): self = .none
        case Int32(LATHE_GRANULARITY_ELEMENT.rawValue): self = .element
        case Int32(LATHE_GRANULARITY_OUTPUT_CHANNEL.rawValue): self = .outputChannel
        default: return nil
        }
    }
}

/// What a distillation loss compares.
public enum LossCategory: String, Sendable, Codable {
    case none, response, feature, relation

    init?(code: Int32) {
        switch code {
        case Int32(LATHE_LOSS_NONE.rawValue): self = .none
        case Int32(LATHE_LOSS_RESPONSE.rawValue): self = .response
        case Int32(LATHE_LOSS_FEATURE.rawValue): self = .feature
        case Int32(LATHE_LOSS_RELATION.rawValue): self = .relation
        default: return nil
        }
    }
}

/// One declared hyperparameter.
public struct ParamSpec: Sendable, Equatable {
    public var name: String
    public var type: ParamType
    public var doc: String
    /// Numbers: the value; bool: 0 or 1; enum: the index of the default choice.
    public var defaultValue: Double
    /// Inclusive range of numeric values (ignored for bool and enum).
    public var minValue: Double
    public var maxValue: Double
    /// Enum only: the choice names.
    public var choices: [String]

    public init(name: String, type: ParamType, doc: String = "", defaultValue: Double,
                minValue: Double = 0, maxValue: Double = 0, choices: [String] = []) {
        self.name = name
        self.type = type
        self.doc = doc
        self.defaultValue = defaultValue
        self.minValue = minValue
        self.maxValue = maxValue
        self.choices = choices
    }

    /// The default as a typed value.
    public var defaultHyperValue: HyperValue {
        switch type {
        case .i32, .i64: return .int(Int64(defaultValue))
        case .f32, .f64: return .double(defaultValue)
        case .bool: return .bool(defaultValue != 0)
        case .enum:
            let index = Int(defaultValue)
            return .choice(choices.indices.contains(index) ? choices[index] : "")
        }
    }

    /// Checks the declaration itself; `owner` names the method for messages.
    func validateDeclaration(owner: String) throws {
        guard Identifier.isParamName(name) else {
            throw PluginError("\(owner): parameter name '\(name)' is not [a-z][a-z0-9_]*")
        }
        switch type {
        case .i32, .i64, .f32, .f64:
            guard minValue.isFinite, maxValue.isFinite, minValue <= maxValue else {
                throw PluginError("\(owner): parameter '\(name)' has range [\(format(minValue)), \(format(maxValue))]; expected finite min <= max")
            }
            guard defaultValue >= minValue, defaultValue <= maxValue else {
                throw PluginError("\(owner): parameter '\(name)' default \(format(defaultValue)) is outside its range [\(format(minValue)), \(format(maxValue))]")
            }
            if type.isInteger, defaultValue.rounded() != defaultValue {
                throw PluginError("\(owner): integer parameter '\(name)' has non-integer default \(defaultValue)")
            }
            if type == .i32, minValue < Double(Int32.min) || maxValue > Double(Int32.max) {
                throw PluginError("\(owner): i32 parameter '\(name)' has a range beyond 32 bits")
            }
        case .bool:
            guard defaultValue == 0 || defaultValue == 1 else {
                throw PluginError("\(owner): bool parameter '\(name)' has default \(defaultValue); expected 0 or 1")
            }
        case .enum:
            guard !choices.isEmpty else {
                throw PluginError("\(owner): enum parameter '\(name)' declares no choices")
            }
            for choice in choices where !Identifier.isChoice(choice) {
                throw PluginError("\(owner): enum parameter '\(name)' has choice '\(choice)'; expected [a-z0-9_-]+")
            }
            guard Set(choices).count == choices.count else {
                throw PluginError("\(owner): enum parameter '\(name)' repeats a choice")
            }
            guard defaultValue >= 0, defaultValue < Double(choices.count), defaultValue.rounded() == defaultValue else {
                throw PluginError("\(owner): enum parameter '\(name)' default index \(defaultValue) is not one of its \(choices.count) choices")
            }
        }
    }
}

/// [1.1] How the host shapes a learnable tensor from the tensors its instance sees
/// (`lathe_shape_rule`). Names as written in manifests.
public enum ShapeRule: String, Sendable, Codable, CaseIterable {
    /// `[1]`.
    case scalar
    /// `[C]`: the size of the input's dimension `CallContext.axis` (`[1]` for axis -1).
    case perChannel = "per-channel"
    /// `[shape[0], ceil(row / G)]`, row = elements / shape[0], G = the size parameter.
    case perGroup = "per-group"
    /// `[E]`, E = the size parameter.
    case vector
    /// Losses: `[E, student elements per sample]`.
    case studentProjection = "student-projection"
    /// Losses: `[E, teacher elements per sample]`.
    case teacherProjection = "teacher-projection"

    init?(code: Int32) {
        switch code {
        case Int32(LATHE_SHAPE_SCALAR.rawValue): self = .scalar
        case Int32(LATHE_SHAPE_PER_CHANNEL.rawValue): self = .perChannel
        case Int32(LATHE_SHAPE_PER_GROUP.rawValue): self = .perGroup
        case Int32(LATHE_SHAPE_VECTOR.rawValue): self = .vector
        case Int32(LATHE_SHAPE_STUDENT_PROJECTION.rawValue): self = .studentProjection
        case Int32(LATHE_SHAPE_TEACHER_PROJECTION.rawValue): self = .teacherProjection
        default: return nil
        }
    }

    /// Whether the rule takes its size (G or E) from an integer hyperparameter.
    public var needsSizeParam: Bool {
        switch self {
        case .scalar, .perChannel: return false
        case .perGroup, .vector, .studentProjection, .teacherProjection: return true
        }
    }

    /// The rules a method of `kind` may use.
    static func allowed(for kind: MethodKind) -> [ShapeRule] {
        switch kind {
        case .quantizer: return [.scalar, .perChannel, .perGroup]
        case .loss: return allCases
        case .criterion, .solver, .scaler, .factorizer: return []
        }
    }
}

/// [1.1] One learnable tensor a method declares (`lathe_learnable`).
public struct LearnableDescriptor: Sendable, Equatable {
    /// `[a-z][a-z0-9_]*`, unique within the method.
    public var name: String
    public var rule: ShapeRule
    /// The I32/I64 hyperparameter giving the rule's size (per-group, vector, projections); nil otherwise.
    public var sizeParam: String?
    public var doc: String

    public init(name: String, rule: ShapeRule, sizeParam: String? = nil, doc: String = "") {
        self.name = name
        self.rule = rule
        self.sizeParam = sizeParam
        self.doc = doc
    }
}

/// A method as declared by its plugin (and recorded in the manifest).
public struct MethodDescriptor: Sendable, Equatable {
    /// The plugin-local id; the namespaced id is `plugin/id`.
    public var id: String
    public var title: String
    public var doc: String
    public var reference: String
    public var kind: MethodKind
    public var flags: MethodFlags
    public var granularity: Granularity
    public var lossCategory: LossCategory
    public var params: [ParamSpec]
    /// [1.1] Learnable tensors, in declaration order (the host owns them: `MethodInstance`).
    public var learnables: [LearnableDescriptor]
    /// [1.1] Whether the method has a `backward` entry (quantizers).
    public var hasBackward: Bool
    /// [1.1] Whether the method has an `init_learnables` entry (exactly when it has learnables).
    public var hasInitLearnables: Bool

    public init(id: String, title: String, doc: String = "", reference: String = "", kind: MethodKind,
                flags: MethodFlags, granularity: Granularity = .none, lossCategory: LossCategory = .none,
                params: [ParamSpec] = [], learnables: [LearnableDescriptor] = [], hasBackward: Bool = false,
                hasInitLearnables: Bool = false) {
        self.id = id
        self.title = title
        self.doc = doc
        self.reference = reference
        self.kind = kind
        self.flags = flags
        self.granularity = granularity
        self.lossCategory = lossCategory
        self.params = params
        self.learnables = learnables
        self.hasBackward = hasBackward
        self.hasInitLearnables = hasInitLearnables
    }

    /// Maximum number of hyperparameters a method may declare.
    public static let maxParams = 16
    /// [1.1] Maximum number of learnables a method may declare (`LATHE_MAX_LEARNABLES`).
    public static let maxLearnables = Int(LATHE_MAX_LEARNABLES)

    /// Checks that the descriptor is internally consistent; `plugin` names the plugin.
    public func validate(plugin: String) throws {
        let owner = "\(plugin)/\(id)"
        guard Identifier.isMethodID(id) else {
            throw PluginError("plugin '\(plugin)': method id '\(id)' is not [a-z][a-z0-9_.-]*")
        }
        guard params.count <= Self.maxParams else {
            throw PluginError("\(owner): declares \(params.count) parameters; at most \(Self.maxParams) are allowed")
        }
        var seen = Set<String>()
        for param in params {
            try param.validateDeclaration(owner: owner)
            guard seen.insert(param.name).inserted else {
                throw PluginError("\(owner): parameter '\(param.name)' is declared twice")
            }
        }
        switch kind {
        case .quantizer:
            guard granularity == .none, lossCategory == .none else {
                throw PluginError("\(owner): a quantizer declares granularity none and loss category none")
            }
            guard flags.isDisjoint(with: [.needsGradient, .needsAux, .solverPrunes]) else {
                throw PluginError("\(owner): needs-gradient, needs-aux and solver-prunes do not apply to quantizers")
            }
            // [1.3] A quantizer may read the statistics of a weight's layer input (post-training weight quantization).
            guard flags.isDisjoint(with: .inputStatistics) || learnables.isEmpty else {
                throw PluginError("\(owner): a quantizer with learnables cannot declare needs-input-* (statistics are for post-training weight quantization)")
            }
        case .criterion:
            guard granularity == .element || granularity == .outputChannel else {
                throw PluginError("\(owner): a criterion declares granularity element or output-channel")
            }
            guard lossCategory == .none, !flags.contains(.solverPrunes) else {
                throw PluginError("\(owner): a criterion declares loss category none and not solver-prunes")
            }
        case .loss:
            guard lossCategory != .none else {
                throw PluginError("\(owner): a loss declares category response, feature or relation")
            }
            guard granularity == .none, flags.isDisjoint(with: [.needsGradient, .needsAux, .solverPrunes]), flags.isDisjoint(with: .inputStatistics) else {
                throw PluginError("\(owner): a loss declares granularity none and none of needs-gradient, needs-aux, needs-input-* and solver-prunes")
            }
        case .solver:
            guard granularity == .none, lossCategory == .none, flags.isDisjoint(with: [.needsGradient, .needsAux]) else {
                throw PluginError("\(owner): a solver declares granularity none, loss category none, and neither needs-gradient nor needs-aux")
            }
        case .scaler:
            guard granularity == .none, lossCategory == .none, flags.isDisjoint(with: [.needsGradient, .needsAux, .solverPrunes]) else {
                throw PluginError("\(owner): a scaler declares granularity none, loss category none, and none of needs-gradient, needs-aux and solver-prunes")
            }
            guard !flags.isDisjoint(with: .inputStatistics) else {
                throw PluginError("\(owner): a scaler needs at least one needs-input-* flag (its scales come from the layer's input statistics)")
            }
        case .factorizer:
            guard granularity == .none, lossCategory == .none, flags.isDisjoint(with: [.needsGradient, .needsAux, .solverPrunes]) else {
                throw PluginError("\(owner): a factorizer declares granularity none, loss category none, and none of needs-gradient, needs-aux and solver-prunes")
            }
        }
        try validateLearnables(owner: owner)
    }

    /// [1.1] The learnables, `init_learnables` and `backward` against the kind and the parameters.
    private func validateLearnables(owner: String) throws {
        guard learnables.count <= Self.maxLearnables else {
            throw PluginError("\(owner): declares \(learnables.count) learnables; at most \(Self.maxLearnables) (LATHE_MAX_LEARNABLES) are allowed")
        }
        if kind == .criterion || kind == .solver || kind == .scaler || kind == .factorizer {
            guard learnables.isEmpty, !hasBackward, !hasInitLearnables else {
                throw PluginError("\(owner): a \(kind.rawValue) declares no learnables, init_learnables or backward")
            }
            return
        }
        if kind == .loss, hasBackward {
            throw PluginError("\(owner): backward applies to quantizers only (a loss writes its learnables' gradients in the loss call)")
        }
        var seen = Set<String>()
        for learnable in learnables {
            let label = "\(owner): learnable '\(learnable.name)'"
            guard Identifier.isParamName(learnable.name) else {
                throw PluginError("\(owner): learnable name '\(learnable.name)' is not [a-z][a-z0-9_]*")
            }
            guard seen.insert(learnable.name).inserted else {
                throw PluginError("\(label) is declared twice")
            }
            let allowed = ShapeRule.allowed(for: kind)
            guard allowed.contains(learnable.rule) else {
                throw PluginError("\(label) has shape rule \(learnable.rule.rawValue); a \(kind.rawValue) may use \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            if learnable.rule.needsSizeParam {
                guard let size = learnable.sizeParam else {
                    throw PluginError("\(label) has shape rule \(learnable.rule.rawValue), which needs size_param (an i32 or i64 hyperparameter)")
                }
                guard let spec = params.first(where: { $0.name == size }) else {
                    throw PluginError("\(label): size_param '\(size)' is not a hyperparameter of the method")
                }
                guard spec.type.isInteger else {
                    throw PluginError("\(label): size_param '\(size)' is a \(spec.type.rawValue) hyperparameter; expected i32 or i64")
                }
            } else if let size = learnable.sizeParam {
                throw PluginError("\(label) has shape rule \(learnable.rule.rawValue), which takes no size_param (got '\(size)'; set it to NULL)")
            }
        }
        guard hasInitLearnables == !learnables.isEmpty else {
            throw PluginError(learnables.isEmpty
                ? "\(owner): sets init_learnables but declares no learnables"
                : "\(owner): declares \(learnables.count) learnable(s) but no init_learnables (required with learnables)")
        }
        if kind == .quantizer, !learnables.isEmpty, !hasBackward {
            throw PluginError("\(owner): a quantizer with learnables must set backward (the gradient w.r.t. its input and each learnable)")
        }
    }
}

/// A plugin as declared by its library.
public struct PluginDescriptor: Sendable, Equatable {
    public var name: String
    public var version: String
    public var description: String
    public var abiMajor: Int
    public var abiMinor: Int
    public var methods: [MethodDescriptor]

    public init(name: String, version: String, description: String, abiMajor: Int, abiMinor: Int,
                methods: [MethodDescriptor]) {
        self.name = name
        self.version = version
        self.description = description
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.methods = methods
    }

    /// The method with plugin-local id `id`.
    public func method(_ id: String) -> MethodDescriptor? { methods.first { $0.id == id } }

    /// The rule a plugin name follows, for messages.
    public static let nameRule = "a lowercase letter, then lowercase letters, digits, '_' or '-' ([a-z][a-z0-9_-]*, at most 64 characters)"

    /// Whether `name` is a valid plugin name (`nameRule`).
    public static func isValidName(_ name: String) -> Bool { Identifier.isPluginName(name) }
}

/// Identifier rules of the ABI.
enum Identifier {
    private static func matches(_ text: String, first: (Character) -> Bool, rest: (Character) -> Bool) -> Bool {
        guard let head = text.first, first(head), text.count <= 64 else { return false }
        return text.dropFirst().allSatisfy(rest)
    }
    private static func lower(_ c: Character) -> Bool { c >= "a" && c <= "z" }
    private static func digit(_ c: Character) -> Bool { c >= "0" && c <= "9" }

    static func isPluginName(_ s: String) -> Bool {
        matches(s, first: lower) { lower($0) || digit($0) || $0 == "_" || $0 == "-" }
    }
    static func isMethodID(_ s: String) -> Bool {
        matches(s, first: lower) { lower($0) || digit($0) || $0 == "_" || $0 == "-" || $0 == "." }
    }
    static func isParamName(_ s: String) -> Bool {
        matches(s, first: lower) { lower($0) || digit($0) || $0 == "_" }
    }
    static func isChoice(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { lower($0) || digit($0) || $0 == "_" || $0 == "-" }
    }
}
