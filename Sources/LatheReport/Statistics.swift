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
    /// t(0.975, ν) for ν = 1…30 (the usual table, 3 decimals).
    static let table: [Double] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
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
