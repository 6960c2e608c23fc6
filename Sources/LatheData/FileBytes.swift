import Foundation

/// Whole-file reads with errors that name the file.
enum FileBytes {
    /// The file's bytes, inflated when it is gzip-compressed.
    static func read(_ path: String, inflate: Bool = true) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DataError.missingFile(path: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: "permission denied or I/O error")
        }
        let bytes = [UInt8](data)
        return inflate && Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, path: path) : bytes
    }
}
