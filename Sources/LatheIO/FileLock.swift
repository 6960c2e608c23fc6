import Foundation

/// An exclusive advisory lock (`flock`) on a file, held until `unlock` (or deinit). Processes
/// and threads that lock the same path take turns; on a file system without `flock` the lock
/// is a no-op, and callers' atomic writes make the rule "last writer wins".
public final class FileLock {
    private var descriptor: Int32

    /// Opens (creating) `path` and waits for the lock; throws when the file cannot be opened.
    public init(path: String) throws {
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileReadError(path: path, reason: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            break
        }
    }

    /// Releases the lock (idempotent).
    public func unlock() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }
}
