import CLathePlugin
import Foundation
import Synchronization

/// Quantization parameters a quantizer reported for one tensor (copied out of the plugin).
public struct QuantParams: Sendable, Equatable, Codable {
    /// How values map to codes.
    public enum Scheme: String, Sendable, Codable {
        case affine, symmetric, binary, ternary, powerOfTwo = "power-of-two", codebook
    }
    public var scheme: Scheme
    public var bits: Int
    /// Channel axis of per-channel parameters, or -1.
    public var axis: Int
    public var qmin: Int
    public var qmax: Int
    public var scales: [Float]
    public var zeroPoints: [Int32]
    public var codebook: [Float]

    public init(scheme: Scheme, bits: Int, axis: Int, qmin: Int = 0, qmax: Int = 0,
                scales: [Float] = [], zeroPoints: [Int32] = [], codebook: [Float] = []) {
        self.scheme = scheme
        self.bits = bits
        self.axis = axis
        self.qmin = qmin
        self.qmax = qmax
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.codebook = codebook
    }

    /// Bytes the quantized tensor of `count` elements occupies at its real bit width, with its
    /// scales (fp32), zero points (int32, if any is non-zero) and codebook (fp32).
    public func storageBytes(elements count: Int) -> Int {
        let payload = (count * bits + 7) / 8
        let zeroPointBytes = zeroPoints.contains { $0 != 0 } ? 4 * zeroPoints.count : 0
        return payload + 4 * scales.count + zeroPointBytes + 4 * codebook.count
    }

    /// Reads the plugin's `lathe_qparams` at `pointer` (its declared size, from ABI 1.0's up).
    init(reading pointer: UnsafeRawPointer, shape: [Int]) throws {
        let head = ABIStruct.head(pointer)
        guard Int(head.abi_major) == ABI.major, Int(head.size) >= ABIStruct.qparams1_0 else {
            throw PluginError("malformed lathe_qparams (ABI \(head.abi_major), size \(head.size); at least the 1.0 size \(ABIStruct.qparams1_0) expected)")
        }
        let q = ABIStruct.read(pointer, as: lathe_qparams.self, declared: Int(head.size))
        let scheme: Scheme
        switch q.scheme {
        case Int32(LATHE_QSCHEME_AFFINE.rawValue): scheme = .affine
        case Int32(LATHE_QSCHEME_SYMMETRIC.rawValue): scheme = .symmetric
        case Int32(LATHE_QSCHEME_BINARY.rawValue): scheme = .binary
        case Int32(LATHE_QSCHEME_TERNARY.rawValue): scheme = .ternary
        case Int32(LATHE_QSCHEME_POWER_OF_TWO.rawValue): scheme = .powerOfTwo
        case Int32(LATHE_QSCHEME_CODEBOOK.rawValue): scheme = .codebook
        default: throw PluginError("qparams: unknown scheme \(q.scheme)")
        }
        guard (1...16).contains(Int(q.bits)) else {
            throw PluginError("qparams: bits \(q.bits) outside 1...16")
        }
        let axis = Int(q.axis)
        let expected: Int
        if axis == -1 {
            expected = 1
        } else if shape.indices.contains(axis) {
            expected = shape[axis]
        } else {
            throw PluginError("qparams: axis \(axis) is not -1 or a dimension of the \(shape.count)-d input")
        }
        let count = Int(q.count)
        var scales: [Float] = []
        if let pointer = q.scales {
            guard count == expected else {
                throw PluginError("qparams: \(count) scales for axis \(axis); expected \(expected)")
            }
            scales = Array(UnsafeBufferPointer(start: pointer, count: count))
            guard scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw PluginError("qparams: scales must be finite and positive")
            }
        } else if scheme == .affine || scheme == .symmetric {
            throw PluginError("qparams: an \(scheme.rawValue) quantizer must report scales")
        }
        var zeroPoints: [Int32] = []
        if let pointer = q.zero_points {
            guard count == expected else {
                throw PluginError("qparams: \(count) zero points for axis \(axis); expected \(expected)")
            }
            zeroPoints = Array(UnsafeBufferPointer(start: pointer, count: count))
        }
        if scheme == .affine || scheme == .symmetric {
            guard q.qmin < q.qmax else { throw PluginError("qparams: qmin \(q.qmin) must be below qmax \(q.qmax)") }
            guard Int(q.qmax) - Int(q.qmin) < (1 << Int(q.bits)) else {
                throw PluginError("qparams: range [\(q.qmin), \(q.qmax)] does not fit in \(q.bits) bits")
            }
            guard zeroPoints.allSatisfy({ $0 >= q.qmin && $0 <= q.qmax }) else {
                throw PluginError("qparams: zero points outside [\(q.qmin), \(q.qmax)]")
            }
        }
        var codebook: [Float] = []
        if scheme == .codebook {
            guard let pointer = q.codebook, q.codebook_size > 0, Int(q.codebook_size) <= (1 << Int(q.bits)) else {
                throw PluginError("qparams: a codebook quantizer reports 1...2^bits centroids (got \(q.codebook_size) for \(q.bits) bits)")
            }
            codebook = Array(UnsafeBufferPointer(start: pointer, count: Int(q.codebook_size)))
        }
        self.init(scheme: scheme, bits: Int(q.bits), axis: axis, qmin: Int(q.qmin), qmax: Int(q.qmax),
                  scales: scales, zeroPoints: zeroPoints, codebook: codebook)
    }
}

