import Foundation
import LatheTestSupport
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LatheQuant

/// The registry of the checkout (first-party plugins built by scripts/build-plugins.sh).
enum Checkout {
    static let root = SourceTree.root

    static func registry() throws -> Registry {
        try Registry(directory: root.appendingPathComponent("registry").path)
    }

    static func method(_ id: String) throws -> PluginMethod {
        try registry().method(id)
    }
}

@Suite("quantizer golden values")
struct QuantizerGoldenTests {
    func run(_ id: String, _ values: [Float], shape: [Int]? = nil, _ params: [String: HyperValue]) throws -> ([Float], QuantParams) {
        let method = try Checkout.method(id)
        let (out, q) = try method.quantize(try Tensor(values, shape: shape ?? [values.count]), params: try method.bind(params))
        return (try out.scalars(as: Float.self), q)
    }

    @Test func affineTwoBitMinMax() throws {
        let (out, q) = try run("uniform/affine", [-1, -0.2, 0.3, 2], ["bits": .int(2)])
        #expect(out == [-1, 0, 0, 2])
        #expect(q.scheme == .affine && q.scales == [1] && q.zeroPoints == [1] && q.qmin == 0 && q.qmax == 3)
    }

    @Test func symmetricFourBit() throws {
        let (out, q) = try run("uniform/symmetric", [1.75, -0.375, 0.625, 0.125, -1.75], ["bits": .int(4)])
        #expect(out == [1.75, -0.5, 0.5, 0, -1.75])
        #expect(q.scales == [0.25] && q.qmin == -7 && q.qmax == 7)
    }

    @Test func binaryPerChannelScalesByMeanMagnitude() throws {
        let (out, q) = try run("lowbit/binary", [1, -2, 3, 0], shape: [2, 2], [:])
        #expect(out == [1.5, -1.5, 1.5, 1.5])
        #expect(q.scheme == .binary && q.bits == 1 && q.scales == [1.5, 1.5])
    }

    @Test func ternaryThresholdsAtSevenTenthsOfMeanMagnitude() throws {
        // mean|w| = 0.7875, Δ = 0.55125: keeps -1 and 2, α = 1.5 (Li et al. 2016).
        let (out, q) = try run("lowbit/ternary", [0.1, -1, 2, 0.05], ["per_channel": .bool(false)])
        #expect(out == [0, -1.5, 1.5, 0])
        #expect(q.scheme == .ternary && q.scales == [1.5])
    }

    @Test func powerOfTwoRoundsInTheLogDomain() throws {
        let (out, q) = try run("lowbit/pow2", [0.9, -0.3, 0.1, 0.05, 0, 1.5, -0.7, 0.71], ["bits": .int(3)])
        #expect(out == [1, -0.5, 0, 0, 0, 2, -0.5, 1])
        #expect(q.scheme == .powerOfTwo && q.scales == [2])
    }

    @Test func kmeansSharesWeightsOnACodebook() throws {
        let (out, q) = try run("lowbit/kmeans", (0..<10).map(Float.init), ["bits": .int(2)])
        #expect(out == [0.5, 0.5, 3, 3, 3, 6, 6, 6, 8.5, 8.5])
        #expect(q.scheme == .codebook && q.codebook == [0.5, 3, 6, 8.5])
        #expect(q.storageBytes(elements: 10) == 3 + 16)
    }

    @Test func symmetricPerChannelHasOneScalePerRow() throws {
        let (out, q) = try run("uniform/symmetric", [1, -0.5, 4, 2], shape: [2, 2], ["bits": .int(8), "per_channel": .bool(true)])
        #expect(q.axis == 0 && q.scales == [Float(1) / 127, Float(4) / 127])
        #expect(out[0] == 1 && out[2] == 4)
    }
}

@Suite("size accounting")
struct SizeAccountingTests {
    @Test func bytesAtRealBitWidths() {
        let perChannel = QuantParams(scheme: .symmetric, bits: 4, axis: 0, qmin: -7, qmax: 7, scales: [1, 2, 3, 4], zeroPoints: [0, 0, 0, 0])
        #expect(perChannel.storageBytes(elements: 100) == 50 + 16)
        let affine = QuantParams(scheme: .affine, bits: 8, axis: -1, qmin: 0, qmax: 255, scales: [0.1], zeroPoints: [128])
        #expect(affine.storageBytes(elements: 10) == 10 + 4 + 4)
        let codebook = QuantParams(scheme: .codebook, bits: 4, axis: -1, codebook: [Float](repeating: 0, count: 16))
        #expect(codebook.storageBytes(elements: 1000) == 500 + 64)
    }

