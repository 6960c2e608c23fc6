import LatheTensor

/// Picks what to prune from importance scores (higher = keep).
///
/// Selection is monotone: units already pruned stay pruned (they rank below every live unit),
/// and every layer keeps at least one unit so that the network stays connected. Ties break by
/// position (stable sort), so the same scores always give the same masks.
public enum Selection {
    /// One layer's scores: a flat list of units (weights or output channels).
    public struct Candidate {
        /// Layer name (for messages).
        public var layer: String
        /// One score per unit, any shape (flattened row-major).
        public var scores: Tensor
        /// Units still alive from earlier steps, one per unit (nil: all).
        public var alive: [Bool]?

        public init(layer: String, scores: Tensor, alive: [Bool]? = nil) {
            self.layer = layer
            self.scores = scores
            self.alive = alive
        }
    }

    /// Local selection: each candidate loses the `round(sparsity · units)` lowest-scoring units.
    /// Returns keep flags per candidate.
    public static func local(_ candidates: [Candidate], sparsity: [Double]) throws -> [[Bool]] {
        guard candidates.count == sparsity.count else {
            throw PruningError.unsupported("\(sparsity.count) sparsity targets for \(candidates.count) layers")
        }
        return try zip(candidates, sparsity).map { try global([$0], sparsity: $1)[0] }
    }

    /// Global selection: one ranking over every candidate's units; the `round(sparsity · total)`
    /// lowest go. Scores are compared as given (normalise them first when layers differ in scale).
    public static func global(_ candidates: [Candidate], sparsity: Double) throws -> [[Bool]] {
        let counts = candidates.map(\.scores.count)
        let total = counts.reduce(0, +)
        guard total > 0 else { return counts.map { [Bool](repeating: true, count: $0) } }
        var flat: [Tensor] = []
        for c in candidates {
            var s = try c.scores.detached().converted(to: .float32).flattened()
            if let alive = c.alive {
                guard alive.count == s.count else {
                    throw PruningError.unsupported("\(c.layer): \(alive.count) mask entries for \(s.count) scores")
                }
                let dead = try Tensor(alive.map { !$0 ? Float(1) : 0 }).ne(0)
                s = try s.maskedFill(dead, -Double.infinity)
            }
            flat.append(s)
        }
        let all = candidates.count == 1 ? flat[0] : try Tensor.cat(flat)
        let order = try all.sorted(dim: 0).indices.scalars(as: Int64.self)
        // Which candidate each flat position belongs to.
        var owner = [Int](repeating: 0, count: total)
        var offsets: [Int] = []
        var start = 0
        for (i, n) in counts.enumerated() {
            offsets.append(start)
            for j in start..<(start + n) { owner[j] = i }
            start += n
        }
        var keep = counts.map { [Bool](repeating: true, count: $0) }
        var alive = counts
        for (i, c) in candidates.enumerated() {
            if let a = c.alive {
                for (j, isAlive) in a.enumerated() where !isAlive { keep[i][j] = false }
                alive[i] = a.filter { $0 }.count
            }
        }
        let target = Swift.min(total, Int((sparsity * Double(total)).rounded()))
        var pruned = total - alive.reduce(0, +)
        for position in order where pruned < target {
            let p = Int(position)
            let i = owner[p], j = p - offsets[i]
            guard keep[i][j], alive[i] > 1 else { continue }
            keep[i][j] = false
            alive[i] -= 1
            pruned += 1
        }
        return keep
    }
}
