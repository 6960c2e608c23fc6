import ArgumentParser
import Foundation
import LatheIO
import LathePlugins
import LatheTensor

/// `lathe plugins …`: the registry, conformance checks, scaffolding and the SDK.
struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, check, scaffold and benchmark compression plugins.",
        subcommands: [List.self, Add.self, Check.self, New.self, SDK.self, Bench.self, Pin.self])

    /// The registry folder option shared by the subcommands.
    struct RegistryOption: ParsableArguments {
        @Option(name: .long, help: "Registry folder (default: $LATHE_REGISTRY, ./registry, or the checkout's registry/).")
        var registry: String?

        var directory: String { registry ?? Registry.defaultDirectory() }
    }

    // MARK: list

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered methods (reads manifests; loads no code).")
        @OptionGroup var registry: RegistryOption
        @Flag(help: "Show each method's hyperparameters.") var verbose = false

        func run() throws {
            let reg = try Registry(directory: registry.directory)
            for manifest in reg.manifests.values.sorted(by: { $0.plugin.name < $1.plugin.name }) {
                let pin = manifest.sha256.map { "sha256 \($0.prefix(12))…" }
                    ?? (manifest.firstParty ? "NOT BUILT (scripts/build-plugins.sh)" : "UNPINNED")
                print("\(manifest.plugin.name) \(manifest.plugin.version)  ABI \(manifest.plugin.abiMajor).\(manifest.plugin.abiMinor)  \(pin)  \(manifest.libraryPath)")
                for method in manifest.plugin.methods {
                    var traits = [method.kind.rawValue]
                    if method.granularity != .none { traits.append(method.granularity.rawValue) }
                    if method.lossCategory != .none { traits.append(method.lossCategory.rawValue) }
                    traits += method.flags.names
                    if method.hasBackward { traits.append("backward") }
                    if !method.learnables.isEmpty { traits.append("learnables: \(method.learnables.map(\.name).joined(separator: ", "))") }
                    let id = "\(manifest.plugin.name)/\(method.id)"
                    print("  \(id.padding(toLength: 24, withPad: " ", startingAt: 0)) \(method.title) [\(traits.joined(separator: ", "))]")
                    if verbose {
                        for p in method.params { print("      \(Plugins.describe(p))") }
                        for l in method.learnables { print("      \(Plugins.describe(l))") }
                        if !method.reference.isEmpty { print("      ref: \(method.reference)") }
                    }
                }
            }
            for (file, error) in reg.broken { printError("broken manifest \(file): \(error.message)") }
            if reg.manifests.isEmpty { print("no plugins registered in \(reg.directory)") }
            if !reg.broken.isEmpty { throw ExitCode(1) }
        }
    }

    static func describe(_ p: ParamSpec) -> String {
        let range: String
        switch p.type {
        case .i32, .i64, .f32, .f64: range = "default \(p.defaultHyperValue), range [\(p.minValue), \(p.maxValue)]"
        case .bool: range = "default \(p.defaultValue != 0)"
        case .enum: range = "default \(p.defaultHyperValue), one of \(p.choices.joined(separator: "|"))"
        }
        return "\(p.name): \(p.type.rawValue), \(range)\(p.doc.isEmpty ? "" : " — \(p.doc)")"
    }

    static func describe(_ l: LearnableDescriptor) -> String {
        let size = l.sizeParam.map { " (size: \($0))" } ?? ""
        return "learnable \(l.name): \(l.rule.rawValue)\(size)\(l.doc.isEmpty ? "" : " — \(l.doc)")"
    }

    // MARK: add

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a plugin library: describe it in a child process, pin its sha256, write its manifest.",
            discussion: "Adding the library a plugin is registered with again refreshes its pin. A plugin name registered for another library is refused unless --replace is given.")
        @Argument(help: "Path to the plugin's shared library.") var library: String
        @OptionGroup var registry: RegistryOption
        @Flag(help: "Mark as first-party (rebuilt by scripts/build-plugins.sh, which keeps its pin in the registry's .pins/, not in the manifest).") var firstParty = false
        @Flag(help: "Replace the manifest of a plugin of the same name registered for another library.") var replace = false
        @Option(help: "Seconds before a hanging plugin is killed.") var timeout: Double = 60

        func validate() throws { try Plugins.validateTimeout(timeout) }

        func run() throws {
            let path = URL(fileURLWithPath: library).standardizedFileURL.path
            let manifest = try Plugins.describeInChild(path, timeout: timeout)
            let name = manifest.plugin.name
            let directory = URL(fileURLWithPath: registry.directory).standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let file = "\(directory)/\(name).toml"
            let reg = try Registry(directory: directory)
            let again = "choose another name in the plugin's lathe_plugin (the name is how its methods are addressed, NAME/METHOD), or pass --replace to replace it"
            if let files = reg.conflicts[name] {
                throw PluginError("plugin '\(name)' is already declared by \(files.joined(separator: " and ")); remove all but one first")
            }
            let existing = reg.manifests[name]
            if let existing, existing.file != file {
                throw PluginError("plugin '\(name)' is already registered by \(existing.file); remove that manifest first to register it as \(file)")
            }
            let sameLibrary = existing.map { Plugins.sameFile($0.libraryPath, path) } ?? false
            if !replace {
                if let existing, !sameLibrary {
                    throw PluginError("plugin '\(name)' is already registered by \(existing.file)\(existing.firstParty ? " (a first-party plugin)" : "") for \(existing.libraryPath), not \(path): \(again)")
                }
                if existing == nil, FileManager.default.fileExists(atPath: file) {
                    throw PluginError("\(file) exists but is not a usable manifest of plugin '\(name)' (run lathe plugins list): \(again)")
                }
            }
            // Re-adding a plugin's own library refreshes its pin and keeps it first-party.
            let keepsFirstParty = sameLibrary && existing?.firstParty == true
            let entry = Manifest(file: file, plugin: manifest.plugin, library: Plugins.relativePath(path, from: directory),
                                 sha256: try SHA256.hex(fileAt: path), firstParty: firstParty || keepsFirstParty)
            try entry.write()
            print("registered \(name) \(manifest.plugin.version) (\(manifest.plugin.methods.count) methods) in \(file)")
            for method in manifest.plugin.methods { print("  \(name)/\(method.id)  \(method.kind.rawValue)") }
        }
    }

    /// Whether `a` and `b` name the same file (after resolving symbolic links).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).resolvingSymlinksInPath().path == URL(fileURLWithPath: b).resolvingSymlinksInPath().path
    }

    /// `path` relative to `directory` when they share the checkout (so the registry moves with it).
    static func relativePath(_ path: String, from directory: String) -> String {
        let a = path.split(separator: "/"), b = directory.split(separator: "/")
        var common = 0
        while common < min(a.count, b.count), a[common] == b[common] { common += 1 }
        guard common >= 1, b.count - common <= 3 else { return path }
        return (Array(repeating: "..", count: b.count - common) + a[common...].map(String.init)).joined(separator: "/")
    }

    /// A `--timeout` given by the user: positive and finite (NaN would never expire, 0 would make
    /// every plugin look hung).
    static func validateTimeout(_ seconds: Double) throws {
        guard ChildProcess.isValidTimeout(seconds) else {
            throw ValidationError("--timeout \(seconds): \(ChildProcess.timeoutRule)")
        }
    }

    /// Loads `path` in a child process and returns what it declares (as an unpinned manifest).
    static func describeInChild(_ path: String, timeout: Double) throws -> Manifest {
        guard FileManager.default.fileExists(atPath: path) else { throw PluginError("\(path): no such plugin library") }
        let result = try ChildProcess.run(selfExecutable, ["__plugin-worker", "describe", path], timeout: timeout)
        if result.exit.succeeded, result.stdout.isEmpty {
            throw PluginError("\(path): loading it \(result.exit) before describing the plugin (a plugin must return, not exit)")
        }
        guard result.exit.succeeded else {
            let said = result.stderr.split(separator: "\n").last.map { ": \($0)" } ?? ""
            if case .exited = result.exit {
                throw PluginError(said.isEmpty ? "\(path): loading failed (\(result.exit))" : String(said.dropFirst(2)).replacingOccurrences(of: "Error: ", with: ""))
            }
            throw PluginError("\(path): loading it \(result.exit)\(said)")
        }
        return try Manifest.parse(result.stdout, file: path)
    }

    /// The `lathe` image this process runs, for its own child processes. `/proc/<pid>/exe` opens
    /// the very binary this process started from even after the file on disk was rebuilt or
    /// removed, so a long sweep's trials, latency phase and report never mix two builds (or fail
    /// on a path that now reads "lathe (deleted)").
    static var selfExecutable: String {
        let running = "/proc/\(getpid())/exe"
        return FileManager.default.isExecutableFile(atPath: running) ? running : installedExecutable
    }

    /// The installed `lathe` file, for other machines (Slurm nodes run this path and check its
    /// sha256): the running image's path without the kernel's " (deleted)" suffix.
    static var installedExecutable: String {
        let name = ChildProcess.programName("/proc/self/exe")
        return name == "/proc/self/exe" ? CommandLine.arguments[0] : name
    }

    // MARK: check

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the conformance checks on a plugin library, each method in its own child process.",
            discussion: "The checks and what passes are listed in the SDK's README (`lathe plugins sdk DIR`).")
        @Argument(help: "Path to a plugin library, or the name of a registered plugin.") var library: String
        @OptionGroup var registry: RegistryOption
        @Option(help: "Seconds each method's checks may take before the method counts as hung.") var timeout: Double = 60
        @Flag(help: "Print JSON lines only: one object per check record, then a summary object (check \"result\").") var json = false

        func validate() throws { try Plugins.validateTimeout(timeout) }

        func run() throws {
            let path = try Plugins.libraryPath(library, registry: registry)
            var report = CheckReport(json: json)
            report.heading("lathe plugins check \(path)")
            let manifest: Manifest
            do {
                manifest = try Plugins.describeInChild(path, timeout: timeout)
            } catch let error as PluginError {
                report.add(CheckResult(subject: path, check: "load", status: .fail, detail: error.message), indent: 2)
                report.finish(subject: path, note: " (the library does not load)")
                throw ExitCode(1)
            }
            let plugin = manifest.plugin
            report.add(CheckResult(subject: plugin.name, check: "load", status: .pass,
                                   detail: "plugin \(plugin.name) \(plugin.version), ABI \(plugin.abiMajor).\(plugin.abiMinor), \(plugin.methods.count) method(s), descriptors valid"),
                       indent: 2)
            for method in plugin.methods {
                let records = Plugins.checkInChild(path, method: method.id, subject: "\(plugin.name)/\(method.id)", timeout: timeout)
                report.heading("  \(plugin.name)/\(method.id) (\(method.kind.rawValue))")
                for record in records where record.status != .begin { report.add(record, indent: 4) }
            }
            report.finish(subject: plugin.name, note: "")
            if report.failed > 0 { throw ExitCode(1) }
        }
    }

    /// A library path from a path or a registered plugin name (verified against its pin): how
    /// `check` and `bench` name a library.
    static func libraryPath(_ text: String, registry: RegistryOption) throws -> String {
        if text.contains("/") || text.hasSuffix(".so") || text.hasSuffix(".dylib") {
            return URL(fileURLWithPath: text).standardizedFileURL.path
        }
        let reg = try Registry(directory: registry.directory)
        let manifest: Manifest
        do {
            manifest = try reg.manifest(text)
        } catch let error as PluginError {
            throw PluginError("'\(text)' is neither a library path nor a usable registered plugin: \(error.message)")
        }
        return try Registry.verifiedLibrary(manifest)
    }

    /// The line the worker writes to stdout once every check has run: a worker that ends without it
    /// was cut short (a plugin that calls exit(0) in a method ends it with status 0).
    static let checksFinished = "# checks finished"

    /// Runs one method's checks in a child; a crash, abort, exit or hang becomes a failed record
    /// for the check that was running.
    static func checkInChild(_ path: String, method: String, subject: String, timeout: Double) -> [CheckResult] {
        let result: ChildResult
        do {
            result = try ChildProcess.run(selfExecutable, ["__plugin-worker", "check", path, "--method", method], timeout: timeout)
        } catch {
            return [CheckResult(subject: subject, check: "run", status: .fail, detail: String(describing: error))]
        }
        var records: [CheckResult] = []
        var finished = false
        for line in result.stdout.split(separator: "\n") {
            if line == checksFinished { finished = true }
            if let record = try? JSONDecoder().decode(CheckResult.self, from: Data(line.utf8)) { records.append(record) }
        }
        if !result.exit.succeeded || !finished {
            var open: String?
            for record in records {
                if record.status == .begin { open = record.check } else if record.check == open { open = nil }
            }
            let during = open ?? "setup"
            var detail = "the method \(result.exit) during this check"
            if result.exit.succeeded {
                detail = open == nil ? "the process \(result.exit) before its checks finished" : detail
                detail += " (a plugin must return, not exit)"
            } else if case .exited = result.exit, let last = result.stderr.split(separator: "\n").last {
                detail += ": \(last)"
            }
            if open != nil || result.exit.succeeded || records.allSatisfy({ $0.status != .fail }) {
                records.append(CheckResult(subject: subject, check: during, status: .fail, detail: detail))
            }
        }
        return records
    }

    // MARK: pin

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refresh the build pins (.pins/NAME.sha256) of first-party plugins after rebuilding them.")
        @OptionGroup var registry: RegistryOption

        func run() throws {
            let reg = try Registry(directory: registry.directory)
            // Each message names its manifest (or, for a plugin declared twice, both).
            if let broken = reg.broken.first { throw broken.error }
            for manifest in reg.manifests.values.sorted(by: { $0.plugin.name < $1.plugin.name }) where manifest.firstParty {
                // Re-describe in a child: a rebuilt library must still declare what it did.
                let described = try Plugins.describeInChild(manifest.libraryPath, timeout: 60)
                var updated = manifest
                updated.plugin = described.plugin
                updated.sha256 = try SHA256.hex(fileAt: manifest.libraryPath)
                if updated != manifest {
                    try updated.write()
                    print("pinned \(manifest.plugin.name): \(updated.sha256 ?? "")")
                } else {
                    print("unchanged \(manifest.plugin.name)")
                }
            }
        }
    }
}

