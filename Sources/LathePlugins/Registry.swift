import Foundation
import LatheIO

/// The plugin registry: a folder of TOML manifests, one per plugin.
///
/// Listing and validating method references reads manifests only; `load` verifies the
/// library's sha256 against the manifest before `dlopen`, then checks that what the library
/// declares is what the manifest says.
public struct Registry: Sendable {
    /// The registry folder (absolute).
    public let directory: String
    /// Manifests that parsed, by plugin name.
    public let manifests: [String: Manifest]
    /// Manifests that did not parse, or that declare a plugin name another manifest declares too,
    /// with their errors (listed, never loaded).
    public let broken: [(file: String, error: PluginError)]
    /// Plugin names declared by more than one manifest, with those manifests: none of them is used.
    public let conflicts: [String: [String]]

    /// Reads every `*.toml` in `directory` (and the build pins of first-party manifests).
    public init(directory: String) throws {
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        self.directory = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PluginError("\(url.path): registry folder does not exist (set --registry or LATHE_REGISTRY)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: url.path)
            .filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.sorted()
        var byName: [String: [Manifest]] = [:]
        var broken: [(String, PluginError)] = []
        for name in files {
            let file = url.appendingPathComponent(name).path
            do {
                let manifest = try Manifest.read(file)
                byName[manifest.plugin.name, default: []].append(manifest)
            } catch let error as PluginError {
                broken.append((file, error))
            }
        }
        var manifests: [String: Manifest] = [:]
        var conflicts: [String: [String]] = [:]
        for (name, declared) in byName {
            if declared.count == 1 {
                manifests[name] = declared[0]
                continue
            }
            let files = declared.map(\.file)
            conflicts[name] = files
            for file in files { broken.append((file, Self.conflictError(name, files))) }
        }
        self.manifests = manifests
        self.broken = broken.sorted { $0.0 < $1.0 }
        self.conflicts = conflicts
    }

    private static func conflictError(_ name: String, _ files: [String]) -> PluginError {
        PluginError("plugin '\(name)' is declared by more than one manifest: \(files.joined(separator: " and ")); a plugin name must be unique in a registry, so none of them is used: remove one, or give it another name")
    }

    /// The manifest of plugin `name`. The error names the manifests declaring it twice, or lists
    /// what is registered and which manifests are broken.
    public func manifest(_ name: String) throws -> Manifest {
        if let manifest = manifests[name] { return manifest }
        if let files = conflicts[name] { throw Self.conflictError(name, files) }
        let known = manifests.keys.sorted().joined(separator: ", ")
        var message = "no plugin '\(name)' in \(directory) (registered: \(known.isEmpty ? "none" : known))"
        if !broken.isEmpty {
            message += "; broken manifests, not used: " + broken.map { "\($0.error.message)" }.joined(separator: "; ")
        }
        throw PluginError(message)
    }

    /// The default registry folder: `$LATHE_REGISTRY`, else `./registry`, else the `registry/`
    /// of the source checkout the running executable was built in.
    public static func defaultDirectory() -> String {
        if let env = ProcessInfo.processInfo.environment["LATHE_REGISTRY"], !env.isEmpty { return env }
        let local = FileManager.default.currentDirectoryPath + "/registry"
        if FileManager.default.fileExists(atPath: local) { return local }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("registry")
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path),
               FileManager.default.fileExists(atPath: candidate.path)
            {
                return candidate.path
            }
        }
        return local
    }

    /// Every method, as `(manifest, method)`, sorted by qualified id.
    public var methods: [(manifest: Manifest, method: MethodDescriptor)] {
        manifests.values.sorted { $0.plugin.name < $1.plugin.name }.flatMap { m in m.plugin.methods.map { (m, $0) } }
    }

    /// Resolves `plugin/method` from manifests alone; the error lists what exists.
    public func resolve(_ qualified: String) throws -> (manifest: Manifest, method: MethodDescriptor) {
        let parts = qualified.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw PluginError("method '\(qualified)': expected PLUGIN/METHOD, e.g. uniform/affine")
        }
        let manifest: Manifest
        do {
            manifest = try self.manifest(String(parts[0]))
        } catch let error as PluginError {
            throw PluginError("method '\(qualified)': \(error.message)")
        }
        guard let method = manifest.plugin.method(String(parts[1])) else {
            let known = manifest.plugin.methods.map(\.id).joined(separator: ", ")
            throw PluginError("method '\(qualified)': plugin '\(parts[0])' has no method '\(parts[1])' (it has: \(known))")
        }
        return (manifest, method)
    }

    /// Loads a registered plugin: checks the pin, dlopens, and compares the declarations with
    /// the manifest. An unpinned third-party manifest loads only with `allowUnpinned`.
    public func load(_ plugin: String, allowUnpinned: Bool = false) throws -> PluginLibrary {
        try Self.load(try manifest(plugin), allowUnpinned: allowUnpinned)
    }

    /// Loads the method `plugin/method` (pinned, verified).
    public func method(_ qualified: String, allowUnpinned: Bool = false) throws -> PluginMethod {
        let (manifest, method) = try resolve(qualified)
        return try Self.load(manifest, allowUnpinned: allowUnpinned).method(method.id)
    }

    /// The library of `manifest`, checked to be a regular file whose sha256 is the pin. A
    /// first-party library always needs its build pin; another unpinned one passes only with
    /// `allowUnpinned`. Errors name the manifest and say how to fix it.
    public static func verifiedLibrary(_ manifest: Manifest, allowUnpinned: Bool = false) throws -> String {
        let path = manifest.libraryPath
        let build = "build and pin the first-party plugins: scripts/build-plugins.sh"
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw PluginError("\(manifest.file): library \(path) does not exist\(manifest.firstParty ? " (\(build))" : "")")
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            throw PluginError("\(manifest.file): key 'library' = \"\(manifest.library)\" (\(path)) is \(type == S_IFDIR ? "a folder" : "not a regular file"); expected a regular file, the plugin's shared library")
        }
        guard let pin = manifest.sha256 else {
            if manifest.firstParty {
                throw PluginError("\(manifest.file): first-party plugin '\(manifest.plugin.name)' has no build pin (\(manifest.pinFile)); \(build)")
            }
            if allowUnpinned { return path }
            throw PluginError("\(manifest.file): plugin '\(manifest.plugin.name)' is not pinned (no sha256); pin it: lathe plugins add \(path) --registry \(URL(fileURLWithPath: manifest.file).deletingLastPathComponent().path)")
        }
        let actual: String
        do { actual = try SHA256.hex(fileAt: path) } catch { throw PluginError(String(describing: error)) }
        guard actual == pin else {
            let refresh = manifest.firstParty
                ? "if the plugins were rebuilt, refresh the pins: scripts/build-plugins.sh"
                : "if you rebuilt it on purpose, refresh the pin: lathe plugins add \(path) --registry \(URL(fileURLWithPath: manifest.file).deletingLastPathComponent().path)"
            throw PluginError("\(path): sha256 \(actual) does not match the pin \(pin) of \(manifest.firstParty ? manifest.pinFile : manifest.file); refusing to load it (\(refresh))")
        }
        return path
    }

    /// Verifies `manifest`'s pin, loads its library and checks it declares what the manifest says.
    public static func load(_ manifest: Manifest, allowUnpinned: Bool = false) throws -> PluginLibrary {
        let path = try verifiedLibrary(manifest, allowUnpinned: allowUnpinned)
        let library = try PluginLibrary.load(path: path)
        guard library.descriptor == manifest.plugin else {
            throw PluginError("\(path): what the library declares differs from \(manifest.file)\(Self.firstDifference(library.descriptor, manifest.plugin)); re-register it with `lathe plugins add`")
        }
        return library
    }

    private static func learnableSummary(_ m: MethodDescriptor) -> String {
        m.learnables.isEmpty ? "none" : m.learnables.map { "\($0.name): \($0.rule.rawValue)" }.joined(separator: ", ")
    }

    private static func firstDifference(_ a: PluginDescriptor, _ b: PluginDescriptor) -> String {
        if a.name != b.name { return " (name \(a.name) vs \(b.name))" }
        if a.version != b.version { return " (version \(a.version) vs \(b.version))" }
        if a.methods.map(\.id) != b.methods.map(\.id) {
            return " (methods \(a.methods.map(\.id)) vs \(b.methods.map(\.id)))"
        }
        for (x, y) in zip(a.methods, b.methods) where x != y {
            if x.params != y.params { return " (parameters of '\(x.id)')" }
            if x.learnables != y.learnables { return " (learnables of '\(x.id)': \(Self.learnableSummary(x)) vs \(Self.learnableSummary(y)))" }
            if x.hasBackward != y.hasBackward { return " (backward of '\(x.id)': \(x.hasBackward ? "set" : "none") vs \(y.hasBackward ? "set" : "none"))" }
            return " (method '\(x.id)')"
        }
        return ""
    }
}
