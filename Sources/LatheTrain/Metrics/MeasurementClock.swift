import Foundation

/// Wall time this process has spent measuring models: test-set evaluations
/// (`Evaluation.evaluate`) and latency timing (`Latency.measure`). A caller reads it before and
/// after a call to tell the call's own work from the measurements made inside it (a trial's
/// `compress_seconds`).
///
/// One process-wide total: meaningful when one thing runs at a time, as in a trial's child
/// process. Measurements do not nest (neither function calls the other's timed part).
public enum MeasurementClock {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var total: Double = 0

    /// Seconds spent measuring so far.
    public static var seconds: Double { lock.withLock { total } }

    /// A start time for `stop`.
    static func start() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since `started` to the total.
    static func stop(_ started: UInt64) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        lock.withLock { total += elapsed }
    }
}
