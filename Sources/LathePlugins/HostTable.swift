import CLathePlugin
import Foundation
import Synchronization

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
    /// [1.2] Named numbers reported with host->report_metric, in first-report order.
    var metrics: [(name: String, value: Double)] = []
    /// Most metrics one call may report.
    static let maxMetrics = 16

    /// Whether the call passes private copies of its inputs and checks them unchanged after it
    /// (`InputVerification`); when false the inputs are passed in place.
    var verifyInputs = true

    /// `stateBuffer`: the instance's; a call outside any instance gets a buffer of its own.
    init(stateBuffer: StateBuffer = StateBuffer()) { self.stateBuffer = stateBuffer }

    /// Forgets what the last call reported and frees its scratch memory, for a state reused
    /// call after call (a `CallFrame`'s).
    func reset() {
        if error != nil || qparamsError != nil || stateError != nil {
            error = nil
            qparamsError = nil
            stateError = nil
        }
        errorReports = 0
        qparams = nil
        qparamsReports = 0
        if !metrics.isEmpty { metrics.removeAll() }
        releaseScratch()
    }

    /// Frees the scratch blocks handed out during the call (valid until it returns).
    func releaseScratch() {
        guard !scratch.isEmpty else { return }
        for block in scratch { free(block) }
        scratch.removeAll(keepingCapacity: true)
    }

    deinit { releaseScratch() }
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
            },
            report_metric: { call, name, value in
                guard let state = HostTable.state(call), let name else { return Int32(LATHE_INVALID_ARGUMENT.rawValue) }
                let text = String(cString: name)
                guard Identifier.isParamName(text), text.utf8.count <= 32, value.isFinite else {
                    return Int32(LATHE_INVALID_ARGUMENT.rawValue)
                }
                if let index = state.metrics.firstIndex(where: { $0.name == text }) {
                    state.metrics[index].value = value
                } else {
                    guard state.metrics.count < CallState.maxMetrics else { return Int32(LATHE_INVALID_ARGUMENT.rawValue) }
                    state.metrics.append((text, value))
                }
                return Int32(LATHE_OK.rawValue)
            }))
        return UnsafePointer(table)
    }()

    static func state(_ call: UnsafeMutablePointer<lathe_call>?) -> CallState? {
        guard let pointer = call?.pointee.host_private else { return nil }
        return Unmanaged<CallState>.fromOpaque(pointer).takeUnretainedValue()
    }
}
