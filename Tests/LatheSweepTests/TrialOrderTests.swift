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

/// When a local sweep starts a trial (`TrialOrder.nextStartable`): baselines in their order, and a
/// seed's other trials as soon as that seed's baseline has ended, not after every seed's.
@Suite struct TrialStartTests {
    struct Item: Equatable { var name: String; var seed: Int64 }
    static func next(_ queue: [Item], running: [Item]) -> String? {
        TrialOrder.nextStartable(queue, running: running, seed: \.seed, isBaseline: { $0.name == "baseline" }).map { queue[$0].name + " \(queue[$0].seed)" }
    }

    @Test func aSeedsTrialsWaitOnlyForThatSeedsBaseline() {
        let b = (0...2).map { Item(name: "baseline", seed: $0) }
        let t = { (name: String, seed: Int64) in Item(name: name, seed: seed) }
        // Everything queued: baselines first, in their order.
        #expect(Self.next(b + [t("gptq", 0), t("rtn", 1)], running: []) == "baseline 0")
        // Seeds 0 and 1 training, seed 2's baseline queued: the baseline starts first.
        #expect(Self.next([b[2], t("gptq", 0), t("rtn", 1)], running: [b[0], b[1]]) == "baseline 2")
        // Seed 0's baseline done, 1 and 2 training: seed 0's trial starts, seed 1's waits, even
        // though it is first in the queue.
        #expect(Self.next([t("rtn", 1), t("gptq", 0), t("rtn", 2)], running: [b[1], b[2]]) == "gptq 0")
        // Nothing startable while every queued trial's baseline trains.
        #expect(Self.next([t("rtn", 1), t("rtn", 2)], running: [b[1], b[2]]) == nil)
        // A seed with no baseline in this run (done before a resume) starts at once.
        #expect(Self.next([t("awq", 5)], running: [b[1]]) == "awq 5")
        #expect(Self.next([], running: [b[0]]) == nil)
    }
}
