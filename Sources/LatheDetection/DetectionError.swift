/// Detection or segmentation input that cannot be used: the file, the entry in it (an
/// annotation, an image, a mask) and what was expected.
public struct DetectionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or `<memory>` for values built in code).
    public var path: String
    /// The entry within the file, e.g. `annotations[3] (id 17)`; empty for the file as a whole.
    public var entry: String
    /// What is wrong and what was expected.
    public var reason: String

    /// An error about `entry` of the file at `path`.
    public init(path: String, entry: String = "", reason: String) {
        self.path = path
        self.entry = entry
        self.reason = reason
    }

    public var description: String { entry.isEmpty ? "\(path): \(reason)" : "\(path): \(entry): \(reason)" }
}
