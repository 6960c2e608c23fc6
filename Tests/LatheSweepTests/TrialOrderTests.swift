import Foundation
import Testing
@testable import LatheSweep

/// The order a local sweep starts its non-baseline trials in (`TrialOrder`), on the shipped
/// detection spec: the first distillation trial trains the shared teacher at once, the trials
/// that need no teacher follow longest first, and the other students come last.
@Suite struct TrialOrderTests {
    @Test func theTeacherStartsFirstThenTheLongestTrials() throws {
        let registry = try SweepSpecTests.registry()
        let text = try String(contentsOf: SweepSpecTests.root.appendingPathComponent("sweeps/detection.toml"), encoding: .utf8)
        let plans = try SweepSpec.parse(text, file: "detection.toml", registry: registry).trials(registry: registry)
            .filter { $0.group != "baseline" }
        let order = TrialOrder.ordered(plans) { $0 }.map { "\($0.group) \($0.seed)" }
        #expect(order == ["kd-cwd 1", "qat-4bit 1", "qat-4bit 2", "qat-4bit 3", "prune-30 1", "prune-30 2", "prune-30 3",
                          "ptq-int8 1", "ptq-int8 2", "ptq-int8 3", "ptq-4bit 1", "ptq-4bit 2", "ptq-4bit 3", "kd-cwd 2", "kd-cwd 3"],
                "\(order)")
        // Nothing lost or repeated; an item without a plan (not in the spec) still runs.
        let withStray = TrialOrder.ordered(plans.map(Optional.some) + [nil]) { $0 }
        #expect(withStray.count == plans.count + 1 && withStray.compactMap { $0?.key }.sorted() == plans.map(\.key).sorted())
    }
}
