import Foundation
import LatheCalibration
import LatheFactorize
import LatheModels
import LathePlugins
import LatheQuant
import LatheTensor
import LatheTrain
import Testing

/// Low-rank factorization (ABI 1.3 factorizers): the lowrank plugin's SVD against the spectrum
/// computed here, ASVD against SVD where ASVD is provably optimal, and the host's physical
/// replacement of a layer by the pair (outputs, checkpoints, copies, quantization after it).
@Suite("Low-rank factorization", .serialized)
struct FactorizeTests {
    static func method(_ id: String) throws -> PluginMethod { try SolveStageTests.registry().method(id) }

    /// Eigenvalues of the symmetric n×n `a` (row-major, float64), descending, by cyclic Jacobi.
    static func eigenvalues(_ a: [Double], _ n: Int) -> [Double] {
        var m = a
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += m[p * n + q] * m[p * n + q] } }
            if off < 1e-22 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where m[p * n + q] != 0 {
                    let theta = (m[q * n + q] - m[p * n + p]) / (2 * m[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (x, y) = (m[k * n + p], m[k * n + q])
                        (m[k * n + p], m[k * n + q]) = (c * x - s * y, s * x + c * y)
                    }
                    for k in 0..<n {
                        let (x, y) = (m[p * n + k], m[q * n + k])
                        (m[p * n + k], m[q * n + k]) = (c * x - s * y, s * x + c * y)
                    }
                }
            }
        }
        return (0..<n).map { m[$0 * n + $0] }.sorted(by: >)
    }

    /// ‖W − A·B‖²_F
    static func squaredError(_ w: Tensor, _ r: FactorizerResult) throws -> Double {
        let flat = try w.reshaped([w.shape[0], w.count / w.shape[0]])
        let difference: Tensor = try flat - r.a.matmul(r.b)
        return try difference.converted(to: .float64).squared().sum().item()
    }

    @Test func svdErrorIsTheDiscardedSpectrum() throws {
        let (m, n) = (24, 40)
        let g = try RandomGenerator(seed: 3)
        // A decaying spectrum: column scales fall geometrically.
        let w = try Tensor.randn([m, n], generator: g) * Tensor((0..<n).map { Float(pow(0.9, Double($0))) }, shape: [1, n])
        let values = try w.converted(to: .float64).scalars(as: Double.self)
        var gram = [Double](repeating: 0, count: m * m)
        for i in 0..<m { for j in 0..<m { for k in 0..<n { gram[i * m + j] += values[i * n + k] * values[j * n + k] } } }
        let lambda = Self.eigenvalues(gram, m)
        let svd = try Self.method("lowrank/svd")
        for (rule, amount, expectedRank) in [("ratio", 0.25, 6), ("macs", 0.5, 7), ("energy", 0.9, nil)] as [(String, Double, Int?)] {
            let result = try svd.factorize(weight: w, statistics: nil,
                                           params: try svd.bind(["rank_rule": .choice(rule), "amount": .double(amount)]))
            if let expectedRank { #expect(result.rank == expectedRank, "\(rule)") }
            let discarded = lambda[result.rank...].reduce(0, +), total = lambda.reduce(0, +)
            let error = try Self.squaredError(w, result)
            #expect(abs(error - discarded) <= 1e-4 * total, "\(rule): ‖W − AB‖² \(error) vs Σ discarded σ² \(discarded)")
            let kept = try #require(result.metrics.first { $0.name == "kept_energy" }?.value)
            #expect(abs(kept - (1 - discarded / total)) < 1e-5)
            if rule == "energy" {
                // The smallest rank that keeps 90%.
                #expect(lambda[..<result.rank].reduce(0, +) >= 0.9 * total - 1e-9 * total)
                #expect(lambda[..<(result.rank - 1)].reduce(0, +) < 0.9 * total)
            }
        }
    }

    @Test func asvdBeatsSvdOnOutputsWhenInputScalesDiffer() throws {
        // Independent inputs with very different scales: the output error ‖(W − AB)X‖² is
        // minimised exactly by the SVD of W·diag(std), which ASVD with α = 1 computes.
        let (m, n, rows) = (16, 32, 4096)
        let g = try RandomGenerator(seed: 8)
        let w = try Tensor.randn([m, n], generator: g)
        let scales = try Tensor((0..<n).map { Float($0 % 5 == 0 ? 6 : 0.3) }, shape: [1, n])
        let x = try Tensor.randn([rows, n], generator: g) * scales
        let gram = try (x.transposed(0, 1).matmul(x) / Double(rows)).reshaped([1, n, n])
        let stats = InputStatistics(gram: gram, absMean: try (x.abs().sum([0]) / Double(rows)).reshaped([1, n]), rows: rows)
        func outputError(_ r: FactorizerResult) throws -> Double {
            let e: Tensor = try w - r.a.matmul(r.b)
            return try (e.matmul(gram.reshaped([n, n])) * e).sum().item()
        }
        let params: [String: HyperValue] = ["rank_rule": .choice("ratio"), "amount": .double(0.25)]
        let svd = try Self.method("lowrank/svd"), asvd = try Self.method("lowrank/asvd")
        let plain = try svd.factorize(weight: w, statistics: nil, params: try svd.bind(params))
        let aware = try asvd.factorize(weight: w, statistics: stats, params: try asvd.bind(params.merging(["alpha": .double(1)]) { $1 }))
        #expect(plain.rank == aware.rank)
        let (e1, e2) = (try outputError(plain), try outputError(aware))
        #expect(e2 < 0.8 * e1, "ASVD output error \(e2) vs SVD \(e1)")
        // ... while SVD keeps the weights themselves closer (Eckart–Young).
        #expect(try Self.squaredError(w, plain) <= Self.squaredError(w, aware))
    }

    @Test func aFactorizedConvComputesThePairsProductAndSurvivesCheckpointsAndCopies() throws {
        let model = try Zoo.make("convnet", options: ModelOptions(width: 0.5), seed: 2)
        let conv = try #require(model.layer(named: "conv2") as? Conv2d)
        let svd = try Self.method("lowrank/svd")
        let result = try svd.factorize(weight: try conv.weight.detached(), statistics: nil,
                                       params: try svd.bind(["rank_rule": .choice("ratio"), "amount": .double(0.5)]))
        // The dense model with W replaced by A·B is what the factorized one must compute.
        let reference = try model.copy()
        let product = try result.a.matmul(result.b).reshaped(conv.weight.shape).contiguous()
        try (reference.layer(named: "conv2") as? Conv2d)?.replace("weight", with: product)
        let groupsBefore = model.channelGroups.count
        try model.factorize("conv2", a: result.a, b: result.b)
        #expect(model.factorized == ["conv2": result.rank])
        #expect(model.layer(named: "conv2") is Factorized && model.layer(named: "conv2.0") is Conv2d && model.layer(named: "conv2.1") is Conv2d)
        #expect(model.channelGroups.count == groupsBefore - 2, "the groups producing into and out of conv2 are dropped")
        let x = try ChannelScalingTests.images()
        let logits = try model.predict(x)
        #expect(try ChannelScalingTests.relativeChange(try reference.predict(x), logits) < 1e-5)
        #expect(try ModelCost.of(model).macs < ModelCost.of(reference).macs)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("factorized-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model, to: path)
        let loaded = try Checkpoint.load(path).model
        #expect(loaded.factorized == model.factorized)
        #expect(try ChannelScalingTests.relativeChange(logits, try loaded.predict(x)) == 0)
        #expect(try ChannelScalingTests.relativeChange(logits, try model.copy().predict(x)) == 0)
        // Factorize → quantize: the pair's two layers are quantized like any other.
        let layers = try Quantization.weightQuantizers(model, config: QuantConfig(), registry: try SolveStageTests.registry()).map(\.layer)
        #expect(layers.contains("conv2.0") && layers.contains("conv2.1") && !layers.contains("conv2"))

        // Each factorized layer timed alone against the dense one, on an input of its shape
        // (conv2 of the half-width convnet reads 16 channels at 14×14); unknown names are refused.
        var plan = LatencyPlan()
        (plan.batchSizes, plan.minRounds, plan.maxRounds, plan.minBlockSeconds) = ([1, 4], 3, 3, 0.001)
        let timed = try LayerLatency.measure(reference: reference, compressed: model, layers: ["conv2"], plan: plan)
        #expect(timed.map(\.layer) == ["conv2"] && timed.first?.input == [16, 14, 14])
        #expect(timed.first?.compressed.map(\.batchSize) == [1, 4] && timed.first?.reference.count == 2)
        #expect(timed.first?.compressed.allSatisfy { ($0.speedup ?? 0) > 0 && $0.runs == 3 } == true)
        #expect { _ = try LayerLatency.measure(reference: reference, compressed: model, layers: ["conv9"], plan: plan) }
            throws: { "\($0)".contains("'conv9'") }
    }

    @Test func theStageKeepsLayersDenseWhenTheRankSavesNothingAndNamesBadLayers() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 2)
        var config = FactorizeConfig()
        config.method = "lowrank/svd"
        config.params = ["rank_rule": .choice("ratio"), "amount": .double(0.9)]
        let data = SolveStageTests.data
        let report = try FactorizeStage.run(config, model: model, train: data.train, test: data.test, recipe: SolveStageTests.recipe(),
                                            registry: try SolveStageTests.registry())
        // At 90% of the full rank no layer of the mlp saves weights: all stay dense.
        #expect(report.layers.map(\.name) == ["fc1", "fc2", "fc3"] && report.layers.allSatisfy { !$0.factorized })
        #expect(model.factorized.isEmpty && report.macsAfter == report.macsBefore)
        config.layers = ["relu1"]
        #expect {
            _ = try FactorizeStage.run(config, model: model, train: data.train, test: data.test, recipe: SolveStageTests.recipe(),
                                       registry: try SolveStageTests.registry())
        } throws: { "\($0)".contains("'relu1'") && "\($0)".contains("fc1") }
        config.layers = []
        config.method = "calib/gptq"
        #expect { _ = try config.validate(against: try SolveStageTests.registry()) } throws: { "\($0)".contains("a factorizer (it is a solver)") }
    }
}
