import CLathePlugin

/// Size-prefixed ABI structs across minor versions. A struct only ever grows by appending fields
/// (`lathe_plugin.h`), so a plugin built against ABI 1.0 declares the 1.0 size of each struct it
/// writes, and one built against a later minor a larger size. The host accepts any size from the
/// frozen 1.0 size up, reads no byte past what the writer declared, and treats the fields it
/// did not declare as absent (zero).
enum ABIStruct {
    /// `sizeof` of each plugin-written struct in ABI 1.0 (x86-64 / aarch64 LP64), frozen: the
    /// header as released is kept in `Tests/Fixtures/abi/lathe_plugin_1_0.h`, and a test compiles
    /// it and checks these numbers.
    static let plugin1_0 = 48
    static let method1_0 = 80
    static let param1_0 = 72
    static let qparams1_0 = 64
    /// `lathe_learnable` first appeared in ABI 1.1: the smallest size a plugin may declare for it.
    static let learnable1_1 = 40

    /// The struct at `pointer` as this host's layout: the first min(`declared`, current size)
    /// bytes, the rest zero. The caller has checked `declared` ≥ the 1.0 size.
    static func read<T>(_ pointer: UnsafeRawPointer, as type: T.Type, declared: Int) -> T {
        let current = MemoryLayout<T>.size
        let storage = UnsafeMutableRawPointer.allocate(byteCount: current, alignment: MemoryLayout<T>.alignment)
        defer { storage.deallocate() }
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: current)
        storage.copyMemory(from: pointer, byteCount: Swift.min(Swift.max(declared, 0), current))
        return storage.load(as: T.self)
    }

    /// The `count` structs of an array a plugin wrote (a method's params, its learnables), strided
    /// by the size its first element declares, as this host's layout. The stride must be at
    /// least `minimum` (the struct's size in the minor version that introduced it) and every
    /// element's header must repeat it with this major version; an error names `owner`, the
    /// struct, the element and the version (`names`: struct, element, version).
    static func readArray<T>(_ base: UnsafeRawPointer, count: Int, as type: T.Type, minimum: Int,
                             names: (structure: String, element: String, version: String), owner: String) throws -> [T] {
        let stride = Int(head(base).size)
        guard stride >= minimum else {
            throw PluginError("\(owner): malformed \(names.structure) (size \(stride), expected at least \(minimum) (ABI \(names.version)))")
        }
        return try (0..<count).map { index in
            let element = base.advanced(by: index * stride)
            let h = head(element)
            guard Int(h.abi_major) == ABI.major, Int(h.size) == stride else {
                throw PluginError("\(owner): \(names.element) \(index) has a malformed header (ABI \(h.abi_major), size \(h.size))")
            }
            return read(element, as: type, declared: stride)
        }
    }

    /// The declared size of the struct whose `lathe_head` is at `pointer` (the head is in every
    /// version, so reading it alone is always in bounds).
    static func head(_ pointer: UnsafeRawPointer) -> lathe_head {
        pointer.load(as: lathe_head.self)
    }
}
