import Foundation
import LatheIO
import TOMLKit

/// A plugin's registry entry (`registry/NAME.toml`): what it provides, its ABI, its library and
/// the library's sha256. Read without loading any code.
public struct Manifest: Sendable, Equatable {
    /// The manifest file (absolute).
    public var file: String
    public var plugin: PluginDescriptor
    /// The library path as written (relative paths are relative to the manifest's folder).
    public var library: String
    /// The pinned sha256 of the library (lowercase hex), or nil if unpinned. A third-party pin is
    /// the manifest's `sha256` key; a first-party pin is the build's (see `pinFile`).
    public var sha256: String?
    /// First-party plugins are rebuilt from `Plugins/` by `scripts/build-plugins.sh`. Their
    /// manifests are tracked in git without a pin: each build writes the pin of the library it
    /// produced to `.pins/NAME.sha256` beside the manifests (not tracked), so a build leaves the
    /// checkout clean and the host still verifies every library before loading it.
    public var firstParty: Bool

    public init(file: String, plugin: PluginDescriptor, library: String, sha256: String?, firstParty: Bool) {
        self.file = file
        self.plugin = plugin
        self.library = library
        self.sha256 = sha256
        self.firstParty = firstParty
    }

    /// The library's absolute path.
    public var libraryPath: String {
        if library.hasPrefix("/") { return library }
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        return folder.appendingPathComponent(library).standardizedFileURL.path
    }

