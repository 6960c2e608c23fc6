import CLathePlugin

/// Capability flags a method declares.
public struct MethodFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let threadSafe = MethodFlags(rawValue: 1)
    public static let deterministic = MethodFlags(rawValue: 2)
    public static let needsGradient = MethodFlags(rawValue: 4)
    public static let needsAux = MethodFlags(rawValue: 8)
    /// [1.2] Calibration statistics of the layer's input (`lathe_call.input_*`).
    public static let needsInputAbsMax = MethodFlags(rawValue: 16)
    public static let needsInputMeanSquare = MethodFlags(rawValue: 32)
    public static let needsInputGram = MethodFlags(rawValue: 64)
    /// [1.2] A solver that prunes (writes a mask) instead of quantizing.
    public static let solverPrunes = MethodFlags(rawValue: 128)
    /// [1.3] The per-column mean absolute value of the layer's input (`lathe_call.input_abs_mean`).
    public static let needsInputAbsMean = MethodFlags(rawValue: 256)
    /// Every calibration-statistics flag.
    public static let inputStatistics: MethodFlags = [.needsInputAbsMax, .needsInputMeanSquare, .needsInputGram, .needsInputAbsMean]
    /// Every bit this host knows (ABI 1.3).
    public static let known = MethodFlags(rawValue: 0x1FF)

    /// The bits a plugin built against ABI 1.`minor` may set: 1.0 and 1.1 know 0xF, 1.2 knows 0xFF.
    public static func known(minor: Int) -> MethodFlags {
        switch minor {
        case ..<2: MethodFlags(rawValue: 0xF)
        case 2: MethodFlags(rawValue: 0xFF)
        default: known
        }
    }

    /// The ABI minor version that introduced the newest of these flags.
    public var minorIntroduced: Int {
        if contains(.needsInputAbsMean) { return 3 }
        return isDisjoint(with: [.needsInputAbsMax, .needsInputMeanSquare, .needsInputGram, .solverPrunes]) ? 0 : 2
    }

    private static let named: [(MethodFlags, String)] = [
        (.threadSafe, "thread-safe"), (.deterministic, "deterministic"), (.needsGradient, "needs-gradient"),
        (.needsAux, "needs-aux"), (.needsInputAbsMax, "needs-input-abs-max"),
        (.needsInputMeanSquare, "needs-input-mean-square"), (.needsInputGram, "needs-input-gram"), (.solverPrunes, "solver-prunes"),
        (.needsInputAbsMean, "needs-input-abs-mean"),
    ]

    /// The flag names, in bit order (as written in manifests).
    public var names: [String] { Self.named.filter { contains($0.0) }.map(\.1) }

    /// Parses manifest flag names; the error names the first unknown one.
    public init(names: [String]) throws {
        var flags = MethodFlags()
        for name in names {
            guard let flag = Self.named.first(where: { $0.1 == name })?.0 else {
                throw PluginError("unknown flag '\(name)' (expected one of: \(Self.named.map(\.1).joined(separator: ", ")))")
            }
            flags.insert(flag)
        }
        self = flags
    }
}
