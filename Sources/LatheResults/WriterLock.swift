import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one-writer lock of a results database: an exclusive `flock` on `<database>.lock`,
/// which records the holder's pid. The kernel releases it when the holder closes it or dies
/// (even by SIGKILL), so a killed sweep never leaves a stale lock. The descriptor is
/// close-on-exec: trial processes do not inherit (and so cannot keep) the lock.
public final class WriterLock {
    /// The lock file beside the database.
    public let path: String
    private let fd: Int32

    /// Takes the lock without waiting; throws, naming the holder's pid, when another process
    /// (or another lock in this process) holds it.
    public init(database: String) throws {
        path = database + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw DatabaseError("cannot write results database \(database): cannot create its lock file \(path) (\(reason))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            let holder = Self.holder(fd)
            close(fd)
            if busy {
                throw DatabaseError("results database \(database) is in use by another sweep (pid \(holder.map(String.init) ?? "unknown"), "
                                    + "lock \(path)); wait for it to finish or stop it")
            }
            throw DatabaseError("cannot lock results database \(database) (\(path): \(reason))")
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, pid, pid.count, 0) == pid.count else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DatabaseError("cannot write results database \(database): cannot write its lock file \(path) (\(reason))")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The pid recorded in an open lock file, if it holds one.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
