import Foundation

/// A learning-rate schedule: the rate for a global step (0-based, one step per batch).
public enum LRSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// Multiply by `gamma` every `stepEpochs` epochs.
    case step(stepEpochs: Int, gamma: Double)
    /// Cosine annealing from the base rate to zero over the whole run (SGDR without restarts).
    case cosine

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
        }
    }
}
