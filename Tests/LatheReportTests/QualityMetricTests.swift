import Foundation
import Testing
@testable import LatheReport

/// A detection or segmentation sweep's report says what its accuracy columns hold.
@Suite("Report: the task's primary metric is named")
struct QualityMetricTests {
    @Test(arguments: [("map", "COCO mAP@[.5:.95]"), ("miou", "mean IoU"), ("accuracy", "")])
    func reportNamesTheMetric(metric: String, phrase: String) throws {
        let trials = (0..<2).map { seed in
            MiniSweep.Trial(group: "baseline", method: "baseline (fp32)", seed: Int64(seed), metrics: ["accuracy": 0.5 + 0.1 * Double(seed)],
                            provenance: ["metric": metric])
        }
        let sweep = try MiniSweep.make(trials)
        defer { sweep.remove() }
        #expect(sweep.model.qualityMetric == metric)
        let markdown = MarkdownReport.render(sweep.model)
        let html = HTMLReport.render(sweep.model)
        if phrase.isEmpty {
            #expect(!markdown.contains("sweep: every “accuracy” figure"))
        } else {
            #expect(markdown.contains(phrase) && html.contains(phrase))
        }
        // Trials that disagree (a mixed database) fall back to plain accuracy.
        let mixed = try MiniSweep.make([trials[0], MiniSweep.Trial(group: "x", method: "x", seed: 0, metrics: ["accuracy": 0.4], provenance: ["metric": "other"])])
        defer { mixed.remove() }
        #expect(mixed.model.qualityMetric == "accuracy")
    }
}
