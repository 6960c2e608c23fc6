/// A failure loading, validating or calling a plugin. The message names the library, the method,
/// the key or the value at fault and what was expected.
public struct PluginError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, for people.
    public var message: String
    /// The non-OK status a method returned when the failure is the method declining the call
    /// (with the reason it reported); nil when the host found the fault (a refused value or output).
    public var declinedStatus: Int32?

    public init(_ message: String, declinedStatus: Int32? = nil) {
        self.message = message
        self.declinedStatus = declinedStatus
    }

    public var description: String { message }
}
