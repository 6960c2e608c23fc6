import Dispatch
import Foundation
import LatheTensor
import Synchronization

extension ConformanceChecker {
    /// Threads that call the method at once in the thread-safety check.
    static let raceThreads = 4

    /// Each of `raceThreads` threads calls the method with its own (large) inputs, all at once,
    /// and compares every result with the serial result for those inputs: at the defaults for at
    /// least 0.3 s, at each other setting for a few rounds.
    func threadSafety(_ settings: [Setting]) throws -> String {
        let inputs = try (0..<Self.raceThreads).map { try self.inputs(seed: 11 + UInt64($0), large: true) }
        var calls = 0
        for setting in settings {
            let expected = try inputs.map { try call(setting.params, $0) }
            let atDefaults = setting.parameter == nil
            let (failures, made) = Self.race(method, setting.params, inputs, expected,
                                             rounds: atDefaults ? 20 : 4, seconds: atDefaults ? 0.3 : 0)
            calls += made
            guard failures.isEmpty else {
                let at = atDefaults ? "" : " (with \(setting.label))"
                throw PluginError("declared thread-safe, but concurrent calls disagree\(at): \(failures.joined(separator: "; "))")
            }
        }
        return "\(calls) concurrent calls on \(Self.raceThreads) threads (each its own inputs, at \(settings.count) setting(s)) matched the serial results"
    }

    /// Starts one thread per input set at the same moment; each calls until it made `rounds`
    /// calls and `seconds` passed, or until any thread found a difference.
    static func race(_ method: PluginMethod, _ params: BoundParams, _ inputs: [[Tensor]], _ expected: [Outcome],
                     rounds: Int, seconds: Double) -> (failures: [String], calls: Int) {
        let log = RaceLog()
        // Each thread reads only its own inputs and expected results; libtorch allows concurrent reads.
        let shared = UncheckedBox((inputs, expected.map { ($0.values, $0.scalar, $0.qparams) }))
        let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for worker in inputs.indices {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                let (inputs, expected) = shared.value
                ready.signal()
                go.wait()
                let start = DispatchTime.now().uptimeNanoseconds
                var round = 0
                while round < rounds || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
                    if log.state.withLock({ !$0.failures.isEmpty }) { return }
                    var failure: String?
                    do {
                        let got = try call(method, params, inputs[worker])
                        if got.values != expected[worker].0 || got.scalar != expected[worker].1 || got.qparams != expected[worker].2 {
                            failure = "thread \(worker), call \(round): output differs from the serial result for its inputs (max difference \(maxDifference(got.values, expected[worker].0)))"
                        }
                    } catch {
                        failure = "thread \(worker), call \(round): \(error)"
                    }
                    log.state.withLock { state in
                        state.calls += 1
                        if let failure { state.failures.append(failure) }
                    }
                    if failure != nil { return }
                    round += 1
                }
            }
            thread.start()
        }
        for _ in inputs.indices { ready.wait() }
        for _ in inputs.indices { go.signal() }
        done.wait()
        return log.state.withLock { ($0.failures, $0.calls) }
    }
}

/// What the racing threads found, shared between them.
private final class RaceLog: Sendable {
    let state = Mutex<(failures: [String], calls: Int)>(([], 0))
}

/// Hands values that are safe to share by construction (documented at the use) across threads.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
