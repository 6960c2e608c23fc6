/// A hyperparameter value as a user writes it (sweep spec, CLI `key=value`).
public enum HyperValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// An enum choice by name.
    case choice(String)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return String(v)
        case .choice(let v): return "\"\(v)\""
        }
    }

    /// Parses command-line text for a parameter of `type`: integers, decimals, true/false, names.
    public static func parse(_ text: String, as type: ParamType) -> HyperValue? {
        switch type {
        case .i32, .i64: return Int64(text).map(HyperValue.int)
        case .f32, .f64: return Double(text).map(HyperValue.double)
        case .bool:
            switch text.lowercased() {
            case "true", "1", "yes": return .bool(true)
            case "false", "0", "no": return .bool(false)
            default: return nil
            }
        case .enum: return .choice(text)
        }
    }
}

/// One hyperparameter converted to its C representation, ready for libffi.
public enum CArgument: Sendable, Equatable {
    case i32(Int32)
    case i64(Int64)
    case f32(Float)
    case f64(Double)
    case bool(Bool)
}

/// Hyperparameter values checked against a method's declaration, in declaration order.
public struct BoundParams: Sendable, Equatable {
    /// The values as the user sees them (defaults filled in), by declaration order.
    public let values: [(name: String, value: HyperValue)]
    /// The C arguments, in declaration order.
    public let arguments: [CArgument]

    public static func == (a: BoundParams, b: BoundParams) -> Bool {
        a.arguments == b.arguments && a.values.map(\.name) == b.values.map(\.name)
    }

    /// The values as a name → value dictionary.
    public var dictionary: [String: HyperValue] {
        Dictionary(uniqueKeysWithValues: values.map { ($0.name, $0.value) })
    }
}

extension ParamSpec {
    /// Converts `value` for this parameter, or throws naming `owner`, the parameter, the value
    /// and what was expected.
    public func convert(_ value: HyperValue, owner: String) throws -> CArgument {
        let label = "\(owner): parameter '\(name)'"
        func number() throws -> Double {
            switch value {
            case .int(let v):
                return Double(v)
            case .double(let v):
                guard !type.isInteger else {
                    guard v.rounded() == v else {
                        throw PluginError("\(label) is an integer (\(type.rawValue)); got \(v)")
                    }
                    return v
                }
                return v
            default:
                throw PluginError("\(label) is a number (\(type.rawValue)); got \(value)")
            }
        }
        func inRange(_ v: Double) throws -> Double {
            guard v.isFinite, v >= minValue, v <= maxValue else {
                throw PluginError("\(label) must be in [\(format(minValue)), \(format(maxValue))]; got \(format(v))")
            }
            return v
        }
        switch type {
        case .i32: return .i32(Int32(try inRange(try number())))
        case .i64: return .i64(Int64(try inRange(try number())))
        case .f32: return .f32(Float(try inRange(try number())))
        case .f64: return .f64(try inRange(try number()))
        case .bool:
            guard case .bool(let b) = value else {
                throw PluginError("\(label) is a bool (true or false); got \(value)")
            }
            return .bool(b)
        case .enum:
            guard case .choice(let name) = value else {
                throw PluginError("\(label) is one of \(choices.joined(separator: ", ")); got \(value)")
            }
            guard let index = choices.firstIndex(of: name) else {
                throw PluginError("\(label) is one of \(choices.joined(separator: ", ")); got \"\(name)\"")
            }
            return .i32(Int32(index))
        }
    }
}

/// Formats a range bound without a trailing ".0" for whole numbers.
func format(_ v: Double) -> String {
    if v.rounded() == v, abs(v) < 1e15 { return String(Int64(v)) }
    return String(v)
}

extension MethodDescriptor {
    /// Checks `values` against the declaration (unknown names, types, ranges, enum choices) and
    /// fills defaults. `plugin` names the plugin for messages.
    public func bind(_ values: [String: HyperValue], plugin: String) throws -> BoundParams {
        let owner = "\(plugin)/\(id)"
        let declared = Set(params.map(\.name))
        if let unknown = values.keys.sorted().first(where: { !declared.contains($0) }) {
            let known = params.isEmpty ? "it takes none" : "expected one of: \(params.map(\.name).joined(separator: ", "))"
            throw PluginError("\(owner): unknown parameter '\(unknown)'; \(known)")
        }
        var named: [(name: String, value: HyperValue)] = []
        var arguments: [CArgument] = []
        for param in params {
            let value = values[param.name] ?? param.defaultHyperValue
            arguments.append(try param.convert(value, owner: owner))
            named.append((param.name, value))
        }
        return BoundParams(values: named, arguments: arguments)
    }

    /// Parses `key=value` texts into typed values for this method (CLI use).
    public func parse(assignments: [String], plugin: String) throws -> [String: HyperValue] {
        var out: [String: HyperValue] = [:]
        for text in assignments {
            guard let eq = text.firstIndex(of: "=") else {
                throw PluginError("'\(text)': expected NAME=VALUE")
            }
            let key = String(text[..<eq]), raw = String(text[text.index(after: eq)...])
            guard let spec = params.first(where: { $0.name == key }) else {
                throw PluginError("\(plugin)/\(id): unknown parameter '\(key)'; expected one of: \(params.map(\.name).joined(separator: ", "))")
            }
            guard let value = HyperValue.parse(raw, as: spec.type) else {
                throw PluginError("\(plugin)/\(id): parameter '\(key)' = '\(raw)' is not a valid \(spec.type.rawValue)")
            }
            out[key] = value
        }
        return out
    }
}

extension HyperValue: Codable {
    /// Decodes a TOML/JSON scalar: integers, decimals, booleans, or strings (enum choices).
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .choice(s); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a number, a boolean or a string")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .choice(let v): try c.encode(v)
        }
    }
}