    @Test func modelSizeCountsQuantizedWeightsAndFp32Rest() throws {
        let model = try Zoo.make("mlp")
        var config = QuantConfig()
        config.params = ["bits": .int(4), "per_channel": .bool(false)]
        let quantizers = try Quantization.weightQuantizers(model, config: config, registry: try Checkout.registry())
        let records = try Quantization.quantizeWeights(model, with: quantizers).map(\.record)
        let (bytes, fp32) = Quantization.sizeBytes(model, quantized: records)
        // 784*300 + 300*100 + 100*10 weights at 4 bits with one scale each; biases in fp32.
        let weights = 784 * 300 + 300 * 100 + 100 * 10
        #expect(fp32 == 4 * (weights + 300 + 100 + 10))
        #expect(bytes == weights / 2 + 3 * 4 + 4 * (300 + 100 + 10))
        for layer in ["fc1", "fc2", "fc3"] {
            let w = try #require(model.layer(named: layer)?.ownParameters.first { $0.0 == "weight" }?.1)
            #expect(Set(try w.scalars(as: Float.self)).count <= 15)
        }
    }
}

@Suite("sparse storage at quantized widths")
struct QuantizedStorageTests {
    /// fc1 [300, 784] keeps every 16th column (49 per row, 14 700 nonzeros, distances of 16),
    /// fc2 and fc3 are full; 4-bit per-tensor symmetric weights keep zeros at zero. By hand:
    /// fc1 as CSR-8 is 14 700 entries × (4 + 8) bits = 22 050 B plus 301 row pointers × 4 B =
    /// 23 254 B (bitmask: 29 400 + 7 350 = 36 750 B; CSR-16: 36 750 + 1 204 B; dense: 117 600 B);
    /// fc2 30 000 × 4 bits = 15 000 B, fc3 500 B, biases 410 × 4 B, one 4-byte scale per layer.
    @Test func prunedThenQuantizedWeightsAreStoredSparseAtTheirBitWidth() throws {
        let model = try Zoo.make("mlp", seed: 1)
        let fc1 = (0..<(300 * 784)).map { $0 % 784 % 16 == 0 ? Float(1) : 0 }
        try #require(model.layer(named: "fc1")).replace("weight", with: try Tensor(fc1, shape: [300, 784]))
        try #require(model.layer(named: "fc2")).replace("weight", with: try Tensor([Float](repeating: 0.5, count: 30_000), shape: [100, 300]))
        try #require(model.layer(named: "fc3")).replace("weight", with: try Tensor([Float](repeating: 0.5, count: 1000), shape: [10, 100]))
        var config = QuantConfig()
        config.params = ["bits": .int(4), "per_channel": .bool(false)]
        let quantizers = try Quantization.weightQuantizers(model, config: config, registry: try Checkout.registry())
        let records = try Quantization.quantizeWeights(model, with: quantizers).map(\.record)

        let cost = try QuantizedStorage.cost(of: model, quantized: records)
        let rest: Int = 15_000 + 500 + 4 * 410 + 3 * 4
        #expect(cost.sizeBytes == 23_254 + rest)
        #expect(cost.sparseStorage == ["fc1.weight": TensorStorage(format: .csr8, bytes: 23_254)])
        #expect(cost.storageSummary == "fc1.weight csr-8; others dense")
        // Dense, the ledger's size: the same formula without the sparse format.
        #expect(Quantization.sizeBytes(model, quantized: records).bytes == 117_600 + rest)
        // Without a ledger every value is counted at 32 bits: fc1 is 14 700 × (32 + 8) bits + 1 204 B.
        #expect(try QuantizedStorage.cost(of: model, quantized: []).sparseStorage?["fc1.weight"]
                == TensorStorage(format: .csr8, bytes: 14_700 * 5 + 1_204))
    }

    /// Dense weights (8-bit codes of a random resnet8, nested layer names, batch norms): the
    /// ledger's size exactly, so every quantized weight is found under its state name.
    @Test func denseQuantizedWeightsCostTheLedgersSize() throws {
        let model = try Zoo.make("resnet8", seed: 2)
        var config = QuantConfig()
        config.params = ["bits": .int(8), "per_channel": .bool(true)]
        let quantizers = try Quantization.weightQuantizers(model, config: config, registry: try Checkout.registry())
        let records = try Quantization.quantizeWeights(model, with: quantizers).map(\.record)
        #expect(records.count >= 7)
        let cost = try QuantizedStorage.cost(of: model, quantized: records)
        #expect(cost.sparseStorage == nil && cost.storageSummary == "dense")
        #expect(cost.sizeBytes == Quantization.sizeBytes(model, quantized: records).bytes)
    }
}

