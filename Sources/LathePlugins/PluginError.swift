/// A failure loading, validating or calling a plugin. The message names the library, the method,
/// the key or the value at fault and what was expected.
public struct PluginError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, for people.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
