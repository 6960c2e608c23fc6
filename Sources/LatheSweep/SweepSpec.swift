import Foundation
import LatheModels
import LatheDistill
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
/// are `KIND.KEY[.SUBKEY...]`, applied to the group's first stage of that kind; a number
/// addresses an array element, e.g. `"distill.terms.0.params.alpha"`.
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

    /// The largest seed: 2^53 − 1, the largest integer that every JSON reader (and the
    /// spec's numbers, held as doubles) represents exactly.
    public static let maxSeed = (1 << 53) - 1
    /// The largest `limit_train` / `limit_test`, in images.
    public static let maxImages = Int(Int32.max)
    /// The most trials a sweep may have (baselines included).
    public static let maxTrials = 100_000
    /// The longest per-trial timeout (30 days), in seconds, for the spec and `--timeout`.
    public static let maxTimeout = ChildProcess.maxTimeout

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
        if let line = TOMLHeaderCheck.malformedHeaderLine(text) {
            throw SweepError("\(file):\(line): \(TOMLHeaderCheck.message)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SweepError("\(file):\(error.source.begin.line): invalid TOML: \(error.description)")
        }
        let root = JSONValue(toml: table).object ?? [:]
        let known = SpecSchema.topLevel.names
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
        /// An integer value of `key`, converted only when it is exactly an integer the schema allows.
        func integer(_ v: JSONValue, _ key: SpecSchema.Key) throws -> Int {
            let allowed = SpecSchema.key(key)
            guard let n = v.int, allowed.allows(n) else {
                throw locate.error(key.rawValue, "key '\(key.rawValue)' = \(v): expected \(allowed.expected)")
            }
            return n
        }
        let name = try string("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw locate.error("name", "key 'name' = \"\(name)\" must be letters, digits, - and _")
        }
        var model = try string("model", default: SpecSchema.defaultModel)
        if let problem = Zoo.problem(with: model) {
            throw locate.error("model", "key 'model' = \"\(model)\": \(problem)")
        }
        // Trials run in child processes: a model file is named by its absolute path.
        if Zoo.isModelFile(model) { model = URL(fileURLWithPath: model).standardizedFileURL.path }
        let datasetName = try string("dataset", default: DataSource.fashionMNIST.rawValue)
        guard let dataset = DataSource(rawValue: datasetName) else {
            throw locate.error("dataset", "key 'dataset' = \"\(datasetName)\": expected \(SpecSchema.key(.dataset).expected)")
        }
        guard case .array(let seedValues)? = root["seeds"], !seedValues.isEmpty else {
            throw locate.error("seeds", "key 'seeds' must be a non-empty array of integers, e.g. seeds = [0, 1]")
        }
        let seeds = try seedValues.map { UInt64(try integer($0, .seeds)) }
        guard Set(seeds).count == seeds.count else { throw locate.error("seeds", "key 'seeds' repeats a seed") }
        let limitTrain = try root["limit_train"].map { try integer($0, .limitTrain) }
        let limitTest = try root["limit_test"].map { try integer($0, .limitTest) }
        var timeout = SpecSchema.defaultTimeout
        if let v = root["timeout"] {
            guard let t = v.double, SpecSchema.timeouts.contains(t) else {
                throw locate.error("timeout", "key 'timeout' = \(v): expected a number of seconds in \(SpecSchema.timeouts.notation)")
            }
            timeout = t
        }
        let baseline = try decode(RecipeOverrides.self, root["baseline"] ?? .object([:]), section: "baseline", keys: Recipe.schema.names, locate: locate)
            .applied(to: Recipe.defaults(for: model))
        do { try baseline.validate() } catch { throw locate.error("baseline", "[baseline]: \(error)") }

        guard case .array(let groupValues)? = root["groups"], !groupValues.isEmpty else {
            throw SweepError("\(file): no [[groups]]: a sweep needs at least one trial group")
        }
        var groups: [Group] = []
        var trialCount = seeds.count
        for (index, value) in groupValues.enumerated() {
            guard let g = value.object else { throw SweepError("\(file): groups[\(index)] must be a table") }
            for key in g.keys.sorted() where !SpecSchema.group.names.contains(key) {
                throw locate.error(key, "groups[\(index)]: unknown key '\(key)' (expected one of: \(SpecSchema.group.names.sorted().joined(separator: ", ")))")
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
                    throw locate.error(inGroup: groupName, key: "stages",
                                       "group '\(groupName)': stage \(i + 1) of 'stages' needs a kind (\(StageKinds.list))")
                }
                return s
            }
            var grid: [(key: String, values: [JSONValue])] = []
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
            // Bound the grid before expanding it (the product of its axes' sizes, times the seeds).
            let size = try grid.reduce(seeds.count) { n, axis in
                let (product, overflow) = n.multipliedReportingOverflow(by: axis.values.count)
                guard !overflow, product <= maxTrials else {
                    throw locate.error(axis.key, "group '\(groupName)': the grid times the seeds makes more than \(maxTrials) trials")
                }
                return product
            }
            trialCount += size
            guard trialCount <= maxTrials else {
                throw locate.error("name = \"\(groupName)\"", "the sweep has more than \(maxTrials) trials (at group '\(groupName)')")
            }
            // Validate every grid point now, against the registry (no plugin code is loaded).
            for point in group.points() {
                _ = try group.resolve(point, spec: file, locate: locate, registry: registry)
            }
            groups.append(group)
        }
        return SweepSpec(name: name, file: file, text: text, model: model, dataset: dataset, seeds: seeds,
                         limitTrain: limitTrain, limitTest: limitTest, timeout: timeout,
                         baseline: baseline, groups: groups)
    }

    /// Decodes a section with snake_case keys. Unknown keys are refused: against `keys` (the
    /// section's valid keys, listed in the error) or, without them, by the type's own decoder.
    /// Errors name the key, its value and what was expected, at the key's line.
    static func decode<T: Decodable>(_ type: T.Type, _ value: JSONValue, section: String, keys: [String]? = nil, locate: Locator) throws -> T {
        func fail(_ path: String, _ message: String) -> SweepError {
            let key = path.split(separator: ".").last.map(String.init) ?? section
            if let group = section.firstMatch(of: /group '([^']+)'/)?.1 {
                return locate.error(inGroup: String(group), key: key, "[\(section)]: \(message)")
            }
            return locate.error(key, "[\(section)]: \(message)")
        }
        if let keys, let unknown = value.object?.keys.sorted().first(where: { !keys.contains($0) }) {
            throw fail(unknown, "unknown key '\(unknown)' (expected one of: \(keys.sorted().joined(separator: ", ")))")
        }
        if let (path, number) = value.firstNonFinite() {
            throw fail(path, "key '\(path)' = \(number): expected a finite number")
        }
        do {
            return try Self.snakeDecoder.decode(T.self, from: Data(value.json.utf8))
        } catch let error as DecodingError {
            if let path = integerCulprit(T.self, value, error) {
                throw fail(path, "key '\(path)' = \(value.at(path.components(separatedBy: ".")) ?? .null): expected an integer")
            }
            let (path, message) = describe(error, in: value)
            throw fail(path, message)
        } catch {
            throw fail("", "\(error)")
        }
    }

    /// The path of the number that an integer field could not hold, when `error` is the one
    /// JSONDecoder gives for it (a fraction or an out-of-range number is "not valid JSON", with
    /// no path): the first non-integer number whose replacement by 0 avoids that error.
    static func integerCulprit<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ error: DecodingError) -> String? {
        guard case .dataCorrupted(let context) = error, context.codingPath.isEmpty else { return nil }
        for path in value.nonIntegerNumberPaths() {
            guard let patched = try? value.setting(path[...], to: .number(0), key: "") else { continue }
            do {
                _ = try snakeDecoder.decode(T.self, from: Data(patched.json.utf8))
                return path.joined(separator: ".")
            } catch let other as DecodingError {
                if case .dataCorrupted(let c) = other, c.codingPath.isEmpty { continue }
                return path.joined(separator: ".")
            } catch {
                return path.joined(separator: ".")
            }
        }
        return nil
    }

    // Config types spell their snake_case keys in their CodingKeys: no key strategy here.
    static var snakeDecoder: JSONDecoder { JSONDecoder() }


    /// A decoding error as its key path and a message naming the key, the value found there and
    /// the type expected.
    static func describe(_ error: DecodingError, in value: JSONValue) -> (path: String, message: String) {
        func path(_ keys: [CodingKey]) -> String { keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        func found(_ keys: [CodingKey]) -> String {
            value.at(keys.map { $0.intValue.map(String.init) ?? $0.stringValue }).map { " = \($0)" } ?? ""
        }
        func expected(_ type: Any.Type) -> String {
            switch type {
            case is Int.Type, is Int?.Type: "an integer (within ±\(Int.max))"
            case is UInt64.Type, is UInt64?.Type: "a non-negative integer"
            case is Double.Type, is Double?.Type: "a number"
            case is String.Type, is String?.Type: "a string"
            case is Bool.Type, is Bool?.Type: "true or false"
            default: "\(type)"
            }
        }
        switch error {
        case let .typeMismatch(type, c), let .valueNotFound(type, c):
            return (path(c.codingPath), "key '\(path(c.codingPath))'\(found(c.codingPath)): expected \(expected(type))")
        case let .dataCorrupted(c):
            return (path(c.codingPath), "key '\(path(c.codingPath))'\(found(c.codingPath)): \(c.debugDescription)")
        case let .keyNotFound(key, c):
            let at = path(c.codingPath + [key])
            return (at, "missing key '\(at)'")
        @unknown default:
            return ("", "\(error)")
        }
    }
}

/// Finds the line of a key in the spec text, for error messages.
struct Locator: Sendable {
    let file: String
    /// The spec's lines (split once: errors are frequent, e.g. in the fuzz test).
    let lines: [String]

    init(file: String, text: String) {
        self.file = file
        lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first line mentioning `key` as a key (`key =`, `"key" =`, `[key]`), or nil.
    func line(of key: String) -> Int? {
        for (index, line) in lines.enumerated() {
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

    /// A name a message quotes: 'key' or "value".
    static let quoted = try? NSRegularExpression(pattern: #"'([^']+)'|"([^"]+)""#)

    /// An error inside group `group`: the line is the first one from the group's `name = ...`
    /// on that mentions a name the message quotes ('key', "value"), else the key's line.
    func error(inGroup group: String, key: String, _ message: String) -> SweepError {
        let start = lines.firstIndex { $0.contains("name = \"\(group)\"") || $0.contains("name=\"\(group)\"") } ?? 0
        var tokens: [String] = []
        if let regex = Self.quoted {
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
