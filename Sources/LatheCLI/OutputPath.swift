import ArgumentParser
import Foundation

/// Up-front checks of output paths: a run that could not save its results fails before any
/// work, naming the option and the path, instead of with a file-system error at the end.
enum OutputPath {
    /// `path` can be written as a file: it is not a directory and its parent is an existing,
    /// writable directory.
    static func checkFile(_ path: String, option: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("\(option) '\(path)' is a directory; expected the path of a file to write")
        }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(option) '\(path)': the directory '\(parent)' does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            throw ValidationError("\(option) '\(path)': the directory '\(parent)' is not writable")
        }
    }

    /// `path` can hold output files: it is a writable directory, or can be created because its
    /// nearest existing ancestor is one.
    static func checkDirectory(_ path: String, option: String) throws {
        var existing = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: existing.path, isDirectory: &isDirectory) {
            existing.deleteLastPathComponent()
        }
        guard isDirectory.boolValue else {
            throw ValidationError("\(option) '\(path)': '\(existing.path)' is a file, not a directory")
        }
        guard access(existing.path, W_OK) == 0 else {
            throw ValidationError("\(option) '\(path)': the directory '\(existing.path)' is not writable")
        }
    }
}
