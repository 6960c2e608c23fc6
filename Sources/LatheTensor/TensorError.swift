import CTorch

/// An error raised by the engine: libtorch's message without its C++ backtrace, plus the
/// operation that raised it.
public struct TensorError: Error, CustomStringConvertible, Sendable {
    /// The Lathe operation that failed, e.g. `conv2d`.
    public let operation: String
    /// libtorch's message, e.g. `mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)`.
    public let message: String

    /// Creates an error for `operation` with an explicit message.
    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }

    /// The shim's thread-local last error, captured right after a failing call.
    static func last(_ operation: String) -> TensorError {
        let message = ct_last_error().map { String(cString: $0) } ?? ""
        return TensorError(operation, message.isEmpty ? "unknown libtorch error" : message)
    }
}

/// Turns a shim status code into `throws`.
@inline(__always)
func checkStatus(_ status: Int32, _ operation: @autoclosure () -> String) throws {
    if status != 0 { throw TensorError.last(operation()) }
}
