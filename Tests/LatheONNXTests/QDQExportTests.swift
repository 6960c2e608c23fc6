import Foundation
@testable import LatheONNX
import LatheModels
import LatheTensor
import Testing

/// QDQ export (int8 weights, quantize/dequantize pairs on activations): the graph's structure,
/// ONNX Runtime computing what the fake-quantized simulation computes with its integer kernels,
/// the saturation rule behind 7-bit input codes checked against ONNX Runtime on this CPU, and
/// the errors.
@Suite("ONNX QDQ export")
struct QDQExportTests {
    /// Puts every conv and linear weight of `model` on a symmetric `bits` grid (codes
    /// ±(2^(bits-1) - 1)) per output channel, or per group of `groupSize` along each row, and
    /// returns the grids.
    static func quantizeWeights(_ model: Model, bits: Int = 8, groupSize: Int = 0) throws -> [String: QDQWeight] {
        let qmax = (1 << (bits - 1)) - 1
        var grids: [String: QDQWeight] = [:]
        for layer in model.layers where layer is Conv2d || layer is Linear {
            let weight = try #require(layer.ownParameters.first { $0.0 == "weight" }?.1)
            let values = try weight.detached().contiguous().scalars(as: Float.self)
            let rows = weight.shape[0], row = values.count / rows, group = groupSize > 0 ? groupSize : row
            var scales: [Float] = [], grid: [Float] = []
            for r in 0..<rows {
                for start in stride(from: r * row, to: (r + 1) * row, by: group) {
                    let slice = values[start..<Swift.min(start + group, (r + 1) * row)]
                    let scale = Swift.max(slice.map { Swift.abs($0) }.max() ?? 0, 1e-8) / Float(qmax)
                    scales.append(scale)
                    grid += slice.map { ($0 / scale).rounded() * scale }
                }
            }
            try layer.replace("weight", with: try Tensor(grid, shape: weight.shape))
            grids[layer.name] = QDQWeight(scales: scales, qmin: -qmax, qmax: qmax, bits: bits, groupSize: groupSize)
        }
        return grids
    }

    /// Per-tensor uint8 parameters of each layer's input and output calibrated (min/max) on `x`.
    static func calibrate(_ model: Model, _ x: Tensor, inputQMax: Int) throws -> [String: (input: QDQActivation, output: QDQActivation)] {
        final class Ranges { var seen: [String: (Float, Float)] = [:] }
        let ranges = Ranges(), context = ForwardContext(training: false)
        func observe(_ key: String) -> (Tensor) throws -> Tensor {
            { t in
                let v = try t.contiguous().scalars(as: Float.self)
                let (lo, hi) = ranges.seen[key] ?? (0, 0)
                ranges.seen[key] = (Swift.min(lo, v.min() ?? 0), Swift.max(hi, v.max() ?? 0))
                return t
            }
        }
        let names = model.layers.filter { $0 is Conv2d || $0 is Linear }.map(\.name)
        for name in names {
            context.inputTransforms[name] = observe("\(name).in")
            context.outputTransforms[name] = observe("\(name).out")
        }
        _ = try withNoGrad { try model.forward(x, context) }
        func params(_ key: String, qmax: Int) throws -> QDQActivation {
            let (lo, hi) = try #require(ranges.seen[key])
            let scale = Swift.max(hi - lo, 1e-6) / 255
            // The 8-bit range spread over codes [0, qmax], as Int8Model.activationParams does.
            let reduced = scale * 255 / Float(qmax)
            return QDQActivation(scale: reduced, zeroPoint: Int((-lo / reduced).rounded()), qmax: qmax)
        }
        return Dictionary(uniqueKeysWithValues: try names.map { ($0, (try params("\($0).in", qmax: inputQMax), try params("\($0).out", qmax: 255))) })
    }