@Suite("batch-norm folding and the straight-through estimator")
struct FoldingAndSTETests {
    @Test func foldedModelComputesTheSameFunction() throws {
        let model = try Zoo.make("resnet8", seed: 3)
        // Give every batch norm non-trivial statistics and affine parameters.
        let g = try RandomGenerator(seed: 9)
        for case let bn as BatchNorm2d in model.layers {
            try bn.replace("running_mean", with: try Tensor.randn([bn.channels], generator: g) * 0.3)
            try bn.replace("running_var", with: try Tensor.uniform([bn.channels], low: 0.5, high: 2, generator: g))
            try bn.replace("weight", with: try Tensor.uniform([bn.channels], low: 0.5, high: 1.5, generator: g))
            try bn.replace("bias", with: try Tensor.randn([bn.channels], generator: g) * 0.1)
        }
        let x = try Tensor.randn([4, 1, 28, 28], generator: g)
        let before = try model.predict(x).scalars(as: Float.self)
        let folded = try BatchNormFolding.fold(model)
        #expect(folded.count >= 7)
        let after = try model.predict(x).scalars(as: Float.self)
        let scale = before.map { abs($0) }.max() ?? 1
        let worst = zip(before, after).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * max(scale, 1), "max difference \(worst)")
        // Folded batch norms no longer follow batch statistics in training passes.
        let training = try model.forward(x, ForwardContext(training: true)).scalars(as: Float.self)
        #expect(zip(before, training).map { abs($0 - $1) }.max() ?? 0 <= 1e-4 * max(scale, 1))
    }

    @Test func clippedSTEPassesGradientInsideTheRangeOnly() throws {
        let method = try Checkout.method("uniform/symmetric")
        // A percentile range clips the two outliers.
        let params = try method.bind(["bits": .int(4), "range": .choice("percentile"), "percentile": .double(90)])
        let q = LayerQuantizer(layer: "w", method: method, params: params)
        let values: [Float] = [-8, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.1, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 9]
        let w = try Tensor(values, shape: [20]).requiringGrad()
        let y = try Quantization.steTransform(q, clipped: true)(w)
        try y.sum().backward()
        let grad = try #require(w.grad).scalars(as: Float.self)
        let (_, qparams) = try method.quantize(try w.detached(), params: params)
        let limit = qparams.scales[0] * Float(qparams.qmax)
        #expect(grad == values.map { abs($0) <= limit ? 1 : 0 })
        #expect(grad.first == 0 && grad.last == 0 && grad[9] == 1)
        // Unclipped: the identity everywhere.
        let w2 = try Tensor(values, shape: [20]).requiringGrad()
        try Quantization.steTransform(q, clipped: false)(w2).sum().backward()
        #expect(try #require(w2.grad).scalars(as: Float.self) == [Float](repeating: 1, count: 20))
        // The forward value is the quantizer's output.
        #expect(try y.detached().scalars(as: Float.self) == (try method.quantize(try Tensor(values, shape: [20]), params: params).output.scalars(as: Float.self)))
    }
}

@Suite("workflows on real data", .serialized)
struct WorkflowTests {
    static func data() throws -> (ImageDataset, ImageDataset) {
        try DataSource.fashionMNIST.load(directory: nil, limitTrain: 3000, limitTest: 500)
    }

    static func trained(_ name: String) throws -> (Model, ImageDataset, ImageDataset, Recipe) {
        let (train, test) = try data()
        var recipe = Recipe()
        recipe.epochs = 2
        recipe.batchSize = 64
        let model = try Zoo.make(name, seed: 1)
        _ = try Trainer(recipe: recipe).train(model, on: train)
        return (model, train, test, recipe)
    }

    @Test func realInt8AgreesWithItsSimulation() throws {
        Engine.threads = 1
        let (model, train, test, recipe) = try Self.trained("lenet5")
        var config = QuantConfig()
        config.activations = .static
        config.realInt8 = true
        let (_, report) = try QuantizationStage.run(config, model: model, train: train, test: test, recipe: recipe, registry: try Checkout.registry())
        #expect(report.int8.count == QuantizedEngine.supported.count)
        #expect(!report.int8.isEmpty)
        for engine in report.int8 {
            #expect(abs(engine.accuracy - engine.simulatedAccuracy) <= 0.01, "\(engine.engine): \(engine.accuracy) vs \(engine.simulatedAccuracy)")
            #expect(engine.latency.count == 2 && engine.speedup.allSatisfy { $0 > 0 })
        }
        #expect(abs(report.accuracy - report.fp32Accuracy) <= 0.02)
        #expect(report.compressionRatio > 3.5)
    }

