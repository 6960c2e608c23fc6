/// [1.1] How often a `MethodInstance`'s calls check that the plugin left its inputs unchanged.
///
/// A verified call hands the plugin private copies of its inputs (tensors and learnables) and
/// compares them with the originals afterwards, so a method that writes into a const input
/// fails and the caller's tensors are never touched. That costs two passes over every input,
/// more than a fake quantizer's own work on a large tensor, so QAT and distillation verify a
/// sample of calls: the first `first` calls of each instance (a method's behaviour is fixed by
/// then: the same shapes, the same code path) and every `every`-th call after. The other calls
/// pass the inputs in place. Outputs are canary-filled and checked written and finite on
/// every call whatever the policy, and `lathe plugins check` verifies every call.
public enum InputVerification: Sendable, Equatable {
    /// Every call passes private copies and compares them afterwards.
    case everyCall
    /// Calls `0..<first`, and then every `every`-th call, are verified.
    case sampled(first: Int, every: Int)

    /// QAT's and distillation's policy: the first 8 calls of an instance, then 1 in 64.
    public static let standard = InputVerification.sampled(first: 8, every: 64)

    /// Whether the call with this 0-based index (within its instance) is verified.
    public func verifies(call index: Int) -> Bool {
        switch self {
        case .everyCall: return true
        case .sampled(let first, let every): return index < first || (every > 0 && (index - first) % every == every - 1)
        }
    }
}
