import Foundation
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LathePruning

@Suite("Pruning stage", .serialized)
struct PruningStageTests {
    private var train: ImageDataset { Fixtures.fashion.train.prefix(600) }
    private var test: ImageDataset { Fixtures.fashion.test.prefix(300) }

    private func run(_ config: PruningConfig, _ model: Model, rewind: [String: Tensor]? = nil, latency: Bool = true) throws -> (Model, PruningReport) {
        try PruningStage.run(config, model: model, train: train, test: test, recipe: Fixtures.recipe(), registry: Fixtures.registry(),
                             rewindWeights: rewind, measureLatency: latency)
    }

    @Test func ledgerOfAPhysicalChannelRunIsConsistent() throws {
        Engine.threads = 1
        let model = try Zoo.make("lenet5", seed: 3)
        _ = try Trainer(recipe: Fixtures.recipe()).train(model, on: train)
        let dense = try Evaluation.evaluate(model, on: test).accuracy
        let denseParameters = model.parameterCount
        var c = PruningConfig()
        c.criterion = "prune/l1-filter"
        c.sparsity = 0.5
        c.finetuneEpochs = 0
        c.physical = true
        let (pruned, report) = try run(c, model)

        #expect(report.dense.accuracy == dense)
        #expect(report.dense.parameters == denseParameters)
        #expect(report.pruned.parameters == pruned.parameterCount)
        #expect(report.physicallyRemovedParameters == denseParameters - pruned.parameterCount)
        #expect(report.layers.reduce(0) { $0 + $1.parametersBefore } == report.dense.parameters)
        #expect(report.layers.reduce(0) { $0 + $1.parametersAfter } == report.pruned.parameters)
        #expect(report.pruned.macs < report.dense.macs)
        #expect(abs(report.macsReduction - Double(report.dense.macs) / Double(report.pruned.macs)) < 1e-12)
        #expect(report.pruned.sizeBytes == 4 * report.pruned.parameters)
        #expect(abs(report.maskedSparsity - 0.5) < 0.01)
        #expect(report.steps.count == 1 && report.pruned.accuracy == report.steps[0].accuracy)
        #expect(abs(report.accuracyDeltaPoints - 100 * (report.pruned.accuracy - report.dense.accuracy)) < 1e-9)
        for entry in report.layers where entry.pruned {
            #expect(entry.maskedSparsity == 0.5)
            #expect(entry.channelsRemoved == (entry.channelsBefore ?? 0) / 2)
        }
        let classifier = try #require(report.layers.first { $0.name == "fc3" })
        #expect(!classifier.pruned && classifier.channelsRemoved == 0)
        #expect((report.speedupB256 ?? 0) > 0 && (report.speedupB1 ?? 0) > 0)
        #expect(report.dense.latencyB256Milliseconds != nil && report.pruned.latencyB1Milliseconds != nil)
        #expect(report.speedupNote.contains("physically removed"))
        #expect(report.params.isEmpty && report.pluginSHA256?.count == 64)
        let json = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(PruningReport.self, from: json) == report)

