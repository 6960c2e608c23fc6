/// A declarative description of one section of a configuration (a table of a sweep spec, a
/// stage's keys, a recipe): every key with its type, default, allowed values, an example and a
/// line of documentation.
///
/// It is the one place key sets and ranges are written down: the validators take them from here
/// (unknown keys, range checks) and `lathe sweep --spec-reference` renders it to
/// `docs/sweep-spec.md`. Enum choices come from the enum's `allCases`, like
/// `decodeChoiceIfPresent`'s. A config type builds its schema from its `CodingKeys` with an
/// exhaustive `switch`, so a key cannot be decoded without being described.
public struct ConfigSchema: Sendable {
    /// The section's heading in the reference, e.g. `[baseline]` or `quantize stage`.
    public var title: String
    /// A paragraph introducing the section (Markdown).
    public var doc: String
    public var keys: [Key]

    public init(title: String, doc: String, keys: [Key]) {
        self.title = title
        self.doc = doc
        self.keys = keys
    }

    /// The keys' names, in the order the reference lists them.
    public var names: [String] { keys.map(\.name) }

    /// One key of a section.
    public struct Key: Sendable, Equatable {
        public var name: String
        /// The value's type as the reference names it (`integer`, `number`, `string`, `bool`,
        /// `table`, `array of ...`).
        public var type: String
        /// What an absent key means.
        public var defaultValue: Default
        public var allowed: Allowed
        /// A valid TOML value for the key.
        public var example: String
        /// What the key does (Markdown, one sentence or two).
        public var doc: String

        public init(_ name: String, _ type: String, default defaultValue: Default, allowed: Allowed = .any, example: String, doc: String) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.allowed = allowed
            self.example = example
            self.doc = doc
        }

        /// Whether `value` is allowed (numbers: inside the range; anything else: true).
        public func allows(_ value: Int) -> Bool {
            switch allowed {
            case .integers(let range): range.contains(value)
            case .numbers(let range): range.contains(Double(value))
            case .any, .text, .choices: true
            }
        }

        /// Whether `value` is allowed (numbers: finite and inside the range; anything else: true).
        public func allows(_ value: Double) -> Bool {
            switch allowed {
            case .integers(let range): Int(exactly: value).map(range.contains) ?? false
            case .numbers(let range): range.contains(value)
            case .any, .text, .choices: true
            }
        }

        /// Whether `value` is allowed (choices: one of them; anything else: true).
        public func allows(_ value: String) -> Bool {
            if case .choices(let choices) = allowed { return choices.contains(value) }
            return true
        }

        /// What a value must be, for error messages: "an integer in 1...100000", "a positive number".
        public var expected: String {
            switch allowed {
            case .integers(let range) where range.upperBound == Int.max: "an integer ≥ \(range.lowerBound)"
            case .integers(let range): "an integer in \(range.lowerBound)...\(range.upperBound)"
            case .numbers(let range): range.expected
            case .choices(let choices): "one of: \(choices.joined(separator: ", "))"
            case .text(let text): text
            case .any: "a \(type)"
            }
        }
    }

    /// What an absent key means.
    public enum Default: Sendable, Equatable {
        /// The key must be given.
        case required
        /// This value (TOML text).
        case value(String)
        /// What happens, in words (Markdown).
        case note(String)
    }

    /// The values a key allows.
    public enum Allowed: Sendable, Equatable {
        /// Any value of the key's type.
        case any
        /// A constraint the validator checks in its own code, described in words.
        case text(String)
        /// One of these strings.
        case choices([String])
        /// An integer in this range.
        case integers(ClosedRange<Int>)
        /// A finite number in this interval.
        case numbers(NumberRange)

        /// The choices of a string enum, in declaration order.
        public static func choices<T: RawRepresentable & CaseIterable>(of _: T.Type) -> Allowed where T.RawValue == String {
            .choices(T.allCases.map(\.rawValue))
        }
    }

    /// An interval of finite numbers; an end is open or closed, `upper` may be +∞.
    public struct NumberRange: Sendable, Equatable {
        public var lower: Double
        public var lowerClosed: Bool
        public var upper: Double
        public var upperClosed: Bool

        public init(lower: Double, lowerClosed: Bool, upper: Double = .infinity, upperClosed: Bool = false) {
            self.lower = lower
            self.lowerClosed = lowerClosed
            self.upper = upper
            self.upperClosed = upperClosed
        }

        /// (0, ∞).
        public static let positive = NumberRange(lower: 0, lowerClosed: false)
        /// [0, ∞).
        public static let nonNegative = NumberRange(lower: 0, lowerClosed: true)
        /// [0, 1).
        public static let fraction = NumberRange(lower: 0, lowerClosed: true, upper: 1, upperClosed: false)

        public func contains(_ x: Double) -> Bool {
            x.isFinite && (lowerClosed ? x >= lower : x > lower) && (upperClosed ? x <= upper : x < upper)
        }

        /// The interval in mathematical notation: `[0, 1)`, `(0, ∞)`.
        public var notation: String {
            "\(lowerClosed ? "[" : "(")\(Self.format(lower)), \(upper.isFinite ? Self.format(upper) : "∞")\(upperClosed && upper.isFinite ? "]" : ")")"
        }

        /// For error messages: "a positive number", "a non-negative number", "a number in [0, 1)".
        public var expected: String {
            if !upper.isFinite, lower == 0 { return lowerClosed ? "a non-negative number" : "a positive number" }
            return "a number in \(notation)"
        }

        /// A bound as TOML would write it: integers without a fraction.
        static func format(_ x: Double) -> String {
            if let n = Int(exactly: x) { return String(n) }
            return String(x)
        }
    }
}

extension ConfigSchema.Key {
    /// A number as TOML writes a float (`1.0`, `0.05`), for defaults.
    public static func toml(_ x: Double) -> String {
        Int(exactly: x) != nil ? String(format: "%.1f", x) : String(x)
    }
}
