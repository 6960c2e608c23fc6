import CLathePlugin
import Foundation
import Synchronization

/// The ABI version this host speaks.
public enum ABI {
    public static let major = Int(LATHE_ABI_MAJOR)
    public static let minor = Int(LATHE_ABI_MINOR)
    public static var version: String { "\(major).\(minor)" }
}

/// A plugin library loaded into this process. Libraries are never unloaded: a method handed out
/// may be in use on any thread until the process exits (and C++/Rust/Swift runtimes inside a
/// plugin rarely survive `dlclose`).
public final class PluginLibrary: Sendable {
    /// The path it was loaded from (resolved).
    public let path: String
    /// What the plugin declared.
    public let descriptor: PluginDescriptor
    /// Callable methods, in registration order.
    public let methods: [PluginMethod]

    init(path: String, descriptor: PluginDescriptor, methods: [PluginMethod]) {
        self.path = path
        self.descriptor = descriptor
        self.methods = methods
    }

    /// The method with plugin-local id `id`, or an error naming the choices.
    public func method(_ id: String) throws -> PluginMethod {
        guard let found = methods.first(where: { $0.descriptor.id == id }) else {
            let known = methods.map(\.descriptor.id).joined(separator: ", ")
            throw PluginError("plugin '\(descriptor.name)' (\(path)) has no method '\(id)'; it has: \(known)")
        }
        return found
    }

    private static let loaded = Mutex<[String: PluginLibrary]>([:])

    /// Loads (or returns the already loaded) plugin library at `path`: dlopen, entry symbol,
    /// ABI check, init, descriptor validation. Does not check a sha256: `Registry` does that
    /// before calling this. Throws a `PluginError` naming the file and the fault.
    public static func load(path: String) throws -> PluginLibrary {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard FileManager.default.fileExists(atPath: resolved) else {
            throw PluginError("\(path): no such plugin library")
        }
        return try loaded.withLock { cache in
            if let library = cache[resolved] { return library }
            let library = try open(resolved)
            if let other = cache.values.first(where: { $0.descriptor.name == library.descriptor.name }) {
                throw PluginError("\(resolved): plugin name '\(library.descriptor.name)' is already taken by \(other.path)")
            }
            cache[resolved] = library
            return library
        }
    }

    /// Opens the library at `path` without recording it by name (`load` refuses a second library
    /// of the same plugin name; the ABI compatibility tests open two builds of one plugin).
    static func open(_ path: String) throws -> PluginLibrary {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginError("\(path): cannot load: \(reason)")
        }
        guard let symbol = dlsym(handle, LATHE_ENTRY_SYMBOL) else {
            throw PluginError("\(path): no entry symbol '\(LATHE_ENTRY_SYMBOL)': not a Lathe plugin, or built without LATHE_EXPORT")
        }
        let entry = unsafeBitCast(symbol, to: lathe_entry_function.self)
        guard let plugin = entry() else {
            throw PluginError("\(path): \(LATHE_ENTRY_SYMBOL)() returned NULL")
        }
        let head = ABIStruct.head(UnsafeRawPointer(plugin))
        guard Int(head.abi_major) == ABI.major else {
            throw PluginError("\(path): built for plugin ABI \(head.abi_major).\(head.abi_minor), but this host speaks ABI \(ABI.version); the major versions must match (rebuild the plugin against this host's lathe_plugin.h)")
        }
        guard Int(head.size) >= ABIStruct.plugin1_0 else {
            throw PluginError("\(path): malformed lathe_plugin descriptor: size \(head.size), expected at least \(ABIStruct.plugin1_0) (ABI 1.0)")
        }
        let declared = ABIStruct.read(UnsafeRawPointer(plugin), as: lathe_plugin.self, declared: Int(head.size))
        guard let namePointer = declared.name else {
            throw PluginError("\(path): malformed lathe_plugin descriptor: name is NULL")
        }
        let name = String(cString: namePointer)
        guard Identifier.isPluginName(name) else {
            throw PluginError("\(path): plugin name '\(name)' is not [a-z][a-z0-9_-]*")
        }
        guard let versionPointer = declared.version else {
            throw PluginError("\(path): plugin '\(name)': version is NULL")
        }
        guard let initFunction = declared.`init` else {
            throw PluginError("\(path): plugin '\(name)': init is NULL")
        }
        let registration = Registration(plugin: name, path: path)
        let status = withExtendedLifetime(registration) { () -> Int32 in
            var registrar = lathe_registrar(
                head: lathe_head(abi_major: UInt16(ABI.major), abi_minor: UInt16(ABI.minor),
                                 size: UInt32(MemoryLayout<lathe_registrar>.size)),
                host_private: Unmanaged.passUnretained(registration).toOpaque(),
                register_method: { registrar, method in
                    guard let registrar, let context = registrar.pointee.host_private else {
                        return Int32(LATHE_INVALID_ARGUMENT.rawValue)
                    }
                    let registration = Unmanaged<Registration>.fromOpaque(context).takeUnretainedValue()
                    return registration.register(method)
                })
            return initFunction(HostTable.shared, &registrar)
        }
        if let first = registration.errors.first {
            throw PluginError("\(path): \(first)")
        }
        guard status == Int32(LATHE_OK.rawValue) else {
            let logged = HostTable.drainInitLog(plugin: name)
            throw PluginError("\(path): plugin '\(name)' init failed with status \(status)\(logged.isEmpty ? "" : ": " + logged)")
        }
        guard !registration.methods.isEmpty else {
            throw PluginError("\(path): plugin '\(name)' registered no methods")
        }
        let descriptor = PluginDescriptor(
            name: name, version: String(cString: versionPointer),
            description: declared.description.map { String(cString: $0) } ?? "",
            abiMajor: Int(head.abi_major), abiMinor: Int(head.abi_minor),
            methods: registration.methods.map(\.descriptor))
        let methods = try registration.methods.map {
            try PluginMethod(plugin: name, descriptor: $0.descriptor, entries: $0.entries)
        }
        return PluginLibrary(path: path, descriptor: descriptor, methods: methods)
    }
}

