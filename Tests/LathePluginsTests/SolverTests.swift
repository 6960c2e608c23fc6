import Foundation
import LatheTensor
import LatheTestSupport
import Testing
@testable import LathePlugins

/// [1.2] Layer solvers: the host's checks of what a solver returns (purpose-made bad solvers),
/// and calib/gptq against a float64 GPTQ written here from the paper's Algorithm 1.
@Suite("Layer solvers") struct SolverTests {
    static func badSolver(_ id: String) throws -> PluginMethod {
        try PluginLibrary.load(path: try Fixtures.library("bad_solver")).method(id)
    }

    static func gptq() throws -> PluginMethod {
        try Registry(directory: SourceTree.root.appendingPathComponent("registry").path).method("calib/gptq")
    }

    static func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return String(describing: error)
        }
    }

    @Test func whatASolverReturnsIsCheckedBeforeUse() throws {
        let w = try Tensor.randn([4, 6], generator: RandomGenerator(seed: 1))
        func run(_ id: String) throws -> String {
            let m = try Self.badSolver(id)
            return Self.message { _ = try m.solve(weight: w, statistics: nil, params: try m.bind()) }
        }
        #expect(try run("off_grid").contains("is not on the reported grid"))
        #expect(try run("no_grid").contains("did not report W′'s grid"))
        #expect(try run("leak").contains("left 24 pruned weight(s) nonzero"))
        #expect(try run("half_mask").contains("mask value 0.5"))
    }

    /// Correlated inputs X [n, d] (so that H is far from diagonal) and a weight [rows, d].
    static func problem(rows: Int = 64, d: Int = 64, n: Int = 256, seed: UInt64 = 3) throws -> (w: [Double], x: [Double], gram: [Double]) {
        let g = try RandomGenerator(seed: seed)
        let z = try Tensor.randn([n, d], generator: g).converted(to: .float64)
        let mix = try Tensor.randn([d, d], generator: g).converted(to: .float64) * 0.3
        let x = try (z + z.matmul(mix)).contiguous()
        let w = try Tensor.randn([rows, d], generator: g).converted(to: .float64).scalars(as: Double.self)
        // The Gram matrix as the host passes it: float32.
        let gram = try (x.transposed(0, 1).matmul(x) / Double(n)).converted(to: .float32).converted(to: .float64).scalars(as: Double.self)
        return (w, try x.scalars(as: Double.self), gram)
    }

    /// The affine min-max grid (range widened to hold 0) of uniform/affine, or the symmetric
    /// restricted one, as (scale, zero, qmin, qmax) with a float32 scale.
    static func grid(_ x: [Double], bits: Int, symmetric: Bool) -> (s: Double, z: Double, lo: Double, hi: Double) {
        if symmetric {
            let qmax = Double((1 << (bits - 1)) - 1), m = x.map(abs).max() ?? 0
            let s = Double(Float(m / qmax))
            return (s > 0 ? s : 1, 0, -qmax, qmax)
        }
        let lo = min(0, x.min() ?? 0), hi = max(0, x.max() ?? 0), qmax = Double((1 << bits) - 1)
        let s = Double(Float((hi - lo) / qmax))
        guard s > 0 else { return (1, 0, 0, qmax) }
        return (s, min(max((-lo / s).rounded(.toNearestOrEven), 0), qmax), 0, qmax)
    }

    static func round(_ v: Double, _ g: (s: Double, z: Double, lo: Double, hi: Double)) -> Double {
        let q = min(max((v / g.s).rounded(.toNearestOrEven) + g.z, g.lo), g.hi)
        return Double(Float((q - g.z) * g.s))
    }

    /// GPTQ in float64, straight from Algorithm 1 without lazy batching: H + λI, its inverse by
    /// Gauss–Jordan, the upper Cholesky factor U of that inverse, then column by column
    /// q = round(w), e = (w − q)/U_jj, w_k −= e·U_jk for every later column k.
    static func reference(_ w: [Double], rows: Int, d: Int, gram: [Double], bits: Int, groupSize: Int, symmetric: Bool,
                          actOrder: Bool, damp: Double) -> [Double] {
        let diag = (0..<d).map { gram[$0 * d + $0] }
        let order = actOrder ? (0..<d).sorted { diag[$0] > diag[$1] || (diag[$0] == diag[$1] && $0 < $1) } : Array(0..<d)
        let u = upperInverseCholesky(gram, d: d, order: order, damp: damp)
        var out = [Double](repeating: 0, count: rows * d)
        for r in 0..<rows {
            var x = order.map { diag[$0] > 0 ? w[r * d + $0] : 0 }
            let original = (0..<d).map { diag[$0] > 0 ? w[r * d + $0] : 0 }
            var grids: [Int: (s: Double, z: Double, lo: Double, hi: Double)] = [:]
            if groupSize == 0 { grids[0] = grid(x, bits: bits, symmetric: symmetric) }
            for i in 0..<d {
                let column = order[i]
                let key = groupSize > 0 ? column / groupSize : 0
                if groupSize > 0, grids[key] == nil || (!actOrder && column % groupSize == 0) {
                    // Dynamic groups from the updated weights; static (act-order) from the original.
                    let range = (key * groupSize)..<min(d, key * groupSize + groupSize)
                    grids[key] = grid(actOrder ? Array(original[range]) : Array(x[range]), bits: bits, symmetric: symmetric)
                }
                let q = round(x[i], grids[key]!)
                let e = (x[i] - q) / u[i * d + i]
                for k in (i + 1)..<max(i + 1, d) { x[k] -= e * u[i * d + k] }
                out[r * d + column] = q
                x[i] = q
            }
        }
        return out
    }

    /// U (upper, H⁻¹ = UᵀU) of the damped Gram matrix in processing order, by a Gauss–Jordan inverse
    /// and a Cholesky factorization of it (dead inputs become identity rows and columns).
    static func upperInverseCholesky(_ gram: [Double], d: Int, order: [Int], damp: Double) -> [Double] {
        let diag = (0..<d).map { gram[$0 * d + $0] }
        let mean = diag.map { $0 > 0 ? $0 : 1 }.reduce(0, +) / Double(d)
        var h = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for k in 0..<d {
                let (a, b) = (order[i], order[k])
                h[i * d + k] = (diag[a] > 0 && diag[b] > 0 ? gram[a * d + b] : (i == k ? 1 : 0)) + (i == k ? damp * mean : 0)
            }
        }
        // Gauss–Jordan inverse.
        var a = h, inv = [Double](repeating: 0, count: d * d)
        for i in 0..<d { inv[i * d + i] = 1 }
        for c in 0..<d {
            let p = (c..<d).max { abs(a[$0 * d + c]) < abs(a[$1 * d + c]) }!
            for k in 0..<d { a.swapAt(c * d + k, p * d + k); inv.swapAt(c * d + k, p * d + k) }
            let pivot = a[c * d + c]
            for k in 0..<d { a[c * d + k] /= pivot; inv[c * d + k] /= pivot }
            for r in 0..<d where r != c {
                let f = a[r * d + c]
                guard f != 0 else { continue }
                for k in 0..<d { a[r * d + k] -= f * a[c * d + k]; inv[r * d + k] -= f * inv[c * d + k] }
            }
        }
        // Upper Cholesky of the inverse: inv = Uᵀ U.
        var u = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            var s = inv[i * d + i]
            for k in 0..<i { s -= u[k * d + i] * u[k * d + i] }
            u[i * d + i] = s.squareRoot()
            for j in (i + 1)..<max(i + 1, d) {
                var t = inv[i * d + j]
                for k in 0..<i { t -= u[k * d + i] * u[k * d + j] }
                u[i * d + j] = t / u[i * d + i]
            }
        }
        return u
    }

    /// ‖(W − W′)·Xᵀ‖² over the calibration rows.
    static func outputError(_ w: [Double], _ q: [Double], x: [Double], rows: Int, d: Int, n: Int) -> Double {
        var total = 0.0
        for r in 0..<rows {
            for t in 0..<n {
                var s = 0.0
                for j in 0..<d { s += (w[r * d + j] - q[r * d + j]) * x[t * d + j] }
                total += s * s
            }
        }
        return total
    }

    @Test(arguments: [(3, 0, false, false), (4, 16, false, false), (3, 0, false, true), (4, 16, true, true)])
    func gptqMatchesAFloat64ReferenceAndBeatsRoundToNearest(_ setting: (Int, Int, Bool, Bool)) throws {
        let (bits, groupSize, symmetric, actOrder) = setting
        let (rows, d, n) = (64, 64, 256)
        let (w, x, gram) = try Self.problem(rows: rows, d: d, n: n)
        let m = try Self.gptq()
        let params = try m.bind(["bits": .int(Int64(bits)), "group_size": .int(Int64(groupSize)), "symmetric": .bool(symmetric),
                                 "act_order": .bool(actOrder), "block_size": .int(16)])
        let stats = InputStatistics(gram: try Tensor(gram.map(Float.init), shape: [1, d, d]), rows: n)
        let result = try m.solve(weight: try Tensor(w.map(Float.init), shape: [rows, d]), statistics: stats, params: params)
        let got = try result.weight.scalars(as: Float.self).map(Double.init)
        let want = Self.reference(w.map { Double(Float($0)) }, rows: rows, d: d, gram: gram, bits: bits, groupSize: groupSize,
                                  symmetric: symmetric, actOrder: actOrder, damp: 0.01)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5, "GPTQ \(setting): largest difference from the float64 reference \(worst)")
        // Round-to-nearest on the same grids (per row, or per group of the original weights).
        var rtn = [Double](repeating: 0, count: rows * d)
        for r in 0..<rows {
            let row = Array(w[(r * d)..<((r + 1) * d)]).map { Double(Float($0)) }
            for j in 0..<d {
                let range = groupSize > 0 ? (j / groupSize * groupSize)..<min(d, j / groupSize * groupSize + groupSize) : 0..<d
                rtn[r * d + j] = Self.round(row[j], Self.grid(Array(row[range]), bits: bits, symmetric: symmetric))
            }
        }
        let gptqError = Self.outputError(w, got, x: x, rows: rows, d: d, n: n)
        let rtnError = Self.outputError(w, rtn, x: x, rows: rows, d: d, n: n)
        #expect(gptqError < 0.8 * rtnError, "‖WX − W′X‖²: GPTQ \(gptqError), RTN \(rtnError)")
        let q = try #require(result.qparams)
        #expect(q.bits == bits && q.groupSize == groupSize && q.scheme == (symmetric ? .symmetric : .affine))
        #expect(result.metrics.contains { $0.name == "damping" && $0.value == Double(Float(0.01)) })
    }

    /// With uncorrelated inputs (H diagonal) there is nothing to feed the error into: GPTQ is
    /// round-to-nearest, element for element.
    @Test func gptqWithADiagonalHessianIsRoundToNearest() throws {
        let (rows, d) = (8, 12)
        let w = try Tensor.randn([rows, d], generator: RandomGenerator(seed: 5))
        let gram = try Tensor((0..<(d * d)).map { $0 % (d + 1) == 0 ? Float(1 + $0 % 3) : 0 }, shape: [1, d, d])
        let m = try Self.gptq()
        let result = try m.solve(weight: w, statistics: InputStatistics(gram: gram, rows: 10), params: try m.bind(["bits": .int(3)]))
        let values = try w.scalars(as: Float.self).map(Double.init)
        for r in 0..<rows {
            let row = Array(values[(r * d)..<((r + 1) * d)])
            let g = Self.grid(row, bits: 3, symmetric: false)
            #expect(try result.weight.narrowed(0, start: r, length: 1).scalars(as: Float.self).map(Double.init) == row.map { Self.round($0, g) })
        }
    }

    /// An H that is not positive definite (float rounding can make a Gram matrix so) is solved
    /// with the damping raised and reported; inputs that were never active are counted and their
    /// weights zeroed; an H no damping up to mean(diag H) repairs is refused with the reason.
    @Test func indefiniteHessianIsDampedAndReported() throws {
        let d = 4
        // Inputs 2 and 3 dead; the active block [[1, 1.5], [1.5, 1]] has eigenvalues 2.5 and −0.5.
        var gram = [Float](repeating: 0, count: d * d)
        (gram[0], gram[1], gram[d], gram[d + 1]) = (1, 1.5, 1.5, 1)
        let m = try Self.gptq()
        let weight = try Tensor.randn([3, d], generator: RandomGenerator(seed: 2))
        let result = try m.solve(weight: weight, statistics: InputStatistics(gram: try Tensor(gram, shape: [1, d, d]), rows: 4),
                                 params: try m.bind(["damp": .double(1e-6)]))
        let metrics = Dictionary(result.metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(metrics["dead_inputs"] == 2)
        // λ must exceed 0.5 with mean(diag H) = 1 (dead inputs count 1): 1e-6 raised tenfold to 1.
        #expect(abs((metrics["damping"] ?? 0) - 1) < 1e-6, "\(metrics)")
        let values = try result.weight.scalars(as: Float.self)
        for r in 0..<3 { #expect(values[r * d + 2] == 0 && values[r * d + 3] == 0) }
        (gram[1], gram[d]) = (3, 3)  // eigenvalue −2: beyond damping by mean(diag H)
        let text = Self.message {
            _ = try m.solve(weight: weight, statistics: InputStatistics(gram: try Tensor(gram, shape: [1, d, d]), rows: 4),
                            params: try m.bind())
        }
        #expect(text.contains("not positive definite even with damping"), "\(text)")
    }

    static func solver(_ id: String) throws -> PluginMethod {
        try Registry(directory: SourceTree.root.appendingPathComponent("registry").path).method(id)
    }

    /// SparseGPT's and OBS-magnitude's masks obey their N:M pattern, W′ is zero where pruned, and
    /// the unstructured target is met exactly within a block.
    @Test(arguments: ["calib/sparsegpt", "calib/obs-magnitude"])
    func pruningSolversObeyTheirPattern(_ id: String) throws {
        let (rows, d, n) = (16, 64, 256)
        let (w, _, gram) = try Self.problem(rows: rows, d: d, n: n, seed: 8)
        let m = try Self.solver(id)
        let stats = InputStatistics(gram: try Tensor(gram.map(Float.init), shape: [1, d, d]), rows: n)
        let weight = try Tensor(w.map(Float.init), shape: [rows, d])
        for (pattern, keep, group) in [("2-4", 2, 4), ("4-8", 4, 8), ("1-4", 1, 4)] {
            let result = try m.solve(weight: weight, statistics: stats, params: try m.bind(["pattern": .choice(pattern)]))
            let mask = try #require(result.mask).scalars(as: Float.self), values = try result.weight.scalars(as: Float.self)
            for start in stride(from: 0, to: rows * d, by: group) {
                #expect(mask[start..<(start + group)].reduce(0, +) == Float(keep), "\(id) \(pattern) at \(start)")
            }
            #expect(zip(mask, values).allSatisfy { $0.0 == 1 || $0.1 == 0 })
            #expect(result.qparams == nil)
        }
        let result = try m.solve(weight: weight, statistics: stats, params: try m.bind(["sparsity": .double(0.5)]))
        #expect(try #require(result.mask).scalars(as: Float.self).filter { $0 == 0 }.count == rows * d / 2)
    }

    /// The OBS update is worth something: with the same magnitude mask, updating the kept weights
    /// cuts the output error of plain magnitude pruning.
    @Test func obsUpdateBeatsPlainMagnitudePruning() throws {
        let (rows, d, n) = (32, 64, 256)
        let (w, x, gram) = try Self.problem(rows: rows, d: d, n: n, seed: 9)
        let stats = InputStatistics(gram: try Tensor(gram.map(Float.init), shape: [1, d, d]), rows: n)
        let weight = try Tensor(w.map(Float.init), shape: [rows, d])
        let obs = try Self.solver("calib/obs-magnitude")
        let solved = try obs.solve(weight: weight, statistics: stats, params: try obs.bind())
        let mask = try #require(solved.mask).scalars(as: Float.self).map(Double.init)
        let plain = zip(w, mask).map { Double(Float($0)) * $1 }
        let obsError = Self.outputError(w, try solved.weight.scalars(as: Float.self).map(Double.init), x: x, rows: rows, d: d, n: n)
        let plainError = Self.outputError(w, plain, x: x, rows: rows, d: d, n: n)
        #expect(obsError < 0.9 * plainError, "OBS \(obsError) vs plain magnitude \(plainError)")
    }

    /// SparseGPT (unstructured, one block) against a float64 version written here: the block's
    /// lowest w²/U_jj² pruned, then column by column the OBS update of the row's later weights.
    @Test func sparseGPTMatchesAFloat64Reference() throws {
        let (rows, d, n) = (24, 48, 200)
        let (w, _, gram) = try Self.problem(rows: rows, d: d, n: n, seed: 12)
        let u = Self.upperInverseCholesky(gram, d: d, order: Array(0..<d), damp: 0.01)
        var x = w.map { Double(Float($0)) }
        let saliency = (0..<(rows * d)).map { i in pow(x[i] / u[(i % d) * d + i % d], 2) }
        let order = (0..<(rows * d)).sorted { saliency[$0] < saliency[$1] || (saliency[$0] == saliency[$1] && $0 < $1) }
        var keep = [Bool](repeating: true, count: rows * d)
        // round(sparsity · weights) with the sparsity as the plugin receives it (a float).
        for i in order.prefix(Int((Double(Float(0.3)) * Double(rows * d)).rounded())) { keep[i] = false }
        for i in 0..<d {
            for r in 0..<rows where !keep[r * d + i] {
                let e = x[r * d + i] / u[i * d + i]
                for k in (i + 1)..<max(i + 1, d) { x[r * d + k] -= e * u[i * d + k] }
                x[r * d + i] = 0
            }
        }
        let m = try Self.solver("calib/sparsegpt")
        let result = try m.solve(weight: try Tensor(w.map(Float.init), shape: [rows, d]),
                                 statistics: InputStatistics(gram: try Tensor(gram.map(Float.init), shape: [1, d, d]), rows: n),
                                 params: try m.bind(["sparsity": .double(0.3)]))
        let mask = try #require(result.mask).scalars(as: Float.self)
        #expect(mask.map { $0 == 1 } == keep)
        let worst = zip(try result.weight.scalars(as: Float.self).map(Double.init), x).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5, "largest difference from the float64 reference \(worst)")
    }
}
