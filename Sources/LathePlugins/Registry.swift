import Foundation

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
    /// Manifests that did not parse, with their errors (listed, never loaded).
    public let broken: [(file: String, error: PluginError)]

    /// Reads every `*.toml` in `directory`.
    public init(directory: String) throws {
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        self.directory = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PluginError("\(url.path): registry folder does not exist (set --registry or LATHE_REGISTRY)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: url.path)
            .filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.sorted()
        var manifests: [String: Manifest] = [:]
        var broken: [(String, PluginError)] = []
        for name in files {
            let file = url.appendingPathComponent(name).path
            do {
                let manifest = try Manifest.read(file)
                if let other = manifests[manifest.plugin.name] {
                    throw PluginError("\(file): plugin '\(manifest.plugin.name)' is already registered by \(other.file)")
                }
                manifests[manifest.plugin.name] = manifest
            } catch let error as PluginError {
                broken.append((file, error))
            }
        }
        self.manifests = manifests
        self.broken = broken
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
        guard let manifest = manifests[String(parts[0])] else {
            let known = manifests.keys.sorted().joined(separator: ", ")
            throw PluginError("method '\(qualified)': no plugin '\(parts[0])' in \(directory) (registered: \(known.isEmpty ? "none" : known))")
        }
        guard let method = manifest.plugin.method(String(parts[1])) else {
            let known = manifest.plugin.methods.map(\.id).joined(separator: ", ")
            throw PluginError("method '\(qualified)': plugin '\(parts[0])' has no method '\(parts[1])' (it has: \(known))")
        }
        return (manifest, method)
    }

    /// Loads a registered plugin: checks the pin, dlopens, and compares the declarations with
    /// the manifest. An unpinned manifest loads only with `allowUnpinned`.
    public func load(_ plugin: String, allowUnpinned: Bool = false) throws -> PluginLibrary {
        guard let manifest = manifests[plugin] else {
            throw PluginError("no plugin '\(plugin)' in \(directory)")
        }
        return try Self.load(manifest, allowUnpinned: allowUnpinned)
    }

    /// Loads the method `plugin/method` (pinned, verified).
    public func method(_ qualified: String, allowUnpinned: Bool = false) throws -> PluginMethod {
        let (manifest, method) = try resolve(qualified)
        return try Self.load(manifest, allowUnpinned: allowUnpinned).method(method.id)
    }

    /// Verifies `manifest`'s pin, loads its library and checks it declares what the manifest says.
    public static func load(_ manifest: Manifest, allowUnpinned: Bool = false) throws -> PluginLibrary {
        let path = manifest.libraryPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw PluginError("\(manifest.file): library \(path) does not exist\(manifest.firstParty ? " (build it: scripts/build-plugins.sh)" : "")")
        }
        if let pin = manifest.sha256 {
            let actual = try SHA256.hex(fileAt: path)
            guard actual == pin else {
                let hint = manifest.firstParty
                    ? "rebuild first-party plugins with scripts/build-plugins.sh, which refreshes their pins"
                    : "if you rebuilt it on purpose, re-pin it with `lathe plugins add \(path)`"
                throw PluginError("\(path): sha256 \(actual) does not match the pin \(pin) in \(manifest.file); refusing to load it (\(hint))")
            }
        } else if !allowUnpinned {
            throw PluginError("\(manifest.file): plugin '\(manifest.plugin.name)' is not pinned (no sha256); load it only explicitly (--allow-unpinned) or pin it with `lathe plugins add`")
        }
        let library = try PluginLibrary.load(path: path)
        guard library.descriptor == manifest.plugin else {
            throw PluginError("\(path): what the library declares differs from \(manifest.file)\(Self.firstDifference(library.descriptor, manifest.plugin)); re-register it with `lathe plugins add`")
        }
        return library
    }

    private static func firstDifference(_ a: PluginDescriptor, _ b: PluginDescriptor) -> String {
        if a.name != b.name { return " (name \(a.name) vs \(b.name))" }
        if a.version != b.version { return " (version \(a.version) vs \(b.version))" }
        if a.methods.map(\.id) != b.methods.map(\.id) {
            return " (methods \(a.methods.map(\.id)) vs \(b.methods.map(\.id)))"
        }
        for (x, y) in zip(a.methods, b.methods) where x != y {
            if x.params != y.params { return " (parameters of '\(x.id)')" }
            return " (method '\(x.id)')"
        }
        return ""
    }
}
