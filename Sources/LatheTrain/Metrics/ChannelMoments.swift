import LatheTensor

/// Running per-channel moments of activations, accumulated batch by batch in float64: the
/// count, mean, central moment sums M2, M3, M4 and the abs-max of every channel.
///
/// Each batch's central moments come from libtorch reductions (two passes over the batch in
/// float64); batches merge with the pairwise update of Pébay (2008, "Formulas for robust,
/// one-pass parallel computation of covariances and arbitrary-order statistical moments"),
/// so no raw power sums that cancel are ever formed.
public struct ChannelMoments: Sendable, Equatable {
    /// Values seen per channel.
    public private(set) var count = 0
    public private(set) var mean: [Double] = []
    /// Σ(x − mean)², Σ(x − mean)³, Σ(x − mean)⁴ per channel.
    public private(set) var m2: [Double] = []
    public private(set) var m3: [Double] = []
    public private(set) var m4: [Double] = []
    public private(set) var absMax: [Double] = []

    public init() {}

    /// Number of channels (0 before the first batch).
    public var channels: Int { mean.count }

    /// Adds `x`, whose channels lie along `axis` (1 for NCHW convolution inputs, the last axis
    /// for linear inputs `[N, C]` and token inputs `[N, T, C]`); every other axis counts as
    /// samples of the channel.
    public mutating func add(_ x: Tensor, channelAxis axis: Int) throws {
        let rank = x.rank
        let a = axis < 0 ? axis + rank : axis
        guard rank >= 1, (0..<rank).contains(a) else {
            throw TensorError("activation statistics", "channel axis \(axis) is outside a tensor of shape \(x.shape)")
        }
        let c = x.shape[a]
        guard channels == 0 || channels == c else {
            throw TensorError("activation statistics", "input with \(c) channels after inputs with \(channels) (shape \(x.shape))")
        }
        guard x.count > 0, c > 0 else { return }
        let order = (0..<rank).filter { $0 != a } + [a]
        let rows = try x.permuted(order).reshaped([-1, c]).converted(to: .float64)
        let n = rows.shape[0]
        let batchMean = try rows.mean([0])
        let d = try rows - batchMean
        let d2 = try d.squared()
        let batch = try (
            mean: batchMean.scalars(as: Double.self), m2: d2.sum([0]).scalars(as: Double.self),
            m3: (d2 * d).sum([0]).scalars(as: Double.self), m4: d2.squared().sum([0]).scalars(as: Double.self),
            absMax: rows.abs().max([0]).scalars(as: Double.self))
        guard count > 0 else {
            (count, mean, m2, m3, m4, absMax) = (n, batch.mean, batch.m2, batch.m3, batch.m4, batch.absMax)
            return
        }
        let na = Double(count), nb = Double(n), nn = na + nb
        for i in 0..<c {
            let delta = batch.mean[i] - mean[i]
            let (a2, a3, b2, b3) = (m2[i], m3[i], batch.m2[i], batch.m3[i])
            m4[i] += batch.m4[i] + delta * delta * delta * delta * na * nb * (na * na - na * nb + nb * nb) / (nn * nn * nn)
                + 6 * delta * delta * (na * na * b2 + nb * nb * a2) / (nn * nn) + 4 * delta * (na * b3 - nb * a3) / nn
            m3[i] += b3 + delta * delta * delta * na * nb * (na - nb) / (nn * nn) + 3 * delta * (na * b2 - nb * a2) / nn
            m2[i] += b2 + delta * delta * na * nb / nn
            mean[i] += delta * nb / nn
            absMax[i] = Swift.max(absMax[i], batch.absMax[i])
        }
        count += n
    }

    /// Pearson kurtosis E[(x − μ)⁴] / σ⁴ per channel (3 for a normal distribution); nil for a
    /// channel that is constant to float64 rounding (σ ≤ 1e-10 · abs-max), where it is undefined.
    public var kurtosis: [Double?] {
        (0..<channels).map { i in
            let variance = m2[i] / Double(count)
            let sigma = variance.squareRoot()
            guard count > 0, sigma > 1e-10 * absMax[i] else { return nil }
            return m4[i] / Double(count) / (variance * variance)
        }
    }
}
