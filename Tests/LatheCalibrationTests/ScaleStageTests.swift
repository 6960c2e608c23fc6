import Foundation
import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheScale
import LatheTensor
import LatheTrain
import Testing

/// The calib plugin's channel scalers (ABI 1.3) against their formulas written here, and the
/// scale stage (AWQ's α search with the quantizer in the loop) on a trained mlp.
@Suite("Channel scalers and the scale stage", .serialized)
struct ScaleStageTests {
    /// A grouped conv weight [8, 2, 3, 3] (G = 2: C = 2 channels of K = 9 positions per group)
    /// and [G, D] statistics with uneven features.
    static func grouped() throws -> (weight: Tensor, stats: Tensor, w: [Float], x: [Float]) {
        let g = try RandomGenerator(seed: 21)
        let weight = try Tensor.randn([8, 2, 3, 3], generator: g)
        let stats = try Tensor.uniform([2, 18], low: 0.01, high: 5, generator: g)
        return (weight, stats, try weight.scalars(as: Float.self), try stats.scalars(as: Float.self))
    }

    @Test func smoothQuantScalesFollowTheirFormula() throws {
        let m = try SolveStageTests.registry().method("calib/smoothquant")
        let (weight, stats, w, x) = try Self.grouped()
        let alpha = 0.3
        let result = try m.scales(weight: weight, statistics: InputStatistics(absMax: stats, rows: 10),
                                  params: try m.bind(["alpha": .double(alpha)]))
        #expect(result.scales.shape == [2, 2])
        let s = try result.scales.scalars(as: Float.self)
        for group in 0..<2 {
            for c in 0..<2 {
                var xmax = 0.0, wmax = 0.0
                for k in 0..<9 {
                    let j = c * 9 + k
                    xmax = max(xmax, Double(x[group * 18 + j]))
                    for o in (group * 4)..<(group * 4 + 4) { wmax = max(wmax, abs(Double(w[o * 18 + j]))) }
                }
                let expected = pow(xmax, alpha) / pow(wmax, 1 - alpha)
                #expect(abs(Double(s[group * 2 + c]) - expected) <= 1e-5 * expected, "group \(group) channel \(c)")
            }
        }
        // A channel that was zero on every calibration input (a dead ReLU channel) keeps s = 1;
        // a live channel beside it still follows the formula.
        var dead = x
        for j in 0..<9 { dead[j] = 0 }
        let zeroed = try m.scales(weight: weight, statistics: InputStatistics(absMax: try Tensor(dead, shape: [2, 18]), rows: 10),
                                  params: try m.bind(["alpha": .double(alpha)])).scales.scalars(as: Float.self)
        #expect(zeroed[0] == 1)
        #expect(zeroed[1] == s[1] && zeroed[2] == s[2])
    }

