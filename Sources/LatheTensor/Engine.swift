import CTorch

/// Process-wide engine settings: intra-op threads, the global seed, gradient mode.
///
/// Threading: `threads` and `seed` are process-wide; gradient mode is per thread (as in libtorch).
public enum Engine {
    /// libtorch's intra-op thread count (and OpenBLAS's, when that is the BLAS). libtorch's default here is 1: set it explicitly.
    public static var threads: Int {
        get { Int(ct_get_num_threads()) }
        set { ct_set_num_threads(Int32(max(1, newValue))) }
    }

    /// The BLAS's own thread count (OpenBLAS), which `threads` also sets; nil for another BLAS.
    public static var blasThreads: Int? {
        let n = ct_blas_threads()
        return n >= 0 ? Int(n) : nil
    }

    /// The version of libtorch the shim was built against.
    public static var libtorchVersion: String { String(cString: ct_version()) }

    /// Seeds libtorch's global generator. Model initialisation takes explicit generators instead.
    public static func seed(_ value: UInt64) { ct_manual_seed(value) }

    /// Whether autograd records operations on the calling thread.
    public static var isGradEnabled: Bool { ct_is_grad_enabled() }
}

/// Runs `body` with gradient recording disabled on this thread (like `torch.no_grad()`).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ct_set_grad_enabled(false)
    defer { _ = ct_set_grad_enabled(previous) }
    return try body()
}

/// Runs `body` with gradient recording enabled on this thread.
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ct_set_grad_enabled(true)
    defer { _ = ct_set_grad_enabled(previous) }
    return try body()
}

/// A seeded random generator owned by Lathe, so that initialisation and sampling do not
/// depend on what else ran in the process.
///
/// Threading: not thread-safe; use one generator per thread.
public final class RandomGenerator: @unchecked Sendable {
    let handle: ct_generator

    /// A generator seeded with `seed`.
    public init(seed: UInt64) throws {
        guard let h = ct_generator_new(seed) else { throw TensorError.last("generator") }
        handle = h
    }

    deinit { ct_generator_free(handle) }
}
