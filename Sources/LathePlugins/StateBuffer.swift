import CLathePlugin
import Foundation

/// [1.1] The persistent state buffer of one method instance (`host->state`): 64-byte aligned,
/// zero-filled when first handed out, then the same bytes on every later call. The first request
/// fixes the size; a request of another size, of 0 bytes or over `LATHE_STATE_MAX_BYTES` is
/// refused. Not locked: the instance serializes its calls.
final class StateBuffer: @unchecked Sendable {
    /// The largest buffer an instance may hold (`LATHE_STATE_MAX_BYTES`).
    static let maxBytes = 1 << 30

    private(set) var pointer: UnsafeMutableRawPointer?
    private(set) var size = 0

    /// The buffer for a request of `bytes`, allocating it on the first request.
    func request(_ bytes: Int) throws -> UnsafeMutableRawPointer {
        if let pointer {
            guard bytes == size else {
                throw PluginError("host->state: requested \(UInt(bitPattern: bytes)) bytes, but the instance's state buffer was fixed at \(size) bytes by its first request (the size cannot change)")
            }
            return pointer
        }
        return try allocate(bytes)
    }

    /// A copy of the bytes, or nil when no buffer was ever requested or restored.
    var bytes: [UInt8]? {
        guard let pointer else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: size))
    }

    /// Restores checkpointed bytes: fixes the size if no request did yet, else must match it.
    func restore(_ bytes: [UInt8]) throws {
        if pointer != nil, bytes.count != size {
            throw PluginError("the saved state has \(bytes.count) bytes; this instance's state buffer has \(size)")
        }
        let target = try pointer ?? allocate(bytes.count)
        bytes.withUnsafeBytes { target.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(target), byteCount: bytes.count) }
    }

    private func allocate(_ bytes: Int) throws -> UnsafeMutableRawPointer {
        guard bytes > 0, bytes <= Self.maxBytes else {
            throw PluginError("host->state: requested \(UInt(bitPattern: bytes)) bytes; a state buffer holds 1 to \(Self.maxBytes) bytes (LATHE_STATE_MAX_BYTES)")
        }
        var block: UnsafeMutableRawPointer?
        guard posix_memalign(&block, 64, bytes) == 0, let block else {
            throw PluginError("host->state: cannot allocate \(bytes) bytes")
        }
        memset(block, 0, bytes)
        pointer = block
        size = bytes
        return block
    }

    deinit { free(pointer) }
}
