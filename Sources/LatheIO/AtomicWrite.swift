import Foundation

/// A file that could not be written. `path` is the file meant; `reason` says why (the system's
/// words), so callers can wrap it in their own error type or show it as is.
public struct AtomicWriteError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): cannot write (\(reason))" }
}

/// Writes `data` to `url` so that readers see the old file or the new one, never a part of it:
/// the bytes go to a temporary file in the same folder (so the rename stays on one file system),
/// are flushed with fsync, and the temporary file is renamed over `url`. On failure the temporary
/// file is removed and an existing file at `url` is left as it was. The new file gets the default
/// permissions (0666 minus the umask).
public func atomicWrite(_ data: Data, to url: URL) throws {
    let path = url.path
    let folder = url.deletingLastPathComponent().path
    let temporary = "\(folder)/.\(url.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp"
    func failure(_ what: String) -> AtomicWriteError {
        AtomicWriteError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
    guard fd >= 0 else { throw failure("cannot create a temporary file in \(folder)") }
    var written = 0
    let outcome: AtomicWriteError? = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> AtomicWriteError? in
        while written < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress.map { $0 + written }, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return failure("write")
            }
            written += n
        }
        return fsync(fd) == 0 ? nil : failure("fsync")
    }
    let closed = close(fd) == 0
    var error = outcome
    if error == nil, !closed { error = failure("close") }
    if error == nil, rename(temporary, path) != 0 { error = failure("rename into place") }
    if let error {
        unlink(temporary)
        throw error
    }
    // Persist the rename itself; best effort (some file systems refuse fsync on a folder).
    let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directory >= 0 {
        _ = fsync(directory)
        close(directory)
    }
}