    /// Lathe's fake-quantized simulation of the QDQ layers: codes clamp(round(x / s) + z, 0, qmax).
    static func simulate(_ model: Model, _ layers: [String: QDQLayer], _ x: Tensor) throws -> Tensor {
        let context = ForwardContext(training: false)
        func fake(_ a: QDQActivation) -> (Tensor) throws -> Tensor {
            { t in try ((t / Double(a.scale)).rounded() + Double(a.zeroPoint)).clamped(0, Double(a.qmax)) * Double(a.scale) - Double(a.zeroPoint) * Double(a.scale) }
        }
        for (name, q) in layers {
            if let i = q.input { context.inputTransforms[name] = fake(i) }
            if let o = q.output { context.outputTransforms[name] = fake(o) }
        }
        return try withNoGrad { try model.forward(x, context) }
    }

    /// A zoo model with grid weights and calibrated activations, exported in QDQ form.
    static func quantizedExport(_ name: String, inputQMax: Int, seed: UInt64, bits: Int = 8, groupSize: Int = 0) throws
        -> (Model, [String: QDQLayer], Onnx_ModelProto, Tensor)
    {
        let model = try ONNXExportTests.model(name, seed: seed)
        let grids = try quantizeWeights(model, bits: bits, groupSize: groupSize)
        let generator = try RandomGenerator(seed: seed + 1)
        let x = try Tensor.randn([64, 1, 28, 28], generator: generator)
        let ranges = try calibrate(model, x, inputQMax: inputQMax)
        var layers: [String: QDQLayer] = [:]
        for (layer, grid) in grids {
            let r = try #require(ranges[layer])
            layers[layer] = QDQLayer(weight: grid, input: r.input, output: r.output)
        }
        return (model, layers, try ONNXExporter.export(model, quantization: layers), x)
    }

    @Test func weightsAreInt8InitializersBehindPerChannelDequantizeAndActivationsArePairedOnEachLayer() throws {
        let (_, layers, exported, _) = try Self.quantizedExport("lenet5", inputQMax: 127, seed: 3)
        let g = exported.graph
        let initializers = Dictionary(uniqueKeysWithValues: g.initializer.map { ($0.name, $0) })
        let producer = Dictionary(g.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        let int8 = Int32(Onnx_TensorProto.DataType.int8.rawValue), uint8 = Int32(Onnx_TensorProto.DataType.uint8.rawValue)
        let int32 = Int32(Onnx_TensorProto.DataType.int32.rawValue)
        #expect(!g.initializer.contains { $0.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue) && $0.name.hasSuffix(".weight") },
                "no float weight may remain")
        let compute = g.node.filter { $0.opType == "Conv" || $0.opType == "Gemm" }
        #expect(compute.count == layers.count && compute.count == 5)
        for node in compute {
            let layer = node.name
            let q = try #require(layers[layer], "\(layer)")
            // Input: Clip (7-bit codes) -> QuantizeLinear (uint8) -> DequantizeLinear -> the layer.
            let inputDQ = try #require(producer[node.input[0]])
            #expect(inputDQ.opType == "DequantizeLinear")
            let inputQ = try #require(producer[inputDQ.input[0]])
            #expect(inputQ.opType == "QuantizeLinear" && initializers[inputQ.input[2]]?.dataType == uint8)
            #expect(initializers[inputQ.input[2]]?.rawData == Data([UInt8(q.input?.zeroPoint ?? -1)]))
            #expect(producer[inputQ.input[0]]?.opType == "Clip", "7-bit input codes need the clip to [0, 127] codes")
            // Weight: int8 codes of the weight's shape, float scales per output channel, int8 zero points, axis 0.
            let weightDQ = try #require(producer[node.input[1]])
            #expect(weightDQ.opType == "DequantizeLinear")
            #expect(weightDQ.attribute.first { $0.name == "axis" }?.i == 0)
            let codes = try #require(initializers[weightDQ.input[0]])
            #expect(codes.dataType == int8 && codes.dims.first == Int64(q.weight.scales.count))
            #expect(codes.rawData.map { Int8(bitPattern: $0) }.allSatisfy { (-127...127).contains($0) })
            #expect(codes.rawData.contains { Int8(bitPattern: $0) == 127 || Int8(bitPattern: $0) == -127 }, "each row's max maps to ±127")
            #expect(initializers[weightDQ.input[1]]?.dims == [Int64(q.weight.scales.count)])
            #expect(initializers[weightDQ.input[2]]?.dataType == int8)
            // Bias: int32 codes at input scale × weight scale.
            let biasDQ = try #require(producer[node.input[2]])
            #expect(biasDQ.opType == "DequantizeLinear" && initializers[biasDQ.input[0]]?.dataType == int32)
            // Output: QuantizeLinear -> DequantizeLinear with the output parameters; a conv's max
            // pooling moved onto the codes in between (the convs are followed by ReLU and pooling).
            let outputQ = try #require(g.node.first { $0.input.first == node.output[0] })
            #expect(outputQ.opType == "QuantizeLinear" && initializers[outputQ.input[2]]?.rawData == Data([UInt8(q.output?.zeroPoint ?? -1)]))
            let after = try #require(g.node.first { $0.input.first == outputQ.output[0] })
            if node.opType == "Conv" {
                #expect(after.opType == "MaxPool", "\(layer): \(after.opType) after the output codes")
                let dq = try #require(g.node.first { $0.input.first == after.output[0] })
                #expect(dq.opType == "DequantizeLinear" && dq.input[1] == outputQ.input[1] && dq.input[2] == outputQ.input[2])
                #expect(g.node.first { $0.input.first == dq.output[0] }?.opType == "Relu")
            } else {
                #expect(after.opType == "DequantizeLinear" && after.input[1] == outputQ.input[1])
            }
        }
        #expect(ONNXExporter.opset == 17)
    }