    /// Where the build keeps the pin of first-party plugin `plugin` whose manifest is `file`:
    /// `.pins/PLUGIN.sha256` in the manifest's folder.
    public static func pinFile(plugin: String, manifest file: String) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(".pins/\(plugin).sha256").path
    }

    /// This manifest's build pin file (meaningful for first-party manifests).
    public var pinFile: String { Self.pinFile(plugin: plugin.name, manifest: file) }

    // MARK: Reading

    /// Parses the manifest at `file`, and for a first-party plugin reads its build pin (if the
    /// plugins were built); errors name the file and the key.
    public static func read(_ file: String) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PluginError("\(file): cannot read the manifest")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PluginError("\(file): the manifest is not UTF-8")
        }
        var manifest = try parse(text, file: file)
        if manifest.firstParty { manifest.sha256 = try readPin(manifest.pinFile) }
        return manifest
    }

    /// The pin in a build pin file, or nil if there is none.
    private static func readPin(_ pinFile: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: pinFile) else { return nil }
        guard let data = FileManager.default.contents(atPath: pinFile) else {
            throw PluginError("\(pinFile): cannot read the pin; rebuild and re-pin the first-party plugins: scripts/build-plugins.sh")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pin = normalizedPin(text) else {
            throw PluginError("\(pinFile): \"\(text.prefix(80))\" is not a sha256 (64 hex digits); rebuild and re-pin the first-party plugins: scripts/build-plugins.sh")
        }
        return pin
    }

    /// `text` as a pin (lowercase hex) if it is 64 hex digits of either case.
    static func normalizedPin(_ text: String) -> String? {
        guard text.count == 64, text.allSatisfy(\.isHexDigit), text.allSatisfy(\.isASCII) else { return nil }
        return text.lowercased()
    }

    /// Parses manifest text; `file` is used for messages and relative library paths.
    public static func parse(_ text: String, file: String) throws -> Manifest {
        if let line = TOMLHeaderCheck.malformedHeaderLine(text) {
            throw PluginError("\(file):\(line): \(TOMLHeaderCheck.message)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PluginError("\(file):\(error.source.begin.line): invalid TOML: \(error.description)")
        }
        let root = Reader(table: table, file: file, path: "")
        let name = try root.string("name")
        guard Identifier.isPluginName(name) else {
            throw PluginError("\(file): key 'name' = \"\(name)\" is not a plugin name ([a-z][a-z0-9_-]*)")
        }
        let abi = try root.string("abi")
        let parts = abi.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 2 else {
            throw PluginError("\(file): key 'abi' = \"\(abi)\"; expected MAJOR.MINOR, e.g. \"\(ABI.version)\"")
        }
        let firstParty = try root.optionalBool("first_party") ?? false
        var sha: String?
        if let text = try root.optionalString("sha256") {
            guard !firstParty else {
                throw PluginError("\(file): key 'sha256': a first-party manifest carries no pin (scripts/build-plugins.sh writes it to \(pinFile(plugin: name, manifest: file))); remove the key")
            }
            guard let pin = normalizedPin(text) else {
                throw PluginError("\(file): key 'sha256' = \"\(text)\"; expected 64 hex digits (or remove the key to leave the plugin unpinned)")
            }
            sha = pin
        }
        var methods: [MethodDescriptor] = []
        for (index, entry) in try root.tables("methods").enumerated() {
            let m = Reader(table: entry, file: file, path: "methods[\(index)].")
            let kindName = try m.string("kind")
            guard let kind = MethodKind(rawValue: kindName) else {
                throw PluginError("\(file): key 'methods[\(index)].kind' = \"\(kindName)\"; expected quantizer, criterion, loss, solver, scaler or factorizer")
            }
            guard kind.minorIntroduced <= parts[1] else {
                throw PluginError("\(file): key 'methods[\(index)].kind' = \"\(kindName)\" needs ABI 1.\(kind.minorIntroduced); the manifest says abi = \"\(parts[0]).\(parts[1])\"")
            }
            let granularityName = try m.optionalString("granularity") ?? "none"
            guard let granularity = Granularity(rawValue: granularityName) else {
                throw PluginError("\(file): key 'methods[\(index)].granularity' = \"\(granularityName)\"; expected none, element or output-channel")
            }
            let categoryName = try m.optionalString("loss_category") ?? "none"
            guard let category = LossCategory(rawValue: categoryName) else {
                throw PluginError("\(file): key 'methods[\(index)].loss_category' = \"\(categoryName)\"; expected none, response, feature or relation")
            }
            let flags: MethodFlags
            do {
                flags = try MethodFlags(names: try m.strings("flags"))
            } catch let error as PluginError {
                throw PluginError("\(file): key 'methods[\(index)].flags': \(error.message)")
            }
            guard flags.isSubset(of: MethodFlags.known(minor: parts[1])) else {
                throw PluginError("\(file): key 'methods[\(index)].flags': \(flags.subtracting(MethodFlags.known(minor: parts[1])).names.joined(separator: ", ")) needs ABI 1.\(flags.minorIntroduced); the manifest says abi = \"\(parts[0]).\(parts[1])\"")
            }
            var params: [ParamSpec] = []
            for (p, paramTable) in try m.tables("params").enumerated() {
                let r = Reader(table: paramTable, file: file, path: "methods[\(index)].params[\(p)].")
                let typeName = try r.string("type")
                guard let type = ParamType(rawValue: typeName) else {
                    throw PluginError("\(file): key '\(r.path)type' = \"\(typeName)\"; expected i32, i64, f32, f64, bool or enum")
                }
                var spec = ParamSpec(name: try r.string("name"), type: type, doc: try r.optionalString("doc") ?? "", defaultValue: 0)
                switch type {
                case .i32, .i64, .f32, .f64:
                    spec.defaultValue = try r.number("default")
                    spec.minValue = try r.number("min")
                    spec.maxValue = try r.number("max")
                case .bool:
                    spec.defaultValue = try r.bool("default") ? 1 : 0
                case .enum:
                    spec.choices = try r.strings("choices")
                    let choice = try r.string("default")
                    guard let at = spec.choices.firstIndex(of: choice) else {
                        throw PluginError("\(file): key '\(r.path)default' = \"\(choice)\" is not one of its choices (\(spec.choices.joined(separator: ", ")))")
                    }
                    spec.defaultValue = Double(at)
                }
                params.append(spec)
            }
            var learnables: [LearnableDescriptor] = []
            for (l, learnableTable) in try m.tables("learnables").enumerated() {
                let r = Reader(table: learnableTable, file: file, path: "methods[\(index)].learnables[\(l)].")
                let ruleName = try r.string("rule")
                guard let rule = ShapeRule(rawValue: ruleName) else {
                    throw PluginError("\(file): key '\(r.path)rule' = \"\(ruleName)\"; expected \(ShapeRule.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                learnables.append(LearnableDescriptor(name: try r.string("name"), rule: rule, sizeParam: try r.optionalString("size_param"),
                                                      doc: try r.optionalString("doc") ?? ""))
            }
            // init_learnables is required exactly when there are learnables, so it is implied.
            let method = MethodDescriptor(
                id: try m.string("id"), title: try m.string("title"), doc: try m.optionalString("doc") ?? "",
                reference: try m.optionalString("reference") ?? "", kind: kind, flags: flags,
                granularity: granularity, lossCategory: category, params: params, learnables: learnables,
                hasBackward: try m.optionalBool("backward") ?? false, hasInitLearnables: !learnables.isEmpty)
            do {
                try method.validate(plugin: name)
            } catch let error as PluginError {
                throw PluginError("\(file): methods[\(index)]: \(error.message)")
            }
            if let first = methods.firstIndex(where: { $0.id == method.id }) {
                throw PluginError("\(file): key 'methods[\(index)].id' = \"\(method.id)\" is also the id of methods[\(first)]; method ids must be unique in a plugin")
            }
            methods.append(method)
        }
        guard !methods.isEmpty else { throw PluginError("\(file): no [[methods]]: a plugin provides at least one") }
        let plugin = PluginDescriptor(
            name: name, version: try root.string("version"), description: try root.optionalString("description") ?? "",
            abiMajor: parts[0], abiMinor: parts[1], methods: methods)
        return Manifest(file: file, plugin: plugin, library: try root.string("library"), sha256: sha, firstParty: firstParty)
    }

    /// Typed, path-aware access to one TOML table.
    private struct Reader {
        let table: TOMLTable
        let file: String
        let path: String

        private func missing(_ key: String, _ expected: String) -> PluginError {
            PluginError("\(file): missing key '\(path)\(key)' (\(expected))")
        }
        private func wrong(_ key: String, _ expected: String) -> PluginError {
            PluginError("\(file): key '\(path)\(key)' must be \(expected)")
        }

        func optionalString(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string else { throw wrong(key, "a string") }
            return s
        }
        func string(_ key: String) throws -> String {
            guard let s = try optionalString(key) else { throw missing(key, "a string") }
            return s
        }
        func optionalBool(_ key: String) throws -> Bool? {
            guard let value = table[key] else { return nil }
            guard let b = value.bool else { throw wrong(key, "true or false") }
            return b
        }
        func bool(_ key: String) throws -> Bool {
            guard let b = try optionalBool(key) else { throw missing(key, "true or false") }
            return b
        }
        func number(_ key: String) throws -> Double {
            guard let value = table[key] else { throw missing(key, "a number") }
            if let i = value.int { return Double(i) }
            if let d = value.double { return d }
            throw wrong(key, "a number")
        }
        func strings(_ key: String) throws -> [String] {
            guard let value = table[key] else { return [] }
            guard let array = value.array else { throw wrong(key, "an array of strings") }
            return try array.map { item in
                guard let s = item.string else { throw wrong(key, "an array of strings") }
                return s
            }
        }
        func tables(_ key: String) throws -> [TOMLTable] {
            guard let value = table[key] else { return [] }
            guard let array = value.array else { throw wrong(key, "an array of tables ([[\(path)\(key)]])") }
            return try array.map { item in
                guard let t = item.table else { throw wrong(key, "an array of tables ([[\(path)\(key)]])") }
                return t
            }
        }
    }

    // MARK: Writing

    /// The manifest as TOML text (stable key order, so pins diff cleanly). A first-party
    /// manifest's text holds no pin (see `firstParty`).
    public func text() -> String {
        var out = "# Lathe plugin manifest. `lathe plugins list` reads it without loading code; the host\n"
        out += firstParty
            ? "# verifies the library against the pin of its build (.pins/\(plugin.name).sha256) before every dlopen.\n"
            : "# verifies the library against sha256 before every dlopen.\n"
        out += "name = \(quote(plugin.name))\n"
        out += "version = \(quote(plugin.version))\n"
        if !plugin.description.isEmpty { out += "description = \(quote(plugin.description))\n" }
        out += "abi = \(quote("\(plugin.abiMajor).\(plugin.abiMinor)"))\n"
        out += "library = \(quote(library))\n"
        if let sha256, !firstParty { out += "sha256 = \(quote(sha256))\n" }
        if firstParty { out += "first_party = true\n" }
        for method in plugin.methods {
            out += "\n[[methods]]\n"
            out += "id = \(quote(method.id))\n"
            out += "kind = \(quote(method.kind.rawValue))\n"
            out += "title = \(quote(method.title))\n"
            if !method.doc.isEmpty { out += "doc = \(quote(method.doc))\n" }
            if !method.reference.isEmpty { out += "reference = \(quote(method.reference))\n" }
            out += "flags = [\(method.flags.names.map(quote).joined(separator: ", "))]\n"
            if method.granularity != .none { out += "granularity = \(quote(method.granularity.rawValue))\n" }
            if method.lossCategory != .none { out += "loss_category = \(quote(method.lossCategory.rawValue))\n" }
            if method.hasBackward { out += "backward = true\n" }
            for param in method.params {
                out += "\n[[methods.params]]\n"
                out += "name = \(quote(param.name))\n"
                out += "type = \(quote(param.type.rawValue))\n"
                switch param.type {
                case .i32, .i64:
                    out += "default = \(format(param.defaultValue))\nmin = \(format(param.minValue))\nmax = \(format(param.maxValue))\n"
                case .f32, .f64:
                    out += "default = \(real(param.defaultValue))\nmin = \(real(param.minValue))\nmax = \(real(param.maxValue))\n"
                case .bool:
                    out += "default = \(param.defaultValue != 0)\n"
                case .enum:
                    let index = Int(param.defaultValue)
                    out += "default = \(quote(param.choices.indices.contains(index) ? param.choices[index] : ""))\n"
                    out += "choices = [\(param.choices.map(quote).joined(separator: ", "))]\n"
                }
                if !param.doc.isEmpty { out += "doc = \(quote(param.doc))\n" }
            }
            for learnable in method.learnables {
                out += "\n[[methods.learnables]]\n"
                out += "name = \(quote(learnable.name))\n"
                out += "rule = \(quote(learnable.rule.rawValue))\n"
                if let size = learnable.sizeParam { out += "size_param = \(quote(size))\n" }
                if !learnable.doc.isEmpty { out += "doc = \(quote(learnable.doc))\n" }
            }
        }
        return out
    }

    /// Writes the manifest, and for a first-party plugin its build pin, each atomically. The
    /// build pin of a plugin that is not first-party (any more) is removed.
    public func write() throws {
        do {
            if firstParty, let sha256 {
                try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: pinFile).deletingLastPathComponent().path,
                                                        withIntermediateDirectories: true)
                try atomicWrite(Data((sha256 + "\n").utf8), to: URL(fileURLWithPath: pinFile))
            } else if FileManager.default.fileExists(atPath: pinFile) {
                try FileManager.default.removeItem(atPath: pinFile)
            }
            try atomicWrite(Data(text().utf8), to: URL(fileURLWithPath: file))
        } catch let error as AtomicWriteError {
            throw PluginError(error.description)
        } catch {
            throw PluginError("\(pinFile): \(error.localizedDescription)")
        }
    }
}

/// A TOML basic string.
private func quote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(format: "\\u%04X", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A TOML float that reads back as exactly `v` (whole numbers keep a ".0").
private func real(_ v: Double) -> String {
    let s = "\(v)"
    return s.contains(".") || s.contains("e") || s.contains("inf") || s.contains("nan") ? s : s + ".0"
}
