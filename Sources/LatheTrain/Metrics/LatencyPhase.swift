import Foundation
import LatheData
import LatheTensor

/// A model to time: its forward function and the shape of one input sample.
public struct LatencySubject {
    public var id: String
    public var input: [Int]
    public var forward: (Tensor) throws -> Tensor

    public init(id: String, input: [Int], forward: @escaping (Tensor) throws -> Tensor) {
        self.id = id
        self.input = input
        self.forward = forward
    }
}

/// How long and how precisely the latency phase times.
public struct LatencyPlan: Sendable, Codable, Equatable {
    public var batchSizes: [Int] = [1, 256]
    /// Rounds that run (after the warm-up, which is discarded) unless the budget ends first.
    public var minRounds = 30
    /// Rounds never exceeded.
    public var maxRounds = 400
    /// Stop once every median's 95% interval is within ± this share of it (0.015 = ±1.5 %). Tighter
    /// than the ±3 % a comparison needs: two runs of a sweep on this machine kind drifted by up to
    /// 3 % at batch 1 (machine state between runs), so each median must carry less noise than that.
    public var target = 0.015
    /// Stop after this many seconds of the phase (warm-up included) even when the target or
    /// `minRounds` is not met, once `floorRounds` rounds ran (the noise figure says how precise
    /// the medians came out). Many expensive models (22 detectors at batch 256 take ~35 s a round
    /// here) would otherwise hold a sweep for 30 rounds whatever its budget.
    public var budgetSeconds = 120.0
    /// Rounds that run even past the budget: fewer leave a median without an interval.
    public var floorRounds = 5
    /// Each sample times a block of passes at least this long (and at least a twentieth of the
    /// phase's longest pass), so that the clock's resolution, per-call overhead and the state
    /// the big passes leave do not dominate small models at batch 1.
    public var minBlockSeconds = 0.01

    public init() {}

    enum CodingKeys: String, CodingKey {
        case batchSizes = "batch_sizes", minRounds = "min_rounds", maxRounds = "max_rounds", target
        case budgetSeconds = "budget_seconds", minBlockSeconds = "min_block_seconds", floorRounds = "floor_rounds"
    }
}

/// The timing of one subject at one batch size: one sample (ms per forward pass) per round.
public struct LatencySeries: Sendable, Codable, Equatable {
    public var id: String
    public var batchSize: Int
    /// Milliseconds per pass, one value per round, in round order (the warm-up excluded).
    public var samples: [Double]
    /// Passes per timed block.
    public var passesPerBlock: Int

    enum CodingKeys: String, CodingKey { case id, batchSize = "batch_size", samples, passesPerBlock = "passes_per_block" }

    /// The median and its distribution-free 95% interval.
    public var median: MedianInterval { MedianInterval(samples) }
}

/// A median with its distribution-free 95% confidence interval from order statistics
/// (ranks n/2 ∓ 1.96·√n/2, the binomial normal approximation): it holds for any distribution of
/// the samples, which timing noise (skewed, with outliers) is not normal in.
public struct MedianInterval: Sendable, Equatable {
    public var median: Double
    public var lower: Double
    public var upper: Double

    public init(_ values: [Double]) {
        let s = values.filter(\.isFinite).sorted()
        guard !s.isEmpty else {
            (median, lower, upper) = (.nan, .nan, .nan)
            return
        }
        median = Statistics.median(s)
        let n = Double(s.count)
        let half = 1.96 * n.squareRoot() / 2
        // 1-based ranks j and k, clamped to the sample.
        let j = Swift.max(1, Int((n / 2 - half).rounded(.down)))
        let k = Swift.min(s.count, Int((n / 2 + half).rounded(.up)) + 1)
        lower = s[j - 1]
        upper = s[k - 1]
    }

    /// Half the interval's width relative to the median (0.02 = ±2 %); infinite for a zero median.
    public var relativeHalfWidth: Double {
        median > 0 ? (upper - lower) / 2 / median : .infinity
    }
}