    @Test(arguments: ["mlp", "lenet5"])
    func onnxRuntimeRunsIntegerKernelsThatComputeTheSimulation(name: String) throws {
        let qmax = QDQActivation.runtimeInputQMax().qmax
        let (model, layers, exported, x) = try Self.quantizedExport(name, inputQMax: qmax, seed: 5)
        let dir = try ONNXExportTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/\(name)-qdq.onnx"
        try ONNXModelFile.write(exported, to: URL(fileURLWithPath: path))
        let ort = try ONNXExportTests.runtimeLogits(path, x)
        let lathe = try Self.simulate(model, layers, x)
        let (a, b) = (try lathe.scalars(as: Float.self), try ort.scalars(as: Float.self))
        try #require(a.count == b.count)
        let largest = a.map { Swift.abs($0) }.max() ?? 1
        let difference = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 0.05 * largest, "largest logit difference \(difference) of \(largest)")
        // The logits are output codes: where the simulation has two classes tied or one code
        // apart, ONNX Runtime's integer rounding may break the tie the other way (2 of 64 on
        // lenet5 with 8-bit input codes on a VNNI CPU, none with 7-bit ones). So: nearly every
        // prediction agrees, and each that does not is such a near-tie in the simulation, its
        // margin within the largest logit difference measured above.
        let argmax = { (v: [Float], i: Int) in (0..<10).max { v[i * 10 + $0] < v[i * 10 + $1] } ?? 0 }
        let disagree = (0..<64).filter { argmax(a, $0) != argmax(b, $0) }
        #expect(disagree.count <= 3, "\(64 - disagree.count) of 64 predictions agree")
        for i in disagree {
            let margin = a[i * 10 + argmax(a, i)] - a[i * 10 + argmax(b, i)]
            #expect(margin <= difference * 1.0001, "sample \(i): ONNX Runtime's class trails Lathe's top-1 by \(margin), more than the largest difference \(difference)")
        }
        // ONNX Runtime fused the pairs into integer kernels: no float Conv or Gemm ran.
        let kernels = try Self.kernels(path, dir: dir)
        let integer = (kernels["QLinearConv"] ?? 0) + (kernels["QGemm"] ?? 0) + (kernels["QLinearMatMul"] ?? 0)
        #expect(integer == layers.count, "kernels that ran: \(kernels)")
        #expect(kernels["Conv"] == nil && kernels["Gemm"] == nil && kernels["FusedConv"] == nil && kernels["FusedGemm"] == nil, "\(kernels)")
    }

    /// 4-bit weights as int4 (opset 21, IR 10): per channel on mlp, in groups of 16 along the
    /// rows on lenet5 (blocked DequantizeLinear, reshaped back for the convs); ONNX Runtime
    /// dequantizes them for float kernels and computes the simulation.
    @Test(arguments: [("mlp", 0), ("lenet5", 16)])
    func fourBitWeightsExportAsInt4AtOpset21(name: String, groupSize: Int) throws {
        let qmax = QDQActivation.runtimeInputQMax().qmax
        let (model, layers, exported, x) = try Self.quantizedExport(name, inputQMax: qmax, seed: 9, bits: 4, groupSize: groupSize)
        #expect(exported.opsetImport.first?.version == 21 && exported.irVersion == 10)
        let int4 = Int32(Onnx_TensorProto.DataType.int4.rawValue)
        let codes = exported.graph.initializer.filter { $0.name.hasSuffix(".weight_quantized") }
        #expect(codes.count == layers.count && codes.allSatisfy { $0.dataType == int4 })
        let blocked = exported.graph.node.filter { $0.opType == "DequantizeLinear" && $0.attribute.contains { $0.name == "block_size" } }
        #expect(blocked.count == (groupSize > 0 ? layers.count : 0))
        #expect(blocked.allSatisfy { $0.attribute.first { $0.name == "block_size" }?.i == Int64(groupSize) })
        let dir = try ONNXExportTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/\(name)-int4.onnx"
        try ONNXModelFile.write(exported, to: URL(fileURLWithPath: path))
        let (a, b) = (try Self.simulate(model, layers, x).scalars(as: Float.self), try ONNXExportTests.runtimeLogits(path, x).scalars(as: Float.self))
        let largest = a.map { Swift.abs($0) }.max() ?? 1
        let difference = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 0.05 * largest, "largest logit difference \(difference) of \(largest)")
    }

    /// Operator types ONNX Runtime ran for the model (scripts/ort_bench.py's one-run profile).
    static func kernels(_ path: String, dir: String) throws -> [String: Int] {
        let python = ONNXExportTests.root.appendingPathComponent(".venv/bin/python").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [ONNXExportTests.root.appendingPathComponent("scripts/ort_bench.py").path, "m=\(path)", "--batches", "1", "--runs", "1",
                       "--warmup", "0", "--json", "\(dir)/bench.json"]
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "ort_bench.py failed: \(stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/bench.json"))) as? [String: Any]
        let model = (json?["models"] as? [String: Any])?["m"] as? [String: Any]
        return try #require(model?["kernels"] as? [String: Int])
    }

    /// One Gemm of 64 inputs in QDQ form whose every product is code × 127: with input codes 255
    /// (x = 1.0) each product pair overflows 16 bits; with 7-bit codes (x = 127/255) none does.
    static func probe(inputQMax: Int) throws -> Onnx_ModelProto {
        var g = GraphBuilder()
        let x = g.quantizeDequantize("input", QDQActivation(scale: 1.0 / 255, zeroPoint: 0, qmax: inputQMax), name: "x")
        let w = g.node("DequantizeLinear", [g.int8s("w", [Int8](repeating: 127, count: 64), shape: [1, 64]), g.floats("w_scale", [1.0 / 127], shape: []),
                                            g.int8s("w_zero", [0], shape: [])], name: "w_dq")
        let y = g.node("Gemm", [x, w], name: "gemm", attributes: [GraphBuilder.int("transB", 1)])
        let out = g.quantizeDequantize(y, QDQActivation(scale: 0.5, zeroPoint: 0), name: "y")
        var graph = Onnx_GraphProto()
        graph.name = "saturation-probe"
        graph.node = g.nodes
        graph.initializer = g.initializers
        graph.input = [ONNXExporter.valueInfo("input", dims: [.symbolic("N"), .fixed(64)])]
        graph.output = [ONNXExporter.valueInfo(out, dims: [.symbolic("N"), .fixed(1)])]
        var m = Onnx_ModelProto()
        m.irVersion = ONNXExporter.irVersion
        m.graph = graph
        var opset = Onnx_OperatorSetIdProto()
        opset.version = ONNXExporter.opset
        m.opsetImport = [opset]
        return m
    }

    /// The rule that picks 7-bit input codes (`runtimeInputQMax`) agrees with ONNX Runtime on
    /// this CPU: 8-bit codes are exact exactly when the rule allows them, 7-bit codes always.
    @Test func sevenBitInputCodesAreChosenExactlyWhereONNXRuntimeSaturatesEightBitOnes() throws {
        let dir = try ONNXExportTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var results: [Int: Float] = [:]
        for qmax in [255, 127] {
            let path = "\(dir)/probe-\(qmax).onnx"
            try ONNXModelFile.write(try Self.probe(inputQMax: qmax), to: URL(fileURLWithPath: path))
            let y = try ONNXExportTests.runtimeLogits(path, try Tensor.ones([4, 64]))
            let values = try y.scalars(as: Float.self)
            #expect(Set(values).count == 1, "\(values)")
            results[qmax] = values.first
        }
        // 64 products of 1.0 × 1.0 (codes 255 × 127); saturated pairs give about half.
        let full = try #require(results[255]), reduced = try #require(results[127])
        #expect(Swift.abs(reduced - 64 * 127 / 255) <= 0.5, "7-bit codes: \(reduced)")
        let exact = Swift.abs(full - 64) <= 0.5
        let rule = QDQActivation.runtimeInputQMax()
        #expect(exact == (rule.qmax == 255), "ONNX Runtime gives \(full) for 64 (\(exact ? "exact" : "saturated")); the rule says \(rule.reason)")
    }

    @Test func aWeightOffItsGridOrAnUnknownLayerIsRefusedNamingTheLayer() throws {
        let model = try ONNXExportTests.model("mlp", seed: 7)
        var grids = try Self.quantizeWeights(model)
        let layer = try #require(grids.keys.sorted().first)
        // Scales 2.5 times the grid's: the weights fall between codes.
        var wrong = try #require(grids[layer])
        wrong.scales = wrong.scales.map { $0 * 2.5 }
        var layers = grids.mapValues { QDQLayer(weight: $0) }
        layers[layer] = QDQLayer(weight: wrong)
        #expect { try ONNXExporter.export(model, quantization: layers) } throws: { error in
            let e = error as? ONNXExportError
            return e?.layer == layer && e?.description.contains("grid") == true
        }
        grids["classifier.99"] = grids[layer]
        #expect { try ONNXExporter.export(model, quantization: grids.mapValues { QDQLayer(weight: $0) }) } throws: { error in
            (error as? ONNXExportError)?.layer == "classifier.99"
        }
        // Weight-only: int8 weights, float activations, no QuantizeLinear.
        let weightOnly = try ONNXExporter.export(model, quantization: try Self.quantizeWeights(model).mapValues { QDQLayer(weight: $0) })
        #expect(!weightOnly.graph.node.contains { $0.opType == "QuantizeLinear" })
        #expect(weightOnly.graph.node.filter { $0.opType == "DequantizeLinear" }.count == 3)
    }
}
