import Foundation

/// Wall time the calling thread has spent measuring models: test-set evaluations
/// (`Evaluation.evaluate`) and latency timing (`Latency.measure`). A caller reads it before and
/// after a call to tell the call's own work from the measurements made inside it (a trial's
/// `compress_seconds`).
///
/// Kept per thread: both measurements run on the thread that calls them, so work on other
/// threads (parallel tests, other stages) never counts against a caller's. Measurements do not
/// nest (neither function calls the other's timed part).
public enum MeasurementClock {
    private static let key = "lathe.measurement-seconds"

    /// Seconds the calling thread has spent measuring so far.
    public static var seconds: Double { Thread.current.threadDictionary[key] as? Double ?? 0 }

    /// A start time for `stop`.
    static func start() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since `started` to the calling thread's total.
    static func stop(_ started: UInt64) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        Thread.current.threadDictionary[key] = seconds + elapsed
    }
}
