import Foundation
import LatheTrain

/// Times one compression stage of a trial for its `compress_seconds`: the stage's wall time
/// minus the training the stage reports (QAT epochs, pruning's fine-tuning, a teacher trained
/// on a cache miss) and minus the measurements made during it (`MeasurementClock`: test-set
/// evaluations and latency timing, e.g. the stage's accuracy before and after, pruning's
/// latency comparison, int8 timing).
///
/// What remains is the method itself and its set-up: loading the plugin, folding batch norm,
/// calibration passes and the quantizer calls (quantize); scoring, selection, masking and
/// channel removal (prune); the teacher's lookup and the student's whole distillation training
/// (distill). `finetune` stages are not compression and are not timed.
struct StageTimer {
    private let started = DispatchTime.now().uptimeNanoseconds
    private let measuredBefore = MeasurementClock.seconds

    /// Seconds of the method since this timer started, `training` seconds excluded.
    func methodSeconds(excludingTraining training: Double) -> Double {
        let wall = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return Swift.max(0, wall - training - (MeasurementClock.seconds - measuredBefore))
    }
}
