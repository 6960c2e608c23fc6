import Foundation
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTestSupport
import LatheTrain
import Testing
@testable import LatheQuant

/// Quantizers with learnable tensors in the quantization stage: initialised by the plugin, trained
/// by QAT through the plugin's backward, applied to the final weights and activations, reported
/// and saved.
@Suite("learned quantizers in QAT")
struct LearnedQuantizerTests {
    /// One trained mlp for every test (the stage copies it; evaluation only reads it).
    nonisolated(unsafe) static let shared = Result { try WorkflowTests.trained("mlp") }
    static func lsqConfig(bits: Int = 3) -> QuantConfig {
        var config = QuantConfig()
        config.method = "learnable/lsq-channel"
        config.params = ["bits": .int(Int64(bits))]
        config.workflow = .qat
        config.qatEpochs = 1
        config.activations = .static
        config.activationMethod = "learnable/lsq"
        config.activationParams = ["bits": .int(Int64(bits))]
        return config
    }

    @Test func qatTrainsTheStepSizesAndTheFinalModelUsesThem() throws {
        let (model, train, test, recipe) = try Self.shared.get()
        let registry = try Checkout.registry()
        // The step sizes LSQ initialises from the weights (2 mean|w| / sqrt(Qp), per channel).
        var ptq = Self.lsqConfig()
        ptq.workflow = .ptq
        let (_, initial) = try QuantizationStage.run(ptq, model: model, train: train, test: test, recipe: recipe, registry: registry)
        let (quantized, report) = try QuantizationStage.run(Self.lsqConfig(), model: model, train: train, test: test, recipe: recipe,
                                                            registry: registry)
        let learned = try #require(report.learned)
        let before = try #require(initial.learned)
        // One step per output channel of each layer's weight, one per layer input.
        #expect(learned.filter { $0.role == "weight" }.map(\.layer) == ["fc1", "fc2", "fc3"])
        #expect(learned.filter { $0.role == "weight" }.map(\.shape) == [[300], [100], [10]])
        #expect(learned.filter { $0.role == "activation" }.map(\.shape) == [[1], [1], [1]])
        // Training moved every step size away from its initial value.
        for (a, b) in zip(learned, before) {
            #expect(a.layer == b.layer && a.role == b.role)
            #expect(a.mean != b.mean, "\(a.layer) \(a.role) step unchanged by QAT")
        }
        // The final weights sit on each channel's learned grid: w / s is an integer in [-4, 3].
        let fc2 = try #require(quantized.model.layer(named: "fc2")?.ownParameters.first { $0.0 == "weight" }?.1).scalars(as: Float.self)
        let steps = try #require(quantized.learned?.weights["fc2"]?.learnables.first).scalars(as: Float.self)
        for r in 0..<100 {
            for v in fc2[(r * 300)..<((r + 1) * 300)] {
                let q = v / steps[r]
                #expect(abs(q - q.rounded()) < 1e-3 && q >= -4.001 && q <= 3.001)
            }
        }
        #expect(report.layers.allSatisfy { $0.bits == 3 })
        // Evaluated with the learned activation quantizers installed.
        #expect(abs(try quantized.evaluate(on: test).accuracy - report.accuracy) < 1e-12)
        let context = try quantized.context()
        #expect(Set(context.inputTransforms.keys) == ["fc1", "fc2", "fc3"])
    }

    @Test func theLearnablesHaveTheirOwnLearningRate() throws {
        let (model, train, test, recipe) = try Self.shared.get()
        let registry = try Checkout.registry()
        func movement(_ lr: Double) throws -> Double {
            var config = Self.lsqConfig()
            config.activations = .none
            config.learnableLearningRate = lr
            var ptq = config
            ptq.workflow = .ptq
            let start = try #require(try QuantizationStage.run(ptq, model: model, train: train, test: test, recipe: recipe, registry: registry).report.learned)
            let end = try #require(try QuantizationStage.run(config, model: model, train: train, test: test, recipe: recipe, registry: registry).report.learned)
            return zip(start, end).map { abs($0.mean - $1.mean) / $0.mean }.reduce(0, +)
        }
        let slow = try movement(1e-6), fast = try movement(1e-2)
        #expect(slow < fast / 100, "steps moved \(slow) at lr 1e-6 and \(fast) at lr 1e-2")
    }

    @Test func theCheckpointKeepsTheLearnedTensors() throws {
        let (model, train, test, recipe) = try Self.shared.get()
        let (quantized, report) = try QuantizationStage.run(Self.lsqConfig(), model: model, train: train, test: test, recipe: recipe,
                                                            registry: try Checkout.registry())
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-learned-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(quantized.model, to: path, extras: try quantized.checkpointExtras())
        let extras = try Checkpoint.extras(path)
        #expect(Set(extras.keys) == ["quant.fc1.weight.step", "quant.fc2.weight.step", "quant.fc3.weight.step",
                                     "quant.fc1.activation.step", "quant.fc2.activation.step", "quant.fc3.activation.step"])
        let saved = try #require(extras["quant.fc2.weight.step"]).scalars(as: Float.self)
        #expect(saved.count == 100)
        let reported = try #require(report.learned?.first { $0.layer == "fc2" && $0.role == "weight" })
        #expect(abs(Double(saved.reduce(0, +)) / 100 - reported.mean) < 1e-6)
        // The model itself loads as before: the extra tensors are not model state.
        let (loaded, _) = try Checkpoint.load(path)
        #expect(loaded.state.map(\.0) == quantized.model.state.map(\.0))
    }

    @Test func learnedActivationsRefuseWhatTheyCannotDo() throws {
        let (model, train, test, recipe) = try Self.shared.get()
        var dynamic = Self.lsqConfig()
        dynamic.activations = .dynamic
        #expect { try QuantizationStage.run(dynamic, model: model, train: train, test: test, recipe: recipe, registry: try Checkout.registry()) }
            throws: { "\($0)".contains("learnable/lsq") && "\($0)".contains("activations = \"static\"") }
        var int8 = Self.lsqConfig()
        int8.realInt8 = true
        #expect { try QuantizationStage.run(int8, model: model, train: train, test: test, recipe: recipe, registry: try Checkout.registry()) }
            throws: { "\($0)".contains("real_int8") && "\($0)".contains("learnable/lsq") }
    }

    @Test func learnableKeysAreValidated() throws {
        var config = QuantConfig()
        config.learnableLearningRate = 0
        #expect { try config.validate() } throws: { "\($0)".contains("learnable_lr 0.0") }
        config.learnableLearningRate = nil
        config.learnableWeightDecay = -1
        #expect { try config.validate() } throws: { "\($0)".contains("learnable_weight_decay -1.0") }
    }
}
