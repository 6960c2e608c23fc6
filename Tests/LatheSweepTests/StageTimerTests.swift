import Foundation
import LatheData
import LatheTensor
import LatheTrain
import Testing
@testable import LatheSweep

/// `compress_seconds`: a stage's wall time without the training it reports and without the
/// measurements (evaluations, latency timing) made inside it.
@Suite("compress_seconds (StageTimer)")
struct StageTimerTests {
    @Test func excludesReportedTrainingAndEvaluationTime() throws {
        let data = try ImageDataset(images: [0, 0, 0, 0], labels: [0, 1, 0, 1], channels: 1, height: 1, width: 1, classCount: 2)
        let timer = StageTimer()
        Thread.sleep(forTimeInterval: 0.2) // the method itself
        // An evaluation inside the stage (one batch of 4) and 0.3 s of training it reports.
        _ = try Evaluation.evaluate(on: data) { _ in
            Thread.sleep(forTimeInterval: 0.5)
            return try Tensor.zeros([4, 2])
        }
        Thread.sleep(forTimeInterval: 0.3)
        let seconds = timer.methodSeconds(excludingTraining: 0.3)
        // Sleeps last at least their time: 0.2 s of method, plus scheduling slack, never the 0.8 s excluded.
        #expect(seconds >= 0.19 && seconds < 0.45, "\(seconds)")
    }
}
