import Foundation

/// A learning-rate schedule: the rate for a global step (0-based, one step per batch).
public indirect enum LRSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// Multiply by `gamma` every `stepEpochs` epochs.
    case step(stepEpochs: Int, gamma: Double)
    /// Cosine annealing from the base rate to zero over the whole run (SGDR without restarts).
    case cosine
    /// Linear warm-up over the first `epochs` epochs (step k of n warm-up steps at
    /// base·(k+1)/n, as Goyal et al. 2017), then `then` over the remaining steps as if they were
    /// the whole run. A warm-up longer than the run covers all of it.
    case warmup(epochs: Int, then: LRSchedule)

    /// The rate at `step` of `totalSteps`, with `stepsPerEpoch` steps per epoch.
    public func rate(base: Double, step: Int, totalSteps: Int, stepsPerEpoch: Int) -> Double {
        switch self {
        case .constant:
            return base
        case let .step(stepEpochs, gamma):
            let epoch = step / Swift.max(1, stepsPerEpoch)
            return base * Foundation.pow(gamma, Double(epoch / Swift.max(1, stepEpochs)))
        case .cosine:
            let progress = Double(step) / Double(Swift.max(1, totalSteps))
            return base * 0.5 * (1 + Foundation.cos(Double.pi * progress))
        case let .warmup(epochs, then):
            let (product, overflow) = epochs.multipliedReportingOverflow(by: Swift.max(0, stepsPerEpoch))
            let warmupSteps = Swift.min(overflow ? Int.max : product, totalSteps)
            if step < warmupSteps { return base * Double(step + 1) / Double(warmupSteps) }
            return then.rate(base: base, step: step - warmupSteps, totalSteps: totalSteps - warmupSteps, stepsPerEpoch: stepsPerEpoch)
        }
    }
}