    @Test func awqScalesFollowTheirFormulaAndAlphaZeroIsIdentity() throws {
        let m = try SolveStageTests.registry().method("calib/awq")
        let (weight, stats, _, x) = try Self.grouped()
        let statistics = InputStatistics(absMean: stats, rows: 10)
        let s = try m.scales(weight: weight, statistics: statistics, params: try m.bind(["alpha": .double(0.5)])).scales.scalars(as: Float.self)
        var raw: [Double] = []
        for group in 0..<2 {
            for c in 0..<2 { raw.append(pow((0..<9).map { Double(x[group * 18 + c * 9 + $0]) }.reduce(0, +) / 9, 0.5)) }
        }
        let norm = sqrt(raw.max()! * raw.min()!)
        for (i, r) in raw.enumerated() { #expect(abs(Double(s[i]) - r / norm) <= 1e-5 * r / norm, "channel \(i)") }
        let identity = try m.scales(weight: weight, statistics: statistics, params: try m.bind(["alpha": .double(0)])).scales
        #expect(try identity.scalars(as: Float.self) == [Float](repeating: 1, count: 4))
    }

    @Test func awqSearchNeverLosesToRoundToNearestAndKeepsTheFunction() throws {
        let model = try SolveStageTests.trained()
        var config = ScaleConfig()
        config.method = "calib/awq"
        config.search = "alpha"
        config.quantizer = "uniform/affine"
        config.quantizerParams = ["bits": .int(3), "per_channel": .bool(true)]
        config.calibrationBatches = 2
        let data = SolveStageTests.data
        let report = try ScaleStage.run(config, model: model, train: data.train, test: data.test, recipe: SolveStageTests.recipe(),
                                        registry: try SolveStageTests.registry())
        #expect(report.layers.map(\.name) == ["fc1", "fc2", "fc3"])
        #expect(report.layers.map(\.folded) == [false, true, true])
        #expect(report.relativeLogitChange < 1e-5, "\(report.relativeLogitChange)")
        #expect(report.accuracyAfter == report.accuracyBefore)
        var better = 0
        for layer in report.layers {
            let error = try #require(layer.quantizedError), unscaled = try #require(layer.unscaledQuantizedError)
            let chosen = try #require(layer.chosen)
            #expect(config.grid.contains(chosen))
            // α = 0 is in the grid and gives s = 1, i.e. round-to-nearest itself.
            #expect(error <= unscaled * (1 + 1e-9), "\(layer.name): \(error) vs \(unscaled)")
            if error < 0.98 * unscaled { better += 1 }
        }
        #expect(better >= 1, "the search improved on round-to-nearest in no layer")
    }

    @Test func awqClipNeverRoundsWorseThanTheFullRangeOnTheWeightedError() throws {
        let registry = try SolveStageTests.registry()
        let clip = try registry.method("calib/awq-clip"), affine = try registry.method("uniform/affine")
        let g = try RandomGenerator(seed: 31)
        // Heavy-tailed rows (a few large weights) and uneven input energies.
        let w = try Tensor.randn([12, 40], generator: g) * Tensor.uniform([12, 40], low: 0.2, high: 3, generator: g)
        let ms = try Tensor.uniform([1, 40], low: 0.01, high: 4, generator: g)
        let stats = InputStatistics(meanSquare: ms, rows: 100)
        let (clipped, q) = try clip.quantize(weight: w, statistics: stats, params: try clip.bind(["bits": .int(3)]))
        let (full, _) = try affine.quantize(w, params: try affine.bind(["bits": .int(3), "per_channel": .bool(true)]))
        #expect(q.scheme == .affine && q.bits == 3 && q.axis == 0 && q.scales.count == 12)
        func weighted(_ x: Tensor) throws -> [Double] {
            let d: Tensor = try w - x
            return try (d.squared() * ms).sum([1]).converted(to: .float64).scalars(as: Double.self)
        }
        let (a, b) = (try weighted(clipped), try weighted(full))
        for row in 0..<12 { #expect(a[row] <= b[row] * (1 + 1e-6) + 1e-12, "row \(row): \(a[row]) vs full range \(b[row])") }
        #expect(a.reduce(0, +) < 0.95 * b.reduce(0, +), "clipping helped no row")
        // Without the statistics it refuses: it is a post-training weight quantizer.
        #expect(throws: PluginError.self) { _ = try clip.quantize(w, params: try clip.bind()) }
    }

    @Test func dividedStatisticsAreThoseOfTheScaledInput() throws {
        let g = try RandomGenerator(seed: 12)
        // A conv-like layout: G = 2 groups, C = 3 channels of K = 4 features each (D = 12).
        let x = try Tensor.randn([50, 2, 12], generator: g)
        let s = try Tensor.uniform([2, 3], low: 0.5, high: 2, generator: g)
        func stats(_ r: Tensor) throws -> InputStatistics {
            let n = Double(r.shape[0]), perGroup = try r.permuted([1, 0, 2]).contiguous()
            return InputStatistics(absMax: try r.abs().max([0]), meanSquare: try r.squared().sum([0]) / n,
                                   gram: try perGroup.transposed(1, 2).matmul(perGroup) / n, absMean: try r.abs().sum([0]) / n, rows: 50)
        }
        let f = try s.reshaped([1, 2, 3, 1]).expanded([1, 2, 3, 4]).contiguous().reshaped([1, 2, 12])
        let direct = try stats(try x / f), divided = try stats(x).dividing(channelsBy: s)
        for (a, b) in [(direct.absMax, divided.absMax), (direct.meanSquare, divided.meanSquare), (direct.gram, divided.gram),
                       (direct.absMean, divided.absMean)] {
            let d: Tensor = try #require(a) - #require(b)
            #expect(try d.abs().max().item() < 1e-5)
        }
    }

    @Test func configurationErrorsNameTheKey() throws {
        let registry = try SolveStageTests.registry()
        func message(_ edit: (inout ScaleConfig) -> Void) -> String {
            var c = ScaleConfig()
            c.method = "calib/awq"
            edit(&c)
            do {
                _ = try c.validate(against: registry)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(message { $0.search = "alpha" }.contains("quantizer"))
        #expect(message { $0.quantizer = "uniform/affine" }.contains("search"))
        #expect(message { $0.search = "alpha"; $0.quantizer = "uniform/affine"; $0.params = ["alpha": .double(0.5)] }.contains("params.alpha"))
        #expect(message { $0.search = "beta"; $0.quantizer = "uniform/affine" }.contains("'beta'"))
        #expect(message { $0.search = "alpha"; $0.quantizer = "calib/gptq" }.contains("a quantizer (it is a solver)"))
        #expect(message { $0.method = "calib/gptq" }.contains("a channel scaler (it is a solver)"))
        #expect(message { $0.searchValues = [0.5] }.contains("search_values"))
        #expect(message { _ in }.isEmpty)
    }
}
