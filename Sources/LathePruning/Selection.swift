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

    /// Per-output selection (element scores): every row of `rows` (dimension 0 of the weight)
    /// loses the `round(sparsity · row length)` lowest-scoring units of its own, keeping at least
    /// one live unit per row.
    public static func perRow(_ candidate: Candidate, rows: Int, sparsity: Double) throws -> [Bool] {
        let (scores, alive) = try flat(candidate)
        guard rows > 0, scores.count % rows == 0 else {
            throw PruningError.unsupported("\(candidate.layer): \(scores.count) scores do not split into \(rows) output rows")
        }
        let length = scores.count / rows
        var keep = alive
        let target = Swift.min(length, Int((sparsity * Double(length)).rounded()))
        for r in 0..<rows {
            let range = (r * length)..<((r + 1) * length)
            var live = range.filter { keep[$0] }.count
            var pruned = length - live
            for j in order(scores, range) where pruned < target {
                guard keep[j], live > 1 else { continue }
                keep[j] = false
                live -= 1
                pruned += 1
            }
        }
        return keep
    }

    /// N:M selection (element scores): in every group of `m` consecutive units of a row (rows of
    /// `rowLength`, which `m` must divide), the `n` highest-scoring live units are kept and the
    /// others pruned. Units already pruned stay pruned.
    public static func nOfM(_ candidate: Candidate, rowLength: Int, n: Int, m: Int) throws -> [Bool] {
        let (scores, alive) = try flat(candidate)
        guard rowLength > 0, scores.count % rowLength == 0, rowLength % m == 0 else {
            throw PruningError.unsupported("\(candidate.layer): rows of \(rowLength) weights do not split into groups of \(m) for an \(n):\(m) pattern; exclude the layer")
        }
        var keep = [Bool](repeating: false, count: scores.count)
        for start in stride(from: 0, to: scores.count, by: m) {
            var kept = 0
            for j in order(scores, start..<(start + m)).reversed() where kept < n && alive[j] {
                keep[j] = true
                kept += 1
            }
        }
        return keep
    }

    /// A candidate's scores as numbers (dead units at −∞) and its live flags.
    private static func flat(_ c: Candidate) throws -> (scores: [Float], alive: [Bool]) {
        let scores = try c.scores.detached().converted(to: .float32).contiguous().scalars(as: Float.self)
        let alive = c.alive ?? [Bool](repeating: true, count: scores.count)
        guard alive.count == scores.count else {
            throw PruningError.unsupported("\(c.layer): \(alive.count) mask entries for \(scores.count) scores")
        }
        return (zip(scores, alive).map { $1 ? $0 : -.infinity }, alive)
    }

    /// The positions of `range`, lowest score first; ties by position.
    private static func order(_ scores: [Float], _ range: Range<Int>) -> [Int] {
        range.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }
}
