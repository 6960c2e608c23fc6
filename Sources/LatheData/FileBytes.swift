import Foundation

/// Whole-file reads with errors that name the file.
enum FileBytes {
    /// The file's bytes, inflated when it is gzip-compressed.
    static func read(_ path: String, inflate: Bool = true) throws -> [UInt8] {
        try requireFile(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        let bytes = [UInt8](data)
        return inflate && Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, path: path) : bytes
    }

    /// The first `count` bytes of a file (fewer when it is shorter) and the file's size, without
    /// reading the rest: for a header in front of a large body.
    static func head(_ path: String, count: Int) throws -> (bytes: [UInt8], fileSize: Int) {
        try requireFile(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DataError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        defer { try? handle.close() }
        do {
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
            let data = try handle.read(upToCount: count) ?? Data()
            return ([UInt8](data), Int(clamping: size))
        } catch {
            throw DataError.unreadable(path: path, reason: "\(error)")
        }
    }

    /// Throws unless `path` names an existing file: missing, or a directory where a file was expected.
    private static func requireFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.missingFile(path: path)
        }
        guard !isDirectory.boolValue else {
            throw DataError.unreadable(path: path, reason: "it is a directory; expected a file")
        }
    }
}