/// Writes one line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `lathe __plugin-worker`: the child side of `plugins add` and `plugins check`. Hidden.
struct PluginWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__plugin-worker", abstract: "Internal: load a plugin in this (child) process.", shouldDisplay: false)
    @Argument var action: String
    @Argument var library: String
    @Option var method: String?

    func run() throws {
        Engine.threads = 1
        let loaded = try PluginLibrary.load(path: library)
        switch action {
        case "describe":
            let manifest = Manifest(file: library, plugin: loaded.descriptor, library: library, sha256: nil, firstParty: false)
            FileHandle.standardOutput.write(Data(manifest.text().utf8))
        case "check":
            guard let id = method else { throw ValidationError("check needs --method") }
            let checker = ConformanceChecker(method: try loaded.method(id)) { record in
                guard let data = try? JSONEncoder().encode(record) else { return }
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
            checker.run()
            FileHandle.standardOutput.write(Data((Plugins.checksFinished + "\n").utf8))
        default:
            throw ValidationError("unknown worker action '\(action)'")
        }
    }
}

extension Plugins {
    // MARK: new

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scaffold a plugin project that builds and passes `lathe plugins check` as generated.")
        @Argument(help: "Plugin name ([a-z][a-z0-9_-]*; not the name of a registered plugin).") var name: String
        @Option(help: "Language: c, swift or rust.") var lang: String = "c"
        @Option(help: "Method kind: quantizer, criterion or loss.") var kind: String = "quantizer"
        @Option(name: .shortAndLong, help: "Project folder (default: ./NAME).") var output: String?
        @Flag(help: "A method with a learnable tensor, an initialiser and a backward (ABI 1.1; C quantizers: a learned-step quantizer).")
        var learnable = false
        @OptionGroup var registry: RegistryOption

