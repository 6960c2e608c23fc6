/// A file that could not be read: `path` is the file meant, `reason` what went wrong and what
/// was expected.
public struct FileReadError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): cannot read (\(reason))" }
}
