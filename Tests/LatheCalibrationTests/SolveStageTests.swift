import Foundation
import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheQuant
import LatheSolve
import LatheTensor
import LatheTestSupport
import LatheTrain
import Testing

/// The solve stage: calib/gptq applied layer by layer to a trained mlp through the registry.
@Suite("Solve stage", .serialized)
struct SolveStageTests {
    static let data: (train: ImageDataset, test: ImageDataset) = {
        do {
            return try DataSource.fashionMNIST.load(directory: nil, limitTrain: 1000, limitTest: 300)
        } catch {
            fatalError("Fashion-MNIST is required for these tests (scripts/bootstrap.sh installs it): \(error)")
        }
    }()

    static func registry() throws -> Registry {
        try Registry(directory: SourceTree.root.appendingPathComponent("registry").path)
    }

    static func recipe() -> Recipe {
        var r = Recipe()
        r.epochs = 1
        r.batchSize = 100
        return r
    }

    static func trained() throws -> Model {
        Engine.threads = 1
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 4)
        _ = try Trainer(recipe: recipe()).train(model, on: data.train)
        return model
    }

    @Test func gptqSolvesEveryLayerOntoItsGridAndBeatsRoundToNearestOnTheFirst() throws {
        let model = try Self.trained()
        let dense = try model.copy()
        var config = SolveConfig()
        config.method = "calib/gptq"
        config.params = ["bits": .int(3)]
        config.calibrationBatches = 2
        let (solved, report) = try SolveStage.run(config, model: model, train: Self.data.train, test: Self.data.test,
                                                  recipe: Self.recipe(), registry: try Self.registry())
        #expect(report.layers.map(\.name) == ["fc1", "fc2", "fc3"])
        #expect(report.calibrationRows["fc1"] == 200)
        #expect(abs((report.bitsPerWeight ?? 0) - 3) < 0.2, "\(report.bitsPerWeight ?? 0)")
        for entry in report.layers {
            let q = try #require(entry.quant)
            #expect(q.bits == 3 && q.scheme == "affine")
            // At most 2^3 distinct values per row of the solved weight.
            let w = try #require(solved.state.first { $0.0 == entry.name + ".weight" }?.1)
            let rows = try w.scalars(as: Float.self), width = w.shape[1]
            for r in 0..<w.shape[0] { #expect(Set(rows[(r * width)..<((r + 1) * width)]).count <= 8) }
            #expect(entry.metrics["damping"] != nil)
        }
        // fc1 sees the images themselves, so RTN on the same statistics is a fair comparison.
        let stats = try #require(try InputStatisticsCollector.collect(
            model: dense, layers: ["fc1"], need: .gram, data: Self.data.train,
            plan: config.calibrationPlan(batchSize: 100, recipeSeed: Self.recipe().seed))["fc1"])
        let affine = try Self.registry().method("uniform/affine")
        let w1 = try #require(dense.state.first { $0.0 == "fc1.weight" }?.1).detached()
        let (rtn, _) = try affine.quantize(w1, params: affine.bind(["bits": .int(3), "per_channel": .bool(true)]))
        let rtnError = try SolveStage.outputError(w1, rtn, gram: try #require(stats.gram))
        let gptqError = try #require(report.layers[0].relativeOutputError)
        #expect(gptqError < 0.9 * rtnError, "fc1 relative output error: GPTQ \(gptqError), RTN \(rtnError)")
        #expect(report.accuracy == (try Evaluation.evaluate(solved, on: Self.data.test).accuracy))
    }

    /// Each layer is calibrated through the layers already solved: the Gram matrix fc2's solver
    /// got (from the block inputs the stage caches) equals the one a full forward pass of the
    /// dense model with only fc1 replaced by its solved weight gives.
    @Test func layersAreCalibratedThroughTheLayersAlreadySolved() throws {
        let model = try Self.trained()
        let dense = try model.copy()
        var config = SolveConfig()
        config.method = "calib/gptq"
        config.params = ["bits": .int(2)]
        config.calibrationBatches = 2
        var seen: [String: Tensor] = [:]
        let (solved, _) = try SolveStage.run(config, model: model, train: Self.data.train, test: Self.data.test, recipe: Self.recipe(),
                                             registry: try Self.registry()) { layer, _, statistics in
            seen[layer] = statistics?.gram
        }
        let fc1 = try #require(solved.state.first { $0.0 == "fc1.weight" }?.1)
        try withNoGrad { try #require(dense.layer(named: "fc1")).replace("weight", with: try fc1.detached().clone()) }
        let direct = try #require(try InputStatisticsCollector.collect(
            model: dense, layers: ["fc2"], need: .gram, data: Self.data.train,
            plan: config.calibrationPlan(batchSize: 100, recipeSeed: Self.recipe().seed))["fc2"]?.gram)
        let used = try #require(seen["fc2"])
        let scale = try direct.abs().max().item()
        #expect(try (used - direct).abs().max().item() <= 1e-5 * scale)
        // …and not the dense model's: 2-bit fc1 moves fc2's inputs measurably.
        let denseGram = try #require(try InputStatisticsCollector.collect(
            model: try Self.trained(), layers: ["fc2"], need: .gram, data: Self.data.train,
            plan: config.calibrationPlan(batchSize: 100, recipeSeed: Self.recipe().seed))["fc2"]?.gram)
        #expect(try (used - denseGram).abs().max().item() > 1e-3 * scale)
    }

    @Test func badConfigurationsAreRefusedBeforeAnyLayerChanges() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 4)
        let before = try model.state.map { try $0.1.detached().clone() }
        func refusal(_ edit: (inout SolveConfig) -> Void) throws -> String {
            var c = SolveConfig()
            c.method = "calib/gptq"
            edit(&c)
            do {
                _ = try SolveStage.run(c, model: model, train: Self.data.train, test: Self.data.test, recipe: Self.recipe(),
                                       registry: try Self.registry())
            } catch { return "\(error)" }
            return "no error"
        }
        #expect(try refusal { $0.method = "uniform/affine" }.contains("a layer solver (it is a quantizer)"))
        #expect(try refusal { $0.method = "" }.contains("invalid value '' for method"))
        #expect(try refusal { $0.exclude = ["relu1"] }.contains("exclude: 'relu1'"))
        #expect(try refusal { $0.params = ["bits": .int(9)] }.contains("bits"))
        #expect(try refusal { $0.calibrationGramLimitMiB = 1 }.contains("'fc1'"))
        let after = try model.state.map { try $0.1.detached().clone() }
        for (a, b) in zip(before, after) { #expect(try a.bytes() == b.bytes()) }
    }
}
