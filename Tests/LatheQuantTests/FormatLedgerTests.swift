import Foundation
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LatheQuant

/// Group and floating-point formats in the ledger: effective bits, sizes, the clipped STE's
/// range, and ledgers recorded before them.
@Suite("format ledger")
struct FormatLedgerTests {
    /// Groups of 3 over rows of 5 (a group of 3, then one of 2): each element gets its group's
    /// range, scale * [qmin, qmax].
    @Test func clipRangeExpandsGroupScalesOverTheirElements() throws {
        let q = QuantParams(scheme: .symmetric, bits: 4, axis: 0, qmin: -7, qmax: 7, scales: [1, 2, 3, 4], groupSize: 3, scaleFormat: .fp16)
        let w = try Tensor([Float](repeating: 0, count: 10), shape: [2, 5])
        let (low, high) = try #require(try Quantization.clipRange(q, like: w))
        #expect(low.shape == [2, 5] && high.shape == [2, 5])
        #expect(try high.scalars(as: Float.self) == [7, 7, 7, 14, 14, 21, 21, 21, 28, 28])
        #expect(try low.scalars(as: Float.self) == [-7, -7, -7, -14, -14, -21, -21, -21, -28, -28])
        let wrong = QuantParams(scheme: .symmetric, bits: 4, axis: 0, qmin: -7, qmax: 7, scales: [1, 2, 3], groupSize: 3)
        #expect(throws: QuantError.self) { try Quantization.clipRange(wrong, like: w) }
    }

    /// Minifloat elements saturate at the format's largest value: the range is scale * [-max, max].
    @Test func clipRangeOfMinifloatIsTheSaturationPoint() throws {
        let perChannel = QuantParams(scheme: .minifloat, bits: 8, axis: 0, scales: [0.5, 2], elementFormat: .fp8E4M3)
        let (low, high) = try #require(try Quantization.clipRange(perChannel, like: try Tensor([Float](repeating: 0, count: 4), shape: [2, 2])))
        #expect(low.shape == [2, 1])
        #expect(try high.scalars(as: Float.self) == [224, 896])
        #expect(try low.scalars(as: Float.self) == [-224, -896])
        let mx = QuantParams(scheme: .minifloat, bits: 4, axis: 0, scales: [1, 0.25], groupSize: 2, elementFormat: .fp4E2M1, scaleFormat: .e8m0)
        let (_, mxHigh) = try #require(try Quantization.clipRange(mx, like: try Tensor([Float](repeating: 0, count: 3), shape: [1, 3])))
        #expect(try mxHigh.scalars(as: Float.self) == [6, 6, 1.5])
    }

    /// The clipped STE with group parameters: each weight's gradient passes only inside its own
    /// group's range. INT4 groups of 2 with fp16 scales: 1.4 / 7 rounds down to 0.199951171875, so
    /// 1.4 lies above its group's 7 * s = 1.39966 (gradient 0), and 0.1 / 7 rounds down to
    /// 1872 * 2^-17, so 0.1 lies above 0.099976 (gradient 0) although the row's range holds it.
    @Test func clippedSTEUsesEachGroupsRange() throws {
        let method = try Checkout.method("formats/int_group")
        let quantizer = LayerQuantizer(layer: "fc", method: method, params: try method.bind(["bits": .int(4), "group_size": .int(2)]))
        let w = try Tensor([1.4, -0.2, 0.1, 0.05] as [Float], shape: [1, 4]).requiringGrad(true)
        try Quantization.steTransform(quantizer, clipped: true)(w).sum().backward()
        #expect(try #require(w.grad).scalars(as: Float.self) == [0, 1, 0, 1])
    }

    /// MXFP4 saturates at 6 * X: a block with max 7 (X = 1) clips 7 and passes the rest.
    @Test func clippedSTEStopsAtTheMinifloatSaturation() throws {
        let method = try Checkout.method("formats/mxfp4")
        let quantizer = LayerQuantizer(layer: "fc", method: method, params: try method.bind([:]))
        let w = try Tensor([7, 5, -0.5, 1] as [Float], shape: [1, 4]).requiringGrad(true)
        let y = try Quantization.steTransform(quantizer, clipped: true)(w)
        try y.sum().backward()
        #expect(try y.scalars(as: Float.self) == [6, 4, -0.5, 1])
        #expect(try #require(w.grad).scalars(as: Float.self) == [0, 1, 1, 1])
    }

