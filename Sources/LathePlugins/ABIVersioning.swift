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

    /// The declared size of the struct whose `lathe_head` is at `pointer` (the head is in every
    /// version, so reading it alone is always in bounds).
    static func head(_ pointer: UnsafeRawPointer) -> lathe_head {
        pointer.load(as: lathe_head.self)
    }
}
