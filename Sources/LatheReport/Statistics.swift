import Foundation

/// Summary statistics of one metric over the seeds of one method, with the trials behind it.
///
/// `std` is the sample standard deviation (n − 1 in the denominator) and `ciHalfWidth` the
/// half-width of the two-sided 95% confidence interval of the mean with Student's t on n − 1
/// degrees of freedom: `t(0.975, n−1) · std / √n`. Both are `nil` for a single value (n = 1).
public struct Statistic: Codable, Sendable, Equatable {
    /// How many values (trials).
    public var n: Int
    /// Arithmetic mean.
    public var mean: Double
    /// Sample standard deviation; `nil` when n < 2.
    public var std: Double?
    /// Half-width of the 95% confidence interval of the mean; `nil` when n < 2.
    public var ciHalfWidth: Double?
    /// Smallest value.
    public var min: Double
    /// Largest value.
    public var max: Double
    /// The values, in the order of `trialIDs`.
    public var values: [Double]
    /// The ids of the trials the values come from (ascending).
    public var trialIDs: [Int64]

    /// Summarizes `values` (taken from the trials `trialIDs`, same order). Returns `nil` for no values.
    public init?(values: [Double], trialIDs: [Int64]) {
        guard !values.isEmpty, values.count == trialIDs.count else { return nil }
        let n = values.count
        let mean = values.reduce(0, +) / Double(n)
        self.n = n
        self.mean = mean
        self.min = values.min() ?? mean
        self.max = values.max() ?? mean
        self.values = values
        self.trialIDs = trialIDs
        if n >= 2 {
            let ss = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            let std = (ss / Double(n - 1)).squareRoot()
            self.std = std
            self.ciHalfWidth = StudentT.quantile975(degreesOfFreedom: n - 1) * std / Double(n).squareRoot()
        } else {
            self.std = nil
            self.ciHalfWidth = nil
        }
    }

    /// Lower end of the 95% CI (the mean itself when there is no CI).
    public var lower: Double { mean - (ciHalfWidth ?? 0) }
    /// Upper end of the 95% CI (the mean itself when there is no CI).
    public var upper: Double { mean + (ciHalfWidth ?? 0) }
}

/// Quantiles of Student's t distribution for two-sided 95% intervals.
public enum StudentT {
    /// t(0.975, ν) for ν = 1…30 (6 decimals, as scipy.stats.t.ppf(0.975, ν) rounds them).
    static let table: [Double] = [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
        2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
        2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
    ]

    /// The 0.975 quantile of Student's t with `degreesOfFreedom` ≥ 1 degrees of freedom: from
    /// the table up to 30, beyond that the Cornish–Fisher expansion around the normal quantile
    /// (error below 1e-4 for ν > 30).
    public static func quantile975(degreesOfFreedom nu: Int) -> Double {
        precondition(nu >= 1, "Student's t needs at least one degree of freedom")
        if nu <= table.count { return table[nu - 1] }
        let z = 1.959963984540054
        let v = Double(nu)
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z
        return z + (z3 + z) / (4 * v)
            + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v)
    }
}

/// Pareto fronts of (cost, quality) points: maximize quality, minimize cost.
public enum Pareto {
    /// Indices of the non-dominated points, ordered by increasing cost (then quality).
    ///
    /// A point is dominated when another has quality ≥ and cost ≤ with at least one strict;
    /// identical points are all on the front. Non-finite points are never on it.
    public static func front(cost: [Double], quality: [Double]) -> [Int] {
        precondition(cost.count == quality.count, "one cost per quality")
        let indices = cost.indices.filter { cost[$0].isFinite && quality[$0].isFinite }
        let onFront = indices.filter { i in
            !indices.contains { j in
                j != i && quality[j] >= quality[i] && cost[j] <= cost[i] && (quality[j] > quality[i] || cost[j] < cost[i])
            }
        }
        return onFront.sorted { (cost[$0], quality[$0], $0) < (cost[$1], quality[$1], $1) }
    }
}
