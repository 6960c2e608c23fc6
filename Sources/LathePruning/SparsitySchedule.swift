import Foundation

/// Sparsity targets over the pruning steps of a schedule.
public enum SparsitySchedule {
    /// Automated gradual pruning (Zhu & Gupta, "To prune, or not to prune", 2017):
    /// s_t = s_f + (s_i − s_f)(1 − t/n)³ for t in 0...n.
    public static func agp(initial: Double, final: Double, step t: Int, steps n: Int) -> Double {
        guard n > 0 else { return final }
        let progress = Swift.min(Swift.max(Double(t) / Double(n), 0), 1)
        return final + (initial - final) * Foundation.pow(1 - progress, 3)
    }

    /// Iterative pruning with a constant pruning rate per round (the lottery-ticket procedure):
    /// each round removes the same fraction of what remains, s_t = 1 − (1 − s_f)^(t/n).
    public static func iterative(final: Double, step t: Int, steps n: Int) -> Double {
        guard n > 0 else { return final }
        let progress = Swift.min(Swift.max(Double(t) / Double(n), 0), 1)
        return 1 - Foundation.pow(1 - final, progress)
    }

    /// The target after step `t` (1-based) of `config`'s schedule for a layer whose final
    /// sparsity is `final`. The last step always reaches `final` exactly.
    public static func target(_ config: PruningConfig, final: Double, step t: Int) -> Double {
        let n = config.stepCount
        if t >= n { return final }
        switch config.schedule {
        case .oneShot: return final
        case .iterative: return iterative(final: final, step: t, steps: n)
        case .agp:
            // The initial sparsity is scaled with a per-layer final sparsity.
            let initial = config.sparsity > 0 ? config.initialSparsity * final / config.sparsity : 0
            return agp(initial: initial, final: final, step: t, steps: n)
        }
    }
}
