import Foundation
import LatheTensor
import Testing
@testable import LatheTrain

@Suite struct LatencyPhaseTests {
    /// The order-statistic interval of the median, by hand: for n = 15 the ranks are
    /// ⌊7.5 − 1.96·√15/2⌋ = 3 and ⌈7.5 + 1.96·√15/2⌉ + 1 = 13.
    @Test func medianIntervalUsesOrderStatistics() {
        let m = MedianInterval((1...15).map(Double.init).shuffled())
        #expect(m.median == 8)
        #expect(m.lower == 3 && m.upper == 13)
        #expect(abs(m.relativeHalfWidth - 5.0 / 8.0) < 1e-12)
        // n = 100: ranks 40 and 61 (the textbook table).
        let big = MedianInterval((1...100).map(Double.init))
        #expect(big.lower == 40 && big.upper == 61)
        #expect(MedianInterval([]).median.isNaN)
    }

    /// With a clock that charges each subject a fixed cost per pass, every sample is exact: the
    /// phase stops at its minimum rounds (zero noise), sizes blocks to the minimum block time,
    /// and the speedups are the exact cost ratios; a copy of a subject reads 1.00.
    @Test func interleavedRoundsGiveExactFiguresWithADeterministicClock() throws {
        var now: UInt64 = 0
        var plan = LatencyPlan()
        plan.batchSizes = [1, 4]
        plan.minRounds = 5
        plan.minBlockSeconds = 0.001
        // Cost in ns per pass: by subject (from the input's first value) and batch size.
        func subject(_ id: String, costPerSample: UInt64) -> LatencySubject {
            LatencySubject(id: id, input: [2]) { x in
                now += costPerSample * UInt64(x.shape[0])
                return x
            }
        }
        let series = try LatencyPhase.run(
            [subject("base", costPerSample: 100_000), subject("copy", costPerSample: 100_000), subject("fast", costPerSample: 25_000)],
            plan: plan, clock: { now })
        #expect(series.map(\.id) == ["base", "base", "copy", "copy", "fast", "fast"])
        #expect(series.allSatisfy { $0.samples.count == 5 })
        let base1 = try #require(series.first { $0.id == "base" && $0.batchSize == 1 })
        let fast4 = try #require(series.first { $0.id == "fast" && $0.batchSize == 4 })
        #expect(base1.median.median == 0.1 && base1.median.relativeHalfWidth == 0)
        #expect(base1.passesPerBlock == 10)  // 1 ms block / 0.1 ms pass
        #expect(fast4.median.median == 0.1)
        let copy1 = try #require(series.first { $0.id == "copy" && $0.batchSize == 1 })
        let fast1 = try #require(series.first { $0.id == "fast" && $0.batchSize == 1 })
        #expect(LatencyPhase.speedup(of: copy1, over: base1) == MedianInterval([1, 1, 1, 1, 1]))
        #expect(LatencyPhase.speedup(of: fast1, over: base1).median == 4)
    }

    /// Models whose every round outlasts the budget stop after the floor of rounds, not after
    /// `minRounds` (30 rounds of 22 detectors at batch 256 held a sweep for over 15 minutes); the
    /// warm-up counts against the budget; progress is told after the warm-up and every round.
    @Test func expensiveRoundsStopAtTheFloorOnceTheBudgetIsSpent() throws {
        var now: UInt64 = 0
        var plan = LatencyPlan()
        plan.batchSizes = [1]
        plan.minRounds = 30
        plan.budgetSeconds = 1
        plan.floorRounds = 5
        let slow = LatencySubject(id: "slow", input: [1]) { x in
            now += 2_000_000_000  // 2 s a pass
            return x
        }
        var lines: [String] = []
        let series = try LatencyPhase.run([slow], plan: plan, clock: { now }, progress: { lines.append($0) })
        #expect(series[0].samples.count == 5)
        #expect(series[0].passesPerBlock == 1)
        #expect(lines.count == 1 + 1 + 5, "\(lines)")  // the slow warm-up pass, the warm-up, 5 rounds
        #expect(lines.last == "round 5 done at 12.0 s", "\(lines)")  // 1 warm-up pass (2 s: no sizing pass) + 5 rounds of 2 s
        // Beside a 2 s pass, a 1 ms one is timed in blocks of a twentieth of it (100 passes).
        var mixed = plan
        mixed.budgetSeconds = 1e9
        mixed.minRounds = 5
        let quick = LatencySubject(id: "quick", input: [1]) { x in
            now += 1_000_000
            return x
        }
        let both = try LatencyPhase.run([slow, quick], plan: mixed, clock: { now })
        #expect(both.map(\.passesPerBlock) == [1, 100])
        // A budget that the floor already meets changes nothing about cheap models: minRounds hold.
        var fast = plan
        fast.budgetSeconds = 1e9
        let cheap = LatencySubject(id: "cheap", input: [1]) { x in
            now += 1_000_000
            return x
        }
        #expect(try LatencyPhase.run([cheap], plan: fast, clock: { now })[0].samples.count == 30)
        plan.floorRounds = 0
        #expect(throws: TrainingError.self) { try LatencyPhase.run([slow], plan: plan, clock: { now }) }
    }

    /// Rounds continue past the minimum while the target is not met, and stop at the budget.
    @Test func noisySubjectsRunToTheBudget() throws {
        var now: UInt64 = 0
        var flip = false
        var plan = LatencyPlan()
        plan.batchSizes = [1]
        plan.minRounds = 3
        plan.maxRounds = 50
        plan.budgetSeconds = 1e9
        plan.minBlockSeconds = 1e-4  // one pass per block: the samples alternate 1 and 3 ms
        let noisy = LatencySubject(id: "noisy", input: [1]) { x in
            flip.toggle()
            now += flip ? 1_000_000 : 3_000_000
            return x
        }
        let series = try LatencyPhase.run([noisy], plan: plan, clock: { now })
        #expect(series[0].samples.count == 50, "a ±50 % spread never meets ±3 %: the phase runs to max_rounds")
        #expect(throws: TrainingError.self) {
            try LatencyPhase.run([noisy, noisy], plan: plan, clock: { now })
        }
    }
}