        // Without the latency comparison (a sweep's trials): the same pruning, no timings, and
        // the report says so instead of printing a speedup.
        let again = try Zoo.make("lenet5", seed: 3)
        _ = try Trainer(recipe: Fixtures.recipe()).train(again, on: train)
        let (_, untimed) = try run(c, again, latency: false)
        #expect(untimed.speedupB1 == nil && untimed.speedupB256 == nil)
        #expect(untimed.dense.latencyB1Milliseconds == nil && untimed.pruned.latencyB256Milliseconds == nil)
        #expect(untimed.physicallyRemovedParameters == report.physicallyRemovedParameters)
        #expect(untimed.speedupNote.hasSuffix("physically removed (latency not measured)"))
        #expect(untimed.summary.contains("speedup: not measured") && !untimed.summary.contains("latency b1"))
        #expect(try JSONDecoder().decode(PruningReport.self, from: try JSONEncoder().encode(untimed)) == untimed)
    }

    /// An mlp pruned to 92 % (element magnitude, no fine-tuning) reports its size in the sparse
    /// formats: the sum of sizes computed here directly from each tensor's zeros.
    @Test func unstructuredSparsityIsCountedInASparseFormat() throws {
        Engine.threads = 1
        var c = PruningConfig()
        c.criterion = "prune/magnitude"
        c.sparsity = 0.92
        c.finetuneEpochs = 0
        let (pruned, report) = try run(c, try Zoo.make("mlp", seed: 3))

        var expected = 0
        var formats: [String: StorageFormat] = [:]
        for (name, tensor) in pruned.state {
            let values = try tensor.scalars(as: Float.self)
            let rows = tensor.shape.count >= 2 ? tensor.shape[0] : 1, columns = values.count / rows
            var nonzeros = 0, pads8 = 0, pads16 = 0
            for r in 0..<rows {
                var previous = 0
                for col in 0..<columns where values[r * columns + col] != 0 {
                    nonzeros += 1
                    var gap = col - previous
                    while gap > 255 { pads8 += 1; gap -= 255 }
                    gap = col - previous
                    while gap > 65535 { pads16 += 1; gap -= 65535 }
                    previous = col
                }
            }
            let sizes: [(StorageFormat, Int)] = tensor.shape.count < 2 ? [(.dense, 4 * values.count)] : [
                (.dense, 4 * values.count),
                (.bitmask, (values.count + 7) / 8 + 4 * nonzeros),
                (.csr8, 5 * (nonzeros + pads8) + 4 * (rows + 1)),
                (.csr16, 6 * (nonzeros + pads16) + 4 * (rows + 1)),
            ]
            let best = sizes.min { $0.1 < $1.1 }!
            expected += best.1
            formats[name] = best.0
        }
        #expect(report.pruned.sizeBytes == expected)
        #expect(report.dense.sizeBytes == 4 * report.dense.parameters)
        #expect(report.compressionRatio == Double(report.dense.sizeBytes) / Double(expected))
        #expect(report.compressionRatio > 1)
        for layer in report.layers {
            #expect(layer.storageFormat == formats[layer.name + ".weight"])
            #expect(!layer.pruned || layer.storageFormat != .dense)
        }
        let fc1 = try #require(report.layers.first { $0.name == "fc1" })
        #expect(report.summary.contains(String(format: "compression %.2f×", report.compressionRatio)))
        #expect(report.summary.contains("fc1 \(fc1.storageFormat.rawValue)"))
    }

    /// Removal keeps the masked model's outputs, and fine-tuning the smaller model is fine-tuning
    /// the masked one.
    @Test func physicalRunsMatchMaskedRuns() throws {
        Engine.threads = 1
        let model = try Zoo.make("lenet5", seed: 3)
        _ = try Trainer(recipe: Fixtures.recipe()).train(model, on: train)
        for epochs in [0, 1] {
            var c = PruningConfig()
            c.criterion = "prune/l1-filter"
            c.finetuneEpochs = epochs
            let (_, masked) = try run(c, try model.copy())
            c.physical = true
            let (_, physical) = try run(c, try model.copy())
            #expect(masked.physicallyRemovedParameters == 0 && physical.physicallyRemovedParameters > 0)
            #expect(masked.maskedSparsity == physical.maskedSparsity)
            #expect(masked.speedupNote.hasPrefix("channels masked but not removed: no real speedup"))
            if epochs == 0 {
                #expect(masked.pruned.accuracy == physical.pruned.accuracy)
            } else {
                #expect(abs(masked.pruned.accuracy - physical.pruned.accuracy) <= 0.01, "\(masked.pruned.accuracy) vs \(physical.pruned.accuracy)")
            }
        }
    }

    @Test func maskedElementSparsityIsReportedAsNoRealSpeedup() throws {
        Engine.threads = 1
        let model = try Zoo.make("mlp", seed: 3)
        var c = PruningConfig()
        c.sparsity = 0.9
        c.scope = .global
        c.finetuneEpochs = 1
        let (pruned, report) = try run(c, model)
        #expect(report.physicallyRemovedParameters == 0)
        #expect(report.pruned.macs == report.dense.macs)
        #expect(abs(report.maskedSparsity - 0.9) < 1e-3)
        #expect(abs(report.pruned.nonzeroParameters - (report.dense.parameters - Int(0.9 * Double(266_200)))) < 200)
        #expect(try PruningStage.nonzero(pruned) == report.pruned.nonzeroParameters)
        #expect(report.speedupNote.hasPrefix("masked sparsity only: no real speedup"))
        // Global scope: layers end at different sparsities.
        let sparsities = report.layers.filter(\.pruned).map(\.maskedSparsity)
        #expect(Set(sparsities.map { ($0 * 100).rounded() }).count > 1)
    }

    @Test func randomIsWorseThanMagnitudeAtHighSparsity() throws {
        Engine.threads = 1
        let dense = try Zoo.make("mlp", seed: 4)
        _ = try Trainer(recipe: Fixtures.recipe(epochs: 2)).train(dense, on: Fixtures.fashion.train)
        func accuracy(_ criterion: String) throws -> Double {
            var c = PruningConfig()
            c.criterion = criterion
            c.sparsity = 0.95
            c.finetuneEpochs = 0
            return try run(c, try dense.copy()).1.pruned.accuracy
        }
        let magnitude = try accuracy("prune/magnitude"), random = try accuracy("prune/random")
        #expect(magnitude > random + 0.2, "magnitude \(magnitude), random \(random)")
    }

    @Test func agpAndIterativeStepsFollowTheSchedule() throws {
        Engine.threads = 1
        for schedule in [PruningConfig.Schedule.agp, .iterative] {
            var c = PruningConfig()
            c.sparsity = 0.875
            c.schedule = schedule
            c.steps = 3
            c.finetuneEpochs = 0
            let (_, report) = try run(c, try Zoo.make("mlp", seed: 5))
            let expected = (1...3).map { SparsitySchedule.target(c, final: 0.875, step: $0) }
            #expect(report.steps.map(\.step) == [1, 2, 3])
            for (step, target) in zip(report.steps, expected) {
                #expect(abs(step.targetSparsity - target) < 1e-12)
                #expect(abs(step.maskedSparsity - target) < 2e-3, "\(schedule) step \(step.step)")
            }
        }
    }

    @Test func overridesAndExclusionsApplyPerLayer() throws {
        Engine.threads = 1
        var c = PruningConfig()
        c.criterion = "prune/l1-filter"
        c.exclude = ["conv1"]
        c.layerSparsity = ["fc1": 0.25]
        c.finetuneEpochs = 0
        let (_, report) = try run(c, try Zoo.make("lenet5"))
        let layers = Dictionary(uniqueKeysWithValues: report.layers.map { ($0.name, $0) })
        #expect(layers["conv1"]?.pruned == false && layers["conv1"]?.maskedSparsity == 0)
        #expect(layers["conv2"]?.maskedSparsity == 0.5)
        #expect(layers["fc1"]?.maskedSparsity == 0.25)
        #expect(layers["fc2"]?.maskedSparsity == 0.5)
    }

    @Test func globalChannelScopeNormalisesScoresPerLayer() throws {
        let model = try Zoo.make("mlp")
        var c = PruningConfig()
        c.criterion = "prune/l1-filter"
        c.scope = .global
        let masks = try PruningMasks(model: model, layers: ["fc1", "fc2"], granularity: .outputChannel)
        // fc2's scores are a thousandth of fc1's: unnormalised, fc2 would lose all but one channel.
        let scores = ["fc1": try Tensor((1...300).map { Float($0) * 1000 }), "fc2": try Tensor((1...100).map { Float($0) })]
        try PruningStage.select(c, step: 1, scores: scores, targets: ["fc1", "fc2"], masks: masks, granularity: .outputChannel)
        #expect(abs(try masks.sparsity("fc1") - 0.5) < 0.02)
        #expect(abs(try masks.sparsity("fc2") - 0.5) < 0.02)
        #expect(try masks.keep("fc2").prefix(45).allSatisfy { !$0 })
    }

    @Test func rewindingRestoresTheSurvivingWeightsToInitialisation() throws {
        Engine.threads = 1
        let model = try Zoo.make("mlp", seed: 6)
        let (_, snapshot) = try PruningStage.trainDense(model, on: train, recipe: Fixtures.recipe(), snapshotEpoch: 0)
        let initial = try #require(snapshot)
        let fresh = try Zoo.make("mlp", seed: 6)
        #expect(try Fixtures.maxDifference(try #require(initial["fc1.weight"]), try #require(fresh.layer(named: "fc1") as? Linear).weight) == 0)
        var c = PruningConfig()
        c.sparsity = 0.8
        c.rewindEpoch = 0
        c.finetuneEpochs = 0
        let (pruned, _) = try run(c, model, rewind: initial)
        let w = try #require(pruned.layer(named: "fc1") as? Linear).weight.scalars(as: Float.self)
        let w0 = try #require(initial["fc1.weight"]).scalars(as: Float.self)
        let kept = zip(w, w0).filter { $0.0 != 0 }
        #expect(abs(Double(kept.count) - 0.2 * Double(w.count)) < 2)
        #expect(kept.allSatisfy { $0.0 == $0.1 })

        expectError(mentioning: ["rewind_epoch", "3"]) {
            _ = try PruningStage.trainDense(try Zoo.make("mlp"), on: train, recipe: Fixtures.recipe(), snapshotEpoch: 3)
        }
        expectError(mentioning: ["rewind_epoch"]) { _ = try run(c, try Zoo.make("mlp")) }
    }

    @Test func slimmingShrinksBatchNormScales() throws {
        Engine.threads = 1
        func scaleL1(_ lambda: Double) throws -> Double {
            let model = try Zoo.make("resnet8", seed: 7)
            _ = try PruningStage.trainDense(model, on: train.prefix(256), recipe: Fixtures.recipe(), slimmingL1: lambda)
            return try model.layers.compactMap { $0 as? BatchNorm2d }.reduce(0) { $0 + (try $1.weight.abs().sum().item()) }
        }
        let plain = try scaleL1(0), slim = try scaleL1(0.05)
        #expect(slim < plain - 1, "Σ|γ| \(slim) with slimming vs \(plain) without")
        var c = PruningConfig()
        c.slimmingL1 = 1e-4
        expectError(mentioning: ["slimming_l1", "batch norm"]) { _ = try run(c, try Zoo.make("mlp")) }
    }

    @Test func gradientAndBatchNormCriteriaPruneResNet() throws {
        Engine.threads = 1
        for criterion in ["prune/taylor", "prune/bn-scale"] {
            var c = PruningConfig()
            c.criterion = criterion
            c.sparsity = 0.5
            c.finetuneEpochs = 0
            c.calibrationBatches = 2
            c.physical = true
            let (pruned, report) = try run(c, try Fixtures.model("resnet8", width: 0.5))
            #expect(report.granularity == "output-channel")
            #expect(try PruningMasks.weight(of: pruned, "layer3.0.conv1").shape[0] == 16, "\(criterion)")
            #expect(report.physicallyRemovedParameters > 0)
        }
        var c = PruningConfig()
        c.criterion = "prune/bn-scale"
        expectError(mentioning: ["batch norm", "conv1"]) { _ = try run(c, try Zoo.make("convnet")) }
    }

    @Test func badConfigurationsAreRefusedBeforeAnythingRuns() throws {
        let registry = try Fixtures.registry()
        var c = PruningConfig()
        c.sparsity = 1.5
        expectError(mentioning: ["sparsity", "1.5", "[0, 1)"]) { try c.validate() }
        c = PruningConfig()
        c.criterion = "prune/nope"
        expectError(mentioning: ["nope", "magnitude"]) { _ = try c.validate(against: registry) }
        c = PruningConfig()
        c.criterion = "uniform/affine"
        expectError(mentioning: ["criterion", "quantizer"]) { _ = try c.validate(against: registry) }
        c = PruningConfig()
        c.physical = true
        expectError(mentioning: ["physical", "output-channel"]) { _ = try c.validate(against: registry) }
        c = PruningConfig()
        c.criterion = "prune/l1-filter"
        c.exclude = ["fc3"]
        expectError(mentioning: ["exclude", "fc3", "conv1"]) { _ = try run(c, try Zoo.make("lenet5")) }
        c = PruningConfig()
        c.layerSparsity = ["fc1": 1]
        expectError(mentioning: ["layer_sparsity.fc1"]) { try c.validate() }
    }

    @Test func configDecodesSnakeCaseWithDefaults() throws {
        let json = """
            {"criterion": "prune/random", "params": {"seed": 3}, "sparsity": 0.7, "scope": "global", "schedule": "agp",
             "steps": 4, "finetune_epochs": 2, "final_finetune_epochs": 5, "finetune_lr": 0.01,
             "layer_sparsity": {"conv1": 0.3}, "rewind_epoch": 1, "slimming_l1": 0.0001, "calibration_batches": 3}
            """
        let c = try JSONDecoder().decode(PruningConfig.self, from: Data(json.utf8))
        #expect(c.criterion == "prune/random" && c.params == ["seed": .int(3)])
        #expect(c.scope == .global && c.schedule == .agp && c.steps == 4)
        #expect(c.finetuneEpochs == 2 && c.finalFinetuneEpochs == 5 && c.finetuneLearningRate == 0.01)
        #expect(c.layerSparsity == ["conv1": 0.3] && c.rewindEpoch == 1 && c.slimmingL1 == 0.0001 && c.calibrationBatches == 3)
        #expect(c.finetuneEpochs(afterStep: 3) == 2 && c.finetuneEpochs(afterStep: 4) == 5)
        #expect(c.exclude.isEmpty && !c.physical && c.initialSparsity == 0)
        let defaults = try JSONDecoder().decode(PruningConfig.self, from: Data("{}".utf8))
        #expect(defaults == PruningConfig())
        let encoded = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        for key in ["finetune_epochs", "layer_sparsity", "rewind_epoch", "slimming_l1", "calibration_batches"] {
            #expect(encoded.contains("\"\(key)\""))
        }
        #expect(try JSONDecoder().decode(PruningConfig.self, from: Data(encoded.utf8)) == c)
    }
}
