import Foundation
import LatheDistill
import LatheModels
import LathePlugins
import LathePruning
import LatheQuant
import LatheTrain
import TOMLKit

/// A sweep specification (TOML), validated against the registry before anything runs.
///
/// ```toml
/// name = "quickstart"
/// model = "lenet5"            # zoo model of the baseline (and of quantize / prune trials)
/// dataset = "fashion-mnist"
/// seeds = [0, 1]
/// limit_train = 20000         # optional: first N training images
/// limit_test = 5000
/// timeout = 900               # seconds per trial
///
/// [baseline]                  # the dense fp32 recipe, trained once per seed and shared
/// epochs = 3
///
/// [[groups]]
/// name = "quantization"
/// stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true } }]
/// grid = { "quantize.params.bits" = [4, 8] }
/// ```
/// Stage kinds: `quantize` (QuantConfig keys), `prune` (PruningConfig keys), `finetune`
/// (`epochs`, `lr`), `distill` (DistillConfig keys; the student replaces the model). Grid keys
/// are `KIND.KEY[.SUBKEY]`, applied to the group's first stage of that kind.
public struct SweepSpec: Sendable {
    public var name: String
    public var file: String
    public var text: String
    public var model: String
    public var dataset: DataSource
    public var seeds: [UInt64]
    public var limitTrain: Int?
    public var limitTest: Int?
    public var timeout: Double
    public var baseline: Recipe
    public var groups: [Group]

    /// One trial group: a pipeline of stages and a grid over their keys.
    public struct Group: Sendable {
        public var name: String
        /// The stages as JSON objects (kind plus the stage's keys), before grid substitution.
        public var stages: [[String: JSONValue]]
        /// Grid axes in spec order: key path and its values.
        public var grid: [(key: String, values: [JSONValue])]
    }

