import Foundation
import Testing
@testable import LatheReport

/// Quantization trials record `bits_per_weight` (scales included); the reports show it as a
/// "Bits/weight" column of the methods and trials tables, only when a trial has it.
@Suite struct BitsPerWeightReportTests {
    @Test func methodsAndTrialsTablesShowBitsPerWeight() throws {
        let sweep = try MiniSweep.make([1, 2].flatMap { seed -> [MiniSweep.Trial] in [
            .init(group: "baseline", method: "fp32", seed: seed, metrics: ["accuracy": 0.9, "size_bytes": 4000]),
            .init(group: "quant", method: "int4 g128", seed: seed, metrics: ["accuracy": 0.89, "size_bytes": 600, "bits_per_weight": 4.125]),
        ] })
        defer { sweep.remove() }
        #expect(ReportFormat.value(4.125, metric: ReportMetric.bitsPerWeight) == "4.125")
        let md = MarkdownReport.render(sweep.model)
        #expect(md.contains("Bits/weight"), "\(md)")
        #expect(md.contains("4.125"))
        let html = HTMLReport.render(sweep.model)
        #expect(html.contains("<th>Bits/weight</th>") || html.contains(">Bits/weight<"), "no Bits/weight column")
    }

    @Test func noColumnWithoutTheMetric() throws {
        let sweep = try MiniSweep.make([
            .init(group: "baseline", method: "fp32", seed: 1, metrics: ["accuracy": 0.9, "size_bytes": 4000]),
            .init(group: "prune", method: "magnitude", seed: 1, metrics: ["accuracy": 0.88, "size_bytes": 2000]),
        ])
        defer { sweep.remove() }
        #expect(!MarkdownReport.render(sweep.model).contains("Bits/weight"))
        #expect(!HTMLReport.render(sweep.model).contains("Bits/weight"))
    }
}