/// The latency phase: every subject timed in one process, interleaved, so that slow drifts of
/// the machine (frequency, another process, thermal state) fall on all subjects alike.
///
/// Each round times every subject at every batch size once, in a freshly shuffled order;
/// a sample is the mean pass time of a block of passes (sized once, to `minBlockSeconds` or a
/// twentieth of the longest pass, whichever is longer).
/// A warm-up (two passes of each, the second sizing its block; one when it takes 0.5 s or more)
/// is run and discarded. Rounds
/// continue until every median's 95% interval is within ±`target` of it (after `minRounds`), or
/// `maxRounds` is reached, or the phase has used `budgetSeconds` (after `floorRounds`); the
/// achieved half-width is each series' noise figure.
public enum LatencyPhase {
    /// Times `subjects` (ids must be distinct) and returns one series per subject and batch
    /// size, in subject order then batch order. `clock` returns nanoseconds (tests inject one);
    /// `progress` hears one line after the warm-up and after each round.
    public static func run(_ subjects: [LatencySubject], plan: LatencyPlan = LatencyPlan(),
                           clock: () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
                           progress: (String) -> Void = { _ in }) throws -> [LatencySeries] {
        guard Set(subjects.map(\.id)).count == subjects.count else {
            throw TrainingError.invalidLatencyPlan("subjects must have distinct ids")
        }
        guard plan.batchSizes.allSatisfy({ $0 >= 1 }), plan.minRounds >= 1, plan.maxRounds >= plan.minRounds, plan.floorRounds >= 1 else {
            throw TrainingError.invalidLatencyPlan("batch sizes ≥ 1, floor_rounds ≥ 1 and 1 ≤ min_rounds ≤ max_rounds expected")
        }
        let started = clock()
        func elapsed() -> Double { Double(clock() &- started) / 1e9 }
        struct Slot {
            var subject: Int
            var batch: Int
            var input: Tensor
            var passes = 1
            var samples: [Double] = []
        }
        var slots: [Slot] = []
        for (index, subject) in subjects.enumerated() {
            for batch in plan.batchSizes {
                slots.append(Slot(subject: index, batch: batch, input: try Tensor.zeros([batch] + subject.input)))
            }
        }
        func time(_ slot: Slot) throws -> Double {
            let forward = subjects[slot.subject].forward
            let start = clock()
            try withNoGrad { for _ in 0..<slot.passes { _ = try forward(slot.input) } }
            return Double(clock() &- start) / 1e6 / Double(slot.passes)
        }
        // Warm-up: one pass each (allocation, kernel choice), then a second that sizes the block.
        var once = [Double](repeating: 0, count: slots.count)
        for i in slots.indices {
            slots[i].passes = 1
            let first = try time(slots[i]) / 1e3
            // A pass of half a second or more is its own block and has warmed up: no sizing pass.
            once[i] = first >= 0.5 ? first : try time(slots[i]) / 1e3
            if once[i] > 1 { progress(String(format: "warm-up %d/%d: %.1f s a pass", i + 1, slots.count, once[i])) }
        }
        // Blocks last at least `minBlockSeconds` and a twentieth of the longest pass: beside
        // 2-second batch-256 passes of a detector, single 5 ms batch-1 passes read ±23 % noise
        // over 5 rounds (the big passes leave caches and clocks in another state each time).
        let block = Swift.max(plan.minBlockSeconds, (once.max() ?? 0) / 20)
        for i in slots.indices {
            slots[i].passes = Swift.max(1, Swift.min(10_000, Int((block / Swift.max(once[i], 1e-9)).rounded(.up))))
        }
        progress(String(format: "warm-up of %d series done in %.1f s", slots.count, elapsed()))
        var round = 0
        var order = Array(slots.indices)
        var generator = SeededGenerator(seed: 0x1a7e)
        while round < plan.maxRounds {
            // A new order each round (seeded, so runs are repeatable): no subject keeps a
            // position or a neighbour whose cache footprint it would inherit every round.
            generator.shuffle(&order)
            for i in order {
                slots[i].samples.append(try time(slots[i]))
            }
            round += 1
            let spent = elapsed()
            progress(String(format: "round %d done at %.1f s", round, spent))
            if round >= Swift.min(plan.floorRounds, plan.minRounds), spent >= plan.budgetSeconds { break }
            if round >= plan.minRounds, slots.allSatisfy({ MedianInterval($0.samples).relativeHalfWidth <= plan.target }) { break }
        }
        return slots.map {
            LatencySeries(id: subjects[$0.subject].id, batchSize: $0.batch, samples: $0.samples, passesPerBlock: $0.passes)
        }
    }

    /// The speedup of `trial` over `reference` (reference time / trial time): the median of the
    /// per-round ratios, whose pairing cancels what a round shares, with its 95% interval.
    public static func speedup(of trial: LatencySeries, over reference: LatencySeries) -> MedianInterval {
        let n = Swift.min(trial.samples.count, reference.samples.count)
        let ratios = (0..<n).compactMap { i -> Double? in
            trial.samples[i] > 0 ? reference.samples[i] / trial.samples[i] : nil
        }
        return MedianInterval(ratios)
    }
}