/// Collects and validates what a plugin registers during init.
private final class Registration {
    let plugin: String
    let path: String
    var methods: [(descriptor: MethodDescriptor, entries: MethodEntries)] = []
    var errors: [String] = []

    init(plugin: String, path: String) {
        self.plugin = plugin
        self.path = path
    }

    func register(_ pointer: UnsafePointer<lathe_method>?) -> Int32 {
        do {
            guard let pointer else { throw PluginError("register_method(NULL)") }
            let (descriptor, entries) = try Self.read(pointer, plugin: plugin)
            try descriptor.validate(plugin: plugin)
            guard !methods.contains(where: { $0.descriptor.id == descriptor.id }) else {
                throw PluginError("plugin '\(plugin)' registers method id '\(descriptor.id)' twice")
            }
            methods.append((descriptor, entries))
            return Int32(LATHE_OK.rawValue)
        } catch {
            errors.append(String(describing: error))
            return Int32(LATHE_INVALID_ARGUMENT.rawValue)
        }
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    private static func read(_ pointer: UnsafePointer<lathe_method>, plugin: String)
        throws -> (MethodDescriptor, MethodEntries)
    {
        let head = ABIStruct.head(UnsafeRawPointer(pointer))
        guard Int(head.abi_major) == ABI.major, Int(head.size) >= ABIStruct.method1_0 else {
            throw PluginError("plugin '\(plugin)': malformed lathe_method (ABI \(head.abi_major).\(head.abi_minor), size \(head.size); this host speaks \(ABI.version) and needs at least the 1.0 size \(ABIStruct.method1_0))")
        }
        let m = ABIStruct.read(UnsafeRawPointer(pointer), as: lathe_method.self, declared: Int(head.size))
        guard Int(m.head.abi_major) == ABI.major else {
            throw PluginError("plugin '\(plugin)': a lathe_method has ABI \(m.head.abi_major).\(m.head.abi_minor); this host speaks \(ABI.version)")
        }
        guard let idPointer = m.id else { throw PluginError("plugin '\(plugin)': a method has a NULL id") }
        let id = String(cString: idPointer)
        let owner = "\(plugin)/\(id)"
        guard let title = m.title else { throw PluginError("\(owner): title is NULL") }
        guard let kind = MethodKind(code: m.kind), kind.minorIntroduced <= Int(m.head.abi_minor) else {
            throw PluginError("\(owner): unknown kind \(m.kind) for a method of ABI 1.\(m.head.abi_minor); expected 1 (quantizer), 2 (criterion), 3 (loss), from ABI 1.2 4 (solver), or from ABI 1.3 5 (scaler) or 6 (factorizer)")
        }
        let knownFlags = MethodFlags.known(minor: Int(m.head.abi_minor)).rawValue
        guard m.flags & ~knownFlags == 0 else {
            throw PluginError("\(owner): unknown flag bits 0x\(String(m.flags & ~knownFlags, radix: 16)) (a method of ABI 1.\(m.head.abi_minor) may set 0x\(String(knownFlags, radix: 16)))")
        }
        guard let granularity = Granularity(code: m.granularity) else {
            throw PluginError("\(owner): unknown granularity \(m.granularity)")
        }
        guard let category = LossCategory(code: m.loss_category) else {
            throw PluginError("\(owner): unknown loss category \(m.loss_category)")
        }
        guard let function = m.function else { throw PluginError("\(owner): function is NULL") }
        guard Int(m.param_count) <= MethodDescriptor.maxParams else {
            throw PluginError("\(owner): declares \(m.param_count) parameters; at most \(MethodDescriptor.maxParams) are allowed")
        }
        var params: [ParamSpec] = []
        if m.param_count > 0 {
            guard let base = m.params else { throw PluginError("\(owner): param_count \(m.param_count) but params is NULL") }
            let declared = try ABIStruct.readArray(UnsafeRawPointer(base), count: Int(m.param_count), as: lathe_param.self,
                                                   minimum: ABIStruct.param1_0, names: ("lathe_param", "parameter", "1.0"), owner: owner)
            for (index, p) in declared.enumerated() {
                guard let namePointer = p.name else { throw PluginError("\(owner): parameter \(index) has a NULL name") }
                let name = String(cString: namePointer)
                guard let type = ParamType(code: p.type) else {
                    throw PluginError("\(owner): parameter '\(name)' has unknown type \(p.type); expected 1-6 (i32, i64, f32, f64, bool, enum)")
                }
                var choices: [String] = []
                if type == .enum {
                    guard p.choice_count > 0, let list = p.choices else {
                        throw PluginError("\(owner): enum parameter '\(name)' declares no choices")
                    }
                    for c in 0..<Int(p.choice_count) {
                        guard let choice = list[c] else {
                            throw PluginError("\(owner): enum parameter '\(name)' has a NULL choice")
                        }
                        choices.append(String(cString: choice))
                    }
                }
                // The range means nothing for bool and enum: normalise it so manifests compare equal.
                params.append(ParamSpec(name: name, type: type, doc: string(p.doc), defaultValue: p.default_value,
                                        minValue: type.isNumeric ? p.min_value : 0, maxValue: type.isNumeric ? p.max_value : 0,
                                        choices: choices))
            }
        }
        let descriptor = MethodDescriptor(
            id: id, title: String(cString: title), doc: string(m.doc), reference: string(m.reference),
            kind: kind, flags: MethodFlags(rawValue: m.flags), granularity: granularity,
            lossCategory: category, params: params, learnables: try readLearnables(m, owner: owner),
            hasBackward: m.backward != nil, hasInitLearnables: m.init_learnables != nil)
        return (descriptor, MethodEntries(function: function, initLearnables: m.init_learnables, backward: m.backward))
    }

    /// [1.1] The learnable declarations (none for a 1.0 method, whose fields read as zero).
    private static func readLearnables(_ m: lathe_method, owner: String) throws -> [LearnableDescriptor] {
        guard m.learnable_count > 0 else { return [] }
        guard Int(m.learnable_count) <= MethodDescriptor.maxLearnables else {
            throw PluginError("\(owner): declares \(m.learnable_count) learnables; at most \(MethodDescriptor.maxLearnables) (LATHE_MAX_LEARNABLES) are allowed")
        }
        guard let base = m.learnables else {
            throw PluginError("\(owner): learnable_count \(m.learnable_count) but learnables is NULL")
        }
        let declared = try ABIStruct.readArray(UnsafeRawPointer(base), count: Int(m.learnable_count), as: lathe_learnable.self,
                                               minimum: ABIStruct.learnable1_1, names: ("lathe_learnable", "learnable", "1.1"), owner: owner)
        var learnables: [LearnableDescriptor] = []
        for (index, l) in declared.enumerated() {
            guard let namePointer = l.name else { throw PluginError("\(owner): learnable \(index) has a NULL name") }
            let name = String(cString: namePointer)
            guard let rule = ShapeRule(code: l.shape_rule) else {
                throw PluginError("\(owner): learnable '\(name)' has unknown shape rule \(l.shape_rule); expected 1-6 (scalar, per-channel, per-group, vector, student-projection, teacher-projection)")
            }
            learnables.append(LearnableDescriptor(name: name, rule: rule, sizeParam: l.size_param.map { String(cString: $0) },
                                                  doc: string(l.doc)))
        }
        return learnables
    }
}
