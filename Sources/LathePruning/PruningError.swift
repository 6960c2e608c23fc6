/// Errors from configuring or running a pruning stage. Messages name the key, layer or value at
/// fault and what was expected.
public enum PruningError: Error, CustomStringConvertible, Equatable {
    /// A configuration value out of range.
    case invalidConfig(key: String, value: String, expected: String)
    /// A layer name in `exclude` or `layer_sparsity` that the model cannot prune.
    case unknownLayer(key: String, layer: String, candidates: [String])
    /// The model and the configuration cannot work together (no prunable layer, no batch norm…).
    case unsupported(String)

    public var description: String {
        switch self {
        case let .invalidConfig(key, value, expected):
            "invalid value '\(value)' for \(key): expected \(expected)"
        case let .unknownLayer(key, layer, candidates):
            "\(key): layer '\(layer)' is not prunable here; prunable layers: \(candidates.isEmpty ? "none" : candidates.joined(separator: ", "))"
        case let .unsupported(message):
            message
        }
    }
}