    /// Parses and validates `file`; every error names the file, the line and the key.
    public static func load(_ file: String, registry: Registry) throws -> SweepSpec {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw SweepError("\(file): cannot read the sweep spec")
        }
        return try parse(text, file: file, registry: registry)
    }

    /// Parses and validates spec text.
    public static func parse(_ text: String, file: String, registry: Registry) throws -> SweepSpec {
        let locate = Locator(file: file, text: text)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SweepError("\(file):\(error.source.begin.line): invalid TOML: \(error.description)")
        }
        let root = JSONValue(toml: table).object ?? [:]
        let known: Set<String> = ["name", "model", "dataset", "seeds", "limit_train", "limit_test", "timeout", "baseline", "groups"]
        for key in root.keys.sorted() where !known.contains(key) {
            throw locate.error(key, "unknown key '\(key)' (expected one of: \(known.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String, default value: String? = nil) throws -> String {
            guard let v = root[key] else {
                if let value { return value }
                throw SweepError("\(file): missing key '\(key)'")
            }
            guard case .string(let s) = v else { throw locate.error(key, "key '\(key)' must be a string") }
            return s
        }
        func integer(_ key: String) throws -> Int? {
            guard let v = root[key] else { return nil }
            guard let n = v.int, n > 0 else { throw locate.error(key, "key '\(key)' must be a positive integer") }
            return n
        }
        let name = try string("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw locate.error("name", "key 'name' = \"\(name)\" must be letters, digits, - and _")
        }
        let model = try string("model", default: "lenet5")
        guard Zoo.names.contains(model) else {
            throw locate.error("model", "key 'model' = \"\(model)\" is not a zoo model (\(Zoo.names.joined(separator: ", ")))")
        }
        let datasetName = try string("dataset", default: DataSource.fashionMNIST.rawValue)
        guard let dataset = DataSource(rawValue: datasetName) else {
            throw locate.error("dataset", "key 'dataset' = \"\(datasetName)\" (expected \(DataSource.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case .array(let seedValues)? = root["seeds"], !seedValues.isEmpty else {
            throw locate.error("seeds", "key 'seeds' must be a non-empty array of integers, e.g. seeds = [0, 1]")
        }
        let seeds = try seedValues.map { v -> UInt64 in
            guard let n = v.int, n >= 0 else { throw locate.error("seeds", "key 'seeds' holds \(v); expected non-negative integers") }
            return UInt64(n)
        }
        guard Set(seeds).count == seeds.count else { throw locate.error("seeds", "key 'seeds' repeats a seed") }
        var timeout = 1800.0
        if let v = root["timeout"] {
            guard let t = v.double, t > 0 else { throw locate.error("timeout", "key 'timeout' must be a positive number of seconds") }
            timeout = t
        }
        let baseline = try decode(RecipeOverrides.self, root["baseline"] ?? .object([:]), section: "baseline", locate: locate)
            .applied(to: Recipe())
        do { try baseline.validate() } catch { throw locate.error("baseline", "[baseline]: \(error)") }

        guard case .array(let groupValues)? = root["groups"], !groupValues.isEmpty else {
            throw SweepError("\(file): no [[groups]]: a sweep needs at least one trial group")
        }
        var groups: [Group] = []
        for (index, value) in groupValues.enumerated() {
            guard let g = value.object else { throw SweepError("\(file): groups[\(index)] must be a table") }
            for key in g.keys.sorted() where !["name", "stages", "grid"].contains(key) {
                throw locate.error(key, "groups[\(index)]: unknown key '\(key)' (expected name, stages, grid)")
            }
            guard case .string(let groupName)? = g["name"], !groupName.isEmpty, groupName != "baseline" else {
                throw SweepError("\(file): groups[\(index)] needs a name (not \"baseline\", which is reserved)")
            }
            guard !groups.contains(where: { $0.name == groupName }) else {
                throw locate.error("name = \"\(groupName)\"", "group name '\(groupName)' is used twice")
            }
            guard case .array(let stageValues)? = g["stages"], !stageValues.isEmpty else {
                throw locate.error("name = \"\(groupName)\"", "group '\(groupName)' needs stages = [{ kind = ... }, ...]")
            }
            let stages = try stageValues.enumerated().map { i, v -> [String: JSONValue] in
                guard let s = v.object, case .string? = s["kind"] else {
                    throw SweepError("\(file): group '\(groupName)' stage \(i + 1) needs a kind (quantize, prune, finetune or distill)")
                }
                return s
            }
            var grid: [(String, [JSONValue])] = []
            if let gridValue = g["grid"] {
                guard let axes = gridValue.object else { throw locate.error("grid", "group '\(groupName)': grid must be a table of arrays") }
                for key in axes.keys.sorted() {
                    guard case .array(let values)? = axes[key], !values.isEmpty else {
                        throw locate.error(key, "group '\(groupName)': grid key '\(key)' must be a non-empty array")
                    }
                    grid.append((key, values))
                }
            }
            let group = Group(name: groupName, stages: stages, grid: grid)
            // Validate every grid point now, against the registry (no plugin code is loaded).
            for point in group.points() {
                _ = try group.resolve(point, spec: file, locate: locate, registry: registry)
            }
            groups.append(group)
        }
        return SweepSpec(name: name, file: file, text: text, model: model, dataset: dataset, seeds: seeds,
                         limitTrain: try integer("limit_train"), limitTest: try integer("limit_test"), timeout: timeout,
                         baseline: baseline, groups: groups)
    }

    /// Decodes a section with snake_case keys and refuses keys the type does not know.
    static func decode<T: Codable>(_ type: T.Type, _ value: JSONValue, section: String, locate: Locator) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: value.any)
        let decoded: T
        do {
            decoded = try Self.snakeDecoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw locate.error(section, "[\(section)]: \(describe(error))")
        } catch {
            throw locate.error(section, "[\(section)]: \(error)")
        }
        let encoded = try JSONSerialization.jsonObject(with: try Self.snakeEncoder.encode(decoded))
        if let unknown = value.unknownKeys(comparedTo: try JSONValue(encoded)).first {
            let message = "[\(section)]: unknown key '\(unknown.components(separatedBy: ".").last ?? unknown)'\(unknown.contains(".") ? " (at \(unknown))" : "")"
            if let group = section.firstMatch(of: /group '([^']+)'/)?.1 {
                throw locate.error(inGroup: String(group), key: unknown, message)
            }
            throw locate.error(unknown.components(separatedBy: ".").last ?? unknown, message)
        }
        return decoded
    }

    // Config types spell their snake_case keys in their CodingKeys: no key strategy here.
    static var snakeDecoder: JSONDecoder { JSONDecoder() }

    static var snakeEncoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "" : "key '\(path)': ")\(c.debugDescription)"
        case let .keyNotFound(key, c):
            let path = (c.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing key '\(path)'"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Finds the line of a key in the spec text, for error messages.
struct Locator: Sendable {
    let file: String
    let text: String

    /// The first line mentioning `key` as a key (`key =`, `"key" =`, `[key]`), or nil.
    func line(of key: String) -> Int? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("#") { continue }
            if key.contains("=") ? t.contains(key) : (t.contains("\(key) =") || t.contains("\(key)=") || t.contains("\"\(key)\"") || t.contains("[\(key)]")) {
                return index + 1
            }
        }
        return nil
    }

    func error(_ key: String, _ message: String) -> SweepError {
        SweepError(line(of: key).map { "\(file):\($0): \(message)" } ?? "\(file): \(message)")
    }

    /// An error inside group `group`: the line is the first one from the group's `name = ...`
    /// on that mentions a name the message quotes ('key', "value"), else the key's line.
    func error(inGroup group: String, key: String, _ message: String) -> SweepError {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = lines.firstIndex { $0.contains("name = \"\(group)\"") || $0.contains("name=\"\(group)\"") } ?? 0
        var tokens: [String] = []
        if let regex = try? NSRegularExpression(pattern: #"'([^']+)'|"([^"]+)""#) {
            let ns = message as NSString
            for match in regex.matches(in: message, range: NSRange(location: 0, length: ns.length)) {
                for group in 1...2 where match.range(at: group).location != NSNotFound {
                    tokens.append(ns.substring(with: match.range(at: group)))
                }
            }
        }
        for token in tokens where !token.contains(" ") && token != group {
            if let i = lines[start...].firstIndex(where: { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") && $0.contains(token) }) {
                return SweepError("\(file):\(i + 1): \(message)")
            }
        }
        return error(key, message)
    }
}

/// A sweep failure; the message names the file, line and key where it can.
public struct SweepError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