        func run() throws {
            guard PluginDescriptor.isValidName(name) else {
                // Suggest the name normalised, but do not use it silently: the name is in the
                // library, the manifest's file name and every NAME/METHOD reference.
                let suggestion = String(name.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "-" })
                let hint = PluginDescriptor.isValidName(suggestion) ? ", e.g. '\(suggestion)'" : ""
                throw PluginError("plugin name '\(name)': expected \(PluginDescriptor.nameRule)\(hint)")
            }
            guard let language = ScaffoldLanguage(rawValue: lang) else {
                throw PluginError("--lang \(lang): expected c, swift or rust")
            }
            guard let methodKind = ScaffoldKind(rawValue: kind) else {
                throw PluginError("--kind \(kind): expected quantizer, criterion or loss")
            }
            if learnable, !ScaffoldRequest.supportsLearnable(language: language, kind: methodKind) {
                throw PluginError("--learnable: only a C quantizer has a learnable scaffold (--lang c --kind quantizer), not --lang \(lang) --kind \(kind)")
            }
            if FileManager.default.fileExists(atPath: registry.directory) {
                let reg = try Registry(directory: registry.directory)
                if let existing = reg.manifests[name]?.file ?? reg.conflicts[name]?.first {
                    throw PluginError("plugin name '\(name)' is already registered by \(existing): choose another name (methods are addressed as NAME/METHOD, so names must be unique in a registry)")
                }
            }
            let request = ScaffoldRequest(name: name, kind: methodKind, header: EmbeddedSDK.header,
                                          rustBindings: EmbeddedSDK.rustBindings, learnable: learnable)
            let files: [ScaffoldFile]
            switch language {
            case .c: files = request.cFiles()
            case .swift: files = request.swiftFiles()
            case .rust: files = request.rustFiles()
            }
            let target = URL(fileURLWithPath: output ?? name).standardizedFileURL
            try Plugins.writeTree(files, to: target)
            print("created \(target.path) (\(language.rawValue) \(methodKind.rawValue) plugin '\(name)')")
            print("next: \(target.path)/build.sh && lathe plugins check <the library it prints>")
        }
    }

    /// Writes `files` into a new folder `target` through a temporary sibling folder and a rename,
    /// so a failure leaves nothing half-written. Refuses to overwrite an existing path.
    static func writeTree(_ files: [ScaffoldFile], to target: URL) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: target.path) else {
            throw PluginError("\(target.path) already exists; choose another --output")
        }
        let staging = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        do {
            for file in files {
                let url = staging.appendingPathComponent(file.path)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.contents.utf8).write(to: url)
                if file.executable { try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path) }
            }
            try fm.moveItem(at: staging, to: target)
        } catch {
            try? fm.removeItem(at: staging)
            throw PluginError("cannot write \(target.path): \(error.localizedDescription)")
        }
    }

    // MARK: sdk

    struct SDK: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the plugin SDK (lathe_plugin.h, Rust bindings, a README with the checker's rules) into a folder.")
        @Argument(help: "Folder to write into (created if missing).") var directory: String

        func run() throws {
            let target = URL(fileURLWithPath: directory).standardizedFileURL
            let fm = FileManager.default
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
            for (name, text) in [("lathe_plugin.h", EmbeddedSDK.header), ("lathe_plugin.rs", EmbeddedSDK.rustBindings), ("README.md", EmbeddedSDK.readme)] {
                try atomicWrite(Data(text.utf8), to: target.appendingPathComponent(name))
            }
            print("wrote the Lathe plugin SDK (ABI \(ABI.version)) to \(target.path)")
        }
    }
}
