/// SplitMix64 (Steele, Lea & Flood 2014): a small seeded generator with the same stream on
/// every platform, unlike the system generator.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose stream is determined by `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher–Yates with this generator: the same order on every platform and Swift version
    /// (the standard library's `shuffle` algorithm is not guaranteed stable).
    public mutating func shuffle<T>(_ values: inout [T]) {
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(i, Int(next() % UInt64(i + 1)))
        }
    }
}

/// The mini-batches of one epoch: index slices covering `0..<count`, shuffled with a stream
/// derived from `(seed, epoch)` so that every epoch differs and every run repeats.
public struct BatchPlan: Sequence, Sendable {
    public let batches: [ArraySlice<Int>]

    /// Plans one epoch.
    public init(count: Int, batchSize: Int, shuffle: Bool, seed: UInt64, epoch: Int, dropLast: Bool = false) {
        var order = Array(0..<Swift.max(0, count))
        if shuffle {
            var generator = SeededGenerator(seed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(truncatingIfNeeded: epoch) &+ 1)
            generator.shuffle(&order)
        }
        let size = Swift.max(1, batchSize)
        var slices: [ArraySlice<Int>] = []
        var start = 0
        while start < order.count {
            let end = Swift.min(start + size, order.count)
            if dropLast && end - start < size { break }
            slices.append(order[start..<end])
            start = end
        }
        batches = slices
    }

    public func makeIterator() -> IndexingIterator<[ArraySlice<Int>]> { batches.makeIterator() }
}
