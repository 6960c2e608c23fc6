import Foundation
import LatheDistill
import LatheIO
import LathePlugins
import LathePruning
import LatheQuant
import LatheTrain
import TOMLKit

/// A JSON value (the spec's tables after TOML parsing, and trial configurations).
public enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Converts a `JSONSerialization` object.
    public init(_ any: Any) throws {
        switch any {
        case is NSNull: self = .null
        case let b as Bool where !(any is Int || any is Double): self = .bool(b)
        case let n as NSNumber:
            // JSONSerialization hands booleans out as NSNumber with objCType "c".
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) } else { self = .number(n.doubleValue) }
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(try a.map(JSONValue.init))
        case let o as [String: Any]: self = .object(try o.mapValues(JSONValue.init))
        default: throw SweepError("unsupported value \(any)")
        }
    }

    /// Converts a parsed TOML value (dates become their TOML text).
    init(toml value: TOMLValueConvertible) {
        if let t = value.table {
            var o: [String: JSONValue] = [:]
            for key in t.keys { if let v = t[key] { o[key] = JSONValue(toml: v) } }
            self = .object(o)
        } else if let a = value.array {
            self = .array(a.map { JSONValue(toml: $0) })
        } else if let b = value.bool {
            self = .bool(b)
        } else if let i = value.int {
            self = .number(Double(i))
        } else if let d = value.double {
            self = .number(d)
        } else if let s = value.string {
            self = .string(s)
        } else {
            self = .string(value.debugDescription)
        }
    }

    /// A `JSONSerialization` object.
    public var any: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? NSNumber(value: Int64(n)) : NSNumber(value: n)
        case .string(let s): return s
        case .array(let a): return a.map(\.any)
        case .object(let o): return o.mapValues(\.any)
        }
    }

    public var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }

    /// This value decoded as `T` (a stage's table as its config type).
    public func decoded<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: JSONSerialization.data(withJSONObject: any))
    }
    /// The value as an `Int` when it is exactly one (nil for fractions, NaN, ±inf and
    /// magnitudes beyond `Int`).
    public var int: Int? { if case .number(let n) = self { return Int(exactly: n) }; return nil }
    public var double: Double? { if case .number(let n) = self { return n }; return nil }

    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0) = \(o[$0] ?? .null)" }.joined(separator: ", ") + "}"
        }
    }

    /// A copy with `value` at `path`: keys of tables (missing ones created) and decimal indices
    /// of existing array elements (`terms.0.params.beta`). `key` is the whole grid key, for errors.
    func setting(_ path: ArraySlice<String>, to value: JSONValue, key: String) throws -> JSONValue {
        guard let head = path.first else { return value }
        let rest = path.dropFirst()
        switch self {
        case .array(var elements):
            let valid = elements.isEmpty ? "the array is empty" : "valid indices: 0...\(elements.count - 1)"
            guard let index = Int(head) else {
                throw SweepError("grid key '\(key)': '\(head)' addresses an array, so it must be an index (\(valid))")
            }
            guard elements.indices.contains(index) else {
                throw SweepError("grid key '\(key)': index \(head) is out of range (\(valid))")
            }
            elements[index] = try elements[index].setting(rest, to: value, key: key)
            return .array(elements)
        case .object(var o):
            if o[head] == nil, let next = rest.first, Int(next) != nil {
                throw SweepError("grid key '\(key)': there is no array '\(head)' whose element \(next) it could address")
            }
            o[head] = try (o[head] ?? .object([:])).setting(rest, to: value, key: key)
            return .object(o)
        default:
            throw SweepError("grid key '\(key)': '\(head)' cannot address into the value \(self), which is neither a table nor an array")
        }
    }

    /// The value at `path` (table keys and decimal array indices), or nil.
    func at(_ path: [String]) -> JSONValue? {
        guard let head = path.first else { return self }
        switch self {
        case .object(let o): return o[head]?.at(Array(path.dropFirst()))
        case .array(let a): return Int(head).flatMap { a.indices.contains($0) ? a[$0] : nil }?.at(Array(path.dropFirst()))
        default: return nil
        }
    }

    /// Paths (keys and array indices) of the numbers that are not exactly an `Int`.
    func nonIntegerNumberPaths(prefix: [String] = []) -> [[String]] {
        switch self {
        case .number: return int == nil ? [prefix] : []
        case .array(let a): return a.indices.flatMap { a[$0].nonIntegerNumberPaths(prefix: prefix + [String($0)]) }
        case .object(let o): return o.keys.sorted().flatMap { o[$0]?.nonIntegerNumberPaths(prefix: prefix + [$0]) ?? [] }
        default: return []
        }
    }

    /// The dotted path and value of the first NaN or infinite number (JSON has neither), or nil.
    func firstNonFinite(prefix: String = "") -> (path: String, value: Double)? {
        func join(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
        switch self {
        case .number(let n): return n.isFinite ? nil : (prefix, n)
        case .array(let a): return a.indices.lazy.compactMap { a[$0].firstNonFinite(prefix: join(String($0))) }.first
        case .object(let o): return o.keys.sorted().lazy.compactMap { o[$0]?.firstNonFinite(prefix: join($0)) }.first
        default: return nil
        }
    }

    /// JSON text for a decoder, written directly (no Foundation bridging): integers up to 1e15
    /// in integer notation, other numbers as Swift prints them. NaN and infinities have no JSON
    /// form; callers refuse them first (`firstNonFinite`).
    var json: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): return Self.quote(s)
        case .array(let a): return "[" + a.map(\.json).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { Self.quote($0) + ":" + (o[$0] ?? .null).json }.joined(separator: ",") + "}"
        }
    }

    private static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Canonical JSON text (sorted keys), used for trial keys.
    var canonical: String {
        let data = (try? JSONSerialization.data(withJSONObject: any, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Fine-tuning between stages: more epochs of the baseline recipe (optionally another peak lr).
public struct FinetuneConfig: Codable, Sendable, Equatable {
    public var epochs: Int = 1
    public var lr: Double?
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case epochs, lr }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? FinetuneConfig().epochs
        lr = try c.decodeIfPresent(Double.self, forKey: .lr)
    }
}

/// One stage of a trial, resolved (grid applied) and validated.
public struct ResolvedStage: Codable, Sendable, Equatable {
    public var kind: String
    /// The stage's configuration (its config type's JSON).
    public var config: JSONValue
}

/// One trial: a group's pipeline at one grid point, for one seed.
public struct TrialPlan: Codable, Sendable, Equatable {
    public var group: String
    /// The configuration label without the seed (e.g. `quantization: bits=4`).
    public var label: String
    public var stages: [ResolvedStage]
    public var seed: UInt64

    /// A stable identity (the sweep's resume key): group, label, stages and seed.
    public var key: String {
        let stageText = JSONValue.array(stages.map { .object(["kind": .string($0.kind), "config": $0.config]) }).canonical
        return "\(group)|\(label)|seed=\(seed)|\(SHA256.hex(Array(stageText.utf8)).prefix(16))"
    }

    /// The dense fp32 baseline of a seed.
    public static func baseline(seed: UInt64) -> TrialPlan {
        TrialPlan(group: "baseline", label: "baseline (fp32)", stages: [], seed: seed)
    }
}

extension SweepSpec.Group {
    /// Grid points: one assignment per axis, cartesian product in spec order.
    func points() -> [[(key: String, value: JSONValue)]] {
        var points: [[(key: String, value: JSONValue)]] = [[]]
        for axis in grid {
            points = points.flatMap { p in axis.values.map { p + [(axis.key, $0)] } }
        }
        return points
    }

    /// The stages with a grid point applied, decoded and validated against the registry.
    func resolve(_ point: [(key: String, value: JSONValue)], spec file: String, locate: Locator, registry: Registry) throws
        -> (label: String, stages: [ResolvedStage])
    {
        var stages = self.stages
        for (key, value) in point {
            let parts = key.split(separator: ".").map(String.init)
            guard parts.count >= 2, let index = stages.firstIndex(where: { $0["kind"] == .string(parts[0]) }) else {
                throw locate.error(key, "group '\(name)': grid key '\(key)' must be KIND.KEY for a stage kind of the group")
            }
            var o: [String: JSONValue]
            do {
                o = try JSONValue.object(stages[index]).setting(parts.dropFirst()[...], to: value, key: key).object ?? [:]
            } catch let error as SweepError {
                throw locate.error(key, "group '\(name)': \(error.message)")
            }
            o["kind"] = .string(parts[0])
            stages[index] = o
        }
        var resolved: [ResolvedStage] = []
        for (i, stage) in stages.enumerated() {
            guard case .string(let kind)? = stage["kind"] else { continue }
            var body = stage
            body["kind"] = nil
            let section = "group '\(name)' stage \(i + 1) (\(kind))"
            let config = JSONValue.object(body)
            do {
                guard let stageKind = StageKinds.named(kind) else {
                    throw locate.error(inGroup: name, key: "kind = \"\(kind)\"", "\(section): unknown stage kind '\(kind)' (expected \(StageKinds.list))")
                }
                try stageKind.validate(config, StageCheck(section: section, group: name, registry: registry, locate: locate))
            } catch let error as SweepError {
                throw error
            } catch {
                // Plugin, pruning and distillation errors quote the key or value at fault: find its line.
                throw locate.error(inGroup: name, key: "kind = \"\(kind)\"", "\(section): \(error)")
            }
            resolved.append(ResolvedStage(kind: kind, config: config))
        }
        let label = point.isEmpty ? name : "\(name): " + point.map { "\($0.key.split(separator: ".").last ?? "")=\($0.value)" }.joined(separator: ", ")
        return (label, resolved)
    }
}

extension SweepSpec {
    /// Every trial: one baseline per seed, then each group's grid points × seeds.
    public func trials(registry: Registry) throws -> [TrialPlan] {
        let locate = Locator(file: file, text: text)
        var plans = seeds.map(TrialPlan.baseline)
        for group in groups {
            for point in group.points() {
                let (label, stages) = try group.resolve(point, spec: file, locate: locate, registry: registry)
                plans += seeds.map { TrialPlan(group: group.name, label: label, stages: stages, seed: $0) }
            }
        }
        return plans
    }
}