/// The state of one method call, reached from `lathe_call.host_private`.
final class CallState {
    var error: String?
    var errorReports = 0
    var qparams: QuantParams?
    var qparamsReports = 0
    var qparamsError: String?
    /// Shape of the quantizer's input (to check reported per-channel parameters).
    var inputShape: [Int] = []
    var scratch: [UnsafeMutableRawPointer] = []
    /// [1.1] The persistent state of the instance the call belongs to (host->state).
    let stateBuffer: StateBuffer
    /// [1.1] Why host->state returned NULL, if it did.
    var stateError: String?

    /// `stateBuffer`: the instance's; a call outside any instance gets a buffer of its own.
    init(stateBuffer: StateBuffer = StateBuffer()) { self.stateBuffer = stateBuffer }

    deinit { for block in scratch { free(block) } }
}

/// The one host table every plugin receives.
enum HostTable {
    /// Level at or above which plugin log lines reach stderr (LATHE_PLUGIN_LOG=debug|info|warning|error).
    static let threshold: Int32 = {
        switch ProcessInfo.processInfo.environment["LATHE_PLUGIN_LOG"] {
        case "debug": return 0
        case "info": return 1
        case "error": return 3
        default: return 2
        }
    }()

    /// Recent lines logged by plugins (for init failure messages).
    private static let recent = Mutex<[String]>([])

    static func drainInitLog(plugin: String) -> String {
        recent.withLock { lines in
            defer { lines.removeAll() }
            return lines.suffix(3).joined(separator: "; ")
        }
    }

    nonisolated(unsafe) static let shared: UnsafePointer<lathe_host> = {
        let table = UnsafeMutablePointer<lathe_host>.allocate(capacity: 1)
        table.initialize(to: lathe_host(
            head: lathe_head(abi_major: UInt16(ABI.major), abi_minor: UInt16(ABI.minor),
                             size: UInt32(MemoryLayout<lathe_host>.size)),
            host_private: nil,
            log: { _, level, message in
                let text = message.map { String(cString: $0) } ?? ""
                HostTable.recent.withLock { lines in
                    lines.append(text)
                    if lines.count > 16 { lines.removeFirst(lines.count - 16) }
                }
                if level >= HostTable.threshold {
                    let names = ["debug", "info", "warning", "error"]
                    let name = names.indices.contains(Int(level)) ? names[Int(level)] : "log"
                    FileHandle.standardError.write(Data("plugin \(name): \(text)\n".utf8))
                }
            },
            report_error: { call, message in
                guard let state = HostTable.state(call) else { return }
                state.errorReports += 1
                if state.error == nil { state.error = message.map { String(cString: $0) } ?? "(no message)" }
            },
            report_qparams: { call, qparams in
                guard let state = HostTable.state(call) else { return Int32(LATHE_INVALID_ARGUMENT.rawValue) }
                state.qparamsReports += 1
                guard let qparams else {
                    state.qparamsError = "report_qparams(NULL)"
                    return Int32(LATHE_INVALID_ARGUMENT.rawValue)
                }
                do {
                    state.qparams = try QuantParams(reading: UnsafeRawPointer(qparams), shape: state.inputShape)
                    return Int32(LATHE_OK.rawValue)
                } catch {
                    state.qparamsError = String(describing: error)
                    return Int32(LATHE_INVALID_ARGUMENT.rawValue)
                }
            },
            scratch: { call, bytes in
                guard let state = HostTable.state(call) else { return nil }
                var block: UnsafeMutableRawPointer?
                guard posix_memalign(&block, 64, Swift.max(bytes, 1)) == 0, let block else { return nil }
                state.scratch.append(block)
                return block
            },
            state: { call, bytes in
                guard let state = HostTable.state(call) else { return nil }
                do {
                    return try state.stateBuffer.request(bytes)
                } catch {
                    if state.stateError == nil { state.stateError = String(describing: error) }
                    return nil
                }
            }))
        return UnsafePointer(table)
    }()

    static func state(_ call: UnsafeMutablePointer<lathe_call>?) -> CallState? {
        guard let pointer = call?.pointee.host_private else { return nil }
        return Unmanaged<CallState>.fromOpaque(pointer).takeUnretainedValue()
    }
}