    @Test func ledgerRecordsEffectiveBitsAndFormats() throws {
        let model = try Zoo.make("mlp", seed: 3)
        var config = QuantConfig()
        config.method = "formats/mxfp4"
        config.params = [:]
        let quantizers = try Quantization.weightQuantizers(model, config: config, registry: try Checkout.registry())
        let records = try Quantization.quantizeWeights(model, with: quantizers).map(\.record)
        // fc1 [300, 784]: 784 = 24.5 blocks -> 25 per row; fc2 [100, 300]: 10 per row (the last of 12);
        // fc3 [10, 100]: 4 per row (the last of 4). One E8M0 byte per block.
        let blocks = [300 * 25, 100 * 10, 10 * 4], elements = [300 * 784, 100 * 300, 10 * 100]
        for (index, record) in records.enumerated() {
            #expect(record.groupSize == 32 && record.elementFormat == "fp4-e2m1" && record.scaleFormat == "e8m0")
            #expect(record.bytes == elements[index] / 2 + blocks[index])
            #expect(record.effectiveBits == 4 + 8 * Double(blocks[index]) / Double(elements[index]))
        }
        #expect(records[0].formatDescription == "minifloat fp4-e2m1 g32 (e8m0 scales)")
        let total = Double(elements.reduce(0, +))
        let bits = try #require(Quantization.bitsPerWeight(records))
        #expect(abs(bits - (4 * total + 8 * Double(blocks.reduce(0, +))) / total) < 1e-12)
        // The sparse-aware cost counts the same parameter bytes as the dense ledger.
        let cost = try QuantizedStorage.cost(of: model, quantized: records)
        #expect(cost.sizeBytes == Quantization.sizeBytes(model, quantized: records).bytes)
    }

    @Test func oldLedgerEntriesDecode() throws {
        let old = #"{"layer":"fc1","kind":"linear","elements":100,"bits":4,"scheme":"symmetric","axis":0,"bytes":90,"fp32Bytes":400}"#
        let layer = try JSONDecoder().decode(LayerQuant.self, from: Data(old.utf8))
        #expect(layer.effectiveBits == 7.2 && layer.groupSize == 0 && layer.elementFormat == "int" && layer.scaleFormat == "fp32")
        let new = LayerQuant(layer: "fc1", kind: "linear", elements: 256, bits: 4, scheme: "symmetric", axis: 0, bytes: 132,
                             fp32Bytes: 1024, effectiveBits: 4.125, groupSize: 128, scaleFormat: "fp16")
        #expect(try JSONDecoder().decode(LayerQuant.self, from: JSONEncoder().encode(new)) == new)
    }
}

/// Where a stage cannot run a format, it says so instead of computing something else.
@Suite("format refusals")
struct FormatRefusalTests {
    /// Real int8 packs per-tensor or per-channel qint8 weights: 8-bit symmetric groups are refused.
    @Test func realInt8RefusesGroupWeights() throws {
        let model = try Zoo.make("mlp")
        let groups = QuantParams(scheme: .symmetric, bits: 8, axis: 0, qmin: -127, qmax: 127,
                                 scales: [Float](repeating: 0.01, count: 300 * 25), groupSize: 32, scaleFormat: .fp16)
        let activation = QuantParams(scheme: .affine, bits: 8, axis: -1, qmin: 0, qmax: 255, scales: [0.1], zeroPoints: [0])
        let layers = ["fc1", "fc2", "fc3"]
        let all = { (q: QuantParams) in Dictionary(uniqueKeysWithValues: layers.map { ($0, q) }) }
        #expect {
            try Int8Model(model, engine: QuantizedEngine.supported[0], weights: all(groups), inputs: all(activation), outputs: all(activation))
        } throws: { error in
            "\(error)".contains("per tensor or per channel") && "\(error)".contains("in groups of 32")
        }
    }

    /// Static activations replay fixed integer ranges (`fakeQuantize`): a minifloat activation
    /// quantizer is refused with the way out (dynamic activations).
    @Test func staticActivationsRefuseMinifloat() throws {
        let (train, test) = try DataSource.fashionMNIST.load(directory: nil, limitTrain: 256, limitTest: 64)
        var config = QuantConfig()
        config.activations = .static
        config.activationMethod = "formats/fp8"
        config.activationParams = ["per_channel": .bool(false)]
        config.calibrationBatches = 1
        #expect {
            _ = try QuantizationStage.run(config, model: try Zoo.make("mlp"), train: train, test: test, recipe: Recipe(), registry: try Checkout.registry())
        } throws: { error in
            "\(error)".contains("static activations need an affine or symmetric activation quantizer") && "\(error)".contains("dynamic")
        }
    }
}