    /// Static calibration keeps only the first `valueLimit` values of each layer's inputs and
    /// outputs: exactly the prefix of what an unbounded run collects, whether the limit falls
    /// inside the first batch (conv1's 784-value images) or is never reached (fc3's outputs).
    @Test func boundedCalibrationKeepsExactlyThePrefixOfEachLayersValues() throws {
        Engine.threads = 1
        let (train, _) = try DataSource.fashionMNIST.load(directory: nil, limitTrain: 256, limitTest: 10)
        let model = try Zoo.make("lenet5", seed: 1)
        let layers = Quantization.quantizableLayers(model).map(\.name)
        let full = try Quantization.calibrate(model, layers: layers, data: train, batches: 4, batchSize: 16)
        let limit = 2000
        let bounded = try Quantization.calibrate(model, layers: layers, data: train, batches: 4, batchSize: 16, valueLimit: limit)
        #expect(Set(bounded.inputs.keys) == Set(layers) && Set(bounded.outputs.keys) == Set(layers))
        var cut = 0, whole = 0
        for (all, kept) in [(full.inputs, bounded.inputs), (full.outputs, bounded.outputs)] {
            for name in layers {
                let a = try #require(all[name]).scalars(as: Float.self), k = try #require(kept[name]).scalars(as: Float.self)
                #expect(k.count == min(limit, a.count), "\(name): \(k.count) of \(a.count)")
                #expect(k == Array(a.prefix(limit)), "\(name)")
                if a.count > limit { cut += 1 } else { whole += 1 }
            }
        }
        #expect(cut > 0 && whole > 0, "the limit should cut some layers and not others: \(cut) cut, \(whole) whole")
        #expect(try full.inputs["conv1"]?.count == 4 * 16 * 784)
    }

    @Test func int8RefusesModelsItCannotRun() throws {
        let model = try Zoo.make("resnet8")
        #expect(throws: QuantError.self) {
            try Int8Model(model, engine: QuantizedEngine.supported[0], weights: [:], inputs: [:], outputs: [:])
        }
    }

    @Test func qatTrainsThroughTheQuantizerAndSensitivityCoversEveryLayer() throws {
        let (model, train, test, recipe) = try Self.trained("mlp")
        var config = QuantConfig()
        config.workflow = .qat
        config.qatEpochs = 1
        config.params = ["bits": .int(2), "per_channel": .bool(true)]
        config.sensitivity = true
        let before = try model.state.map { try $0.1.scalars(as: Float.self) }
        let (quantized, report) = try QuantizationStage.run(config, model: model, train: train, test: test, recipe: recipe, registry: try Checkout.registry())
        #expect(report.qatTraining?.epochs.count == 1)
        #expect(report.sensitivity.map(\.layer) == ["fc1", "fc2", "fc3"])
        #expect(report.layers.allSatisfy { $0.bits == 2 })
        // The caller's model is untouched; the quantized copy is on a 2-bit grid per channel.
        #expect(try model.state.map { try $0.1.scalars(as: Float.self) } == before)
        let w = try #require(quantized.model.layer(named: "fc2")?.ownParameters.first?.1)
        let rows = try w.scalars(as: Float.self)
        for r in 0..<100 { #expect(Set(rows[(r * 300)..<((r + 1) * 300)]).count <= 3) }
    }

    @Test func badConfigurationNamesTheKey() throws {
        let model = try Zoo.make("mlp")
        var config = QuantConfig()
        config.exclude = ["conv9"]
        #expect {
            try Quantization.weightQuantizers(model, config: config, registry: try Checkout.registry())
        } throws: { error in
            String(describing: error).contains("layer 'conv9' is not a conv or linear layer of mlp")
        }
        config = QuantConfig()
        config.params = ["bits": .int(40)]
        #expect {
            try Quantization.weightQuantizers(model, config: config, registry: try Checkout.registry())
        } throws: { error in
            String(describing: error).contains("parameter 'bits' must be in [2, 16]; got 40")
        }
        let decoded = try JSONDecoder().decode(QuantConfig.self, from: Data(#"{"method": "uniform/affine", "layer_bits": {"fc1": 8}, "first_last_bits": 8, "real_int8": true}"#.utf8))
        #expect(decoded.method == "uniform/affine" && decoded.layerBits == ["fc1": 8] && decoded.firstLastBits == 8 && decoded.realInt8)
    }
}
