import Foundation
import LatheModels
import LatheONNX
import LatheTensor
import Testing

/// Exported graphs run in a real runtime: ONNX Runtime (PyPI `onnxruntime`, in the `.venv` that
/// scripts/bootstrap.sh makes) must compute Lathe's logits.
@Suite("ONNX export, checked in ONNX Runtime")
struct ONNXExportTests {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    /// Logits of `model.onnx` on `x` from ONNX Runtime (scripts/ort_run.py), as a Lathe tensor.
    static func runtimeLogits(_ path: String, _ x: Tensor) throws -> Tensor {
        let python = root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "\(python) is missing: run scripts/bootstrap.sh, which installs onnxruntime into .venv")
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var bytes = Data()
        for v in try x.contiguous().scalars(as: Float.self) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        try bytes.write(to: URL(fileURLWithPath: "\(dir)/input.f32"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [root.appendingPathComponent("scripts/ort_run.py").path, path, "\(dir)/input.f32",
                       x.shape.map(String.init).joined(separator: ","), "\(dir)/output.f32"]
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError) = (out, err)
        try p.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "ort_run.py failed: \(stderr)")
        let shapeLine = try #require(stdout.split(separator: "\n").first { $0.hasPrefix("shape: ") })
        let shape = shapeLine.dropFirst(7).split(separator: ",").compactMap { Int($0) }
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/output.f32"))
        let values = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        return try Tensor(values, shape: shape)
    }

    /// A model with trained-looking state: batch-norm running statistics moved off 0 and 1 by a
    /// few training-mode passes.
    static func model(_ name: String, seed: UInt64) throws -> Model {
        let model = try Zoo.make(name, options: ModelOptions(), seed: seed)
        let generator = try RandomGenerator(seed: seed)
        for _ in 0..<3 { _ = try withNoGrad { try model.forward(try Tensor.randn([8, 1, 28, 28], generator: generator) * 2 + 0.5, ForwardContext(training: true)) } }
        return model
    }

    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Exports `model`, runs it in ONNX Runtime on 5 images and returns the largest logit
    /// difference relative to the largest logit.
    static func relativeDifference(_ model: Model, seed: UInt64) throws -> Double {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/model.onnx"
        try ONNXModelFile.write(try ONNXExporter.export(model, metadata: ["lathe.test": "export"]), to: URL(fileURLWithPath: path))
        let x = try Tensor.randn([5, 1, 28, 28], generator: try RandomGenerator(seed: seed + 100))
        let expected = try model.predict(x)
        let actual = try runtimeLogits(path, x)
        #expect(actual.shape == expected.shape)
        let scale: Double = try expected.abs().max().item()
        let difference: Double = try (actual - expected).abs().max().item()
        return difference / Swift.max(scale, 1e-6)
    }

    @Test(arguments: ["mlp", "lenet5", "convnet", "resnet8", "mobilenet", "vit-tiny"])
    func everyZooModelComputesTheSameLogitsInONNXRuntime(name: String) throws {
        #expect(try Self.relativeDifference(try Self.model(name, seed: 3), seed: 3) < 1e-4)
    }

    /// A factorized conv and linear layer export as their pairs; explicit input scales as a Mul.
    @Test func factorizedLayersAndExplicitInputScalesExport() throws {
        let model = try Self.model("convnet", seed: 4)
        let generator = try RandomGenerator(seed: 5)
        try model.factorize("conv2", a: try Tensor.randn([64, 8], generator: generator) * 0.1, b: try Tensor.randn([8, 288], generator: generator) * 0.1)
        let fc1 = try #require(model.layer(named: "fc1") as? Linear)
        try fc1.replace("input_scale", with: try Tensor.uniform([fc1.inFeatures], low: 0.5, high: 1.5, generator: generator))
        let exported = try ONNXExporter.export(model)
        #expect(exported.graph.node.contains { $0.name == "conv2.0" } && exported.graph.node.contains { $0.name == "conv2.1" })
        #expect(exported.graph.node.contains { $0.opType == "Mul" && $0.name == "fc1.scaled" })
        #expect(try Self.relativeDifference(model, seed: 4) < 1e-4)
    }

    @Test func theModelCarriesItsProvenanceAndSymbolicBatch() throws {
        let model = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 1)
        let exported = try ONNXExporter.export(model, metadata: ["lathe.method": "prune/magnitude"])
        let props = Dictionary(uniqueKeysWithValues: exported.metadataProps.map { ($0.key, $0.value) })
        #expect(props["lathe.method"] == "prune/magnitude" && props["lathe.architecture"] == "mlp")
        #expect(exported.opsetImport.first?.version == ONNXExporter.opset)
        #expect(exported.graph.input.first?.type.tensorType.shape.dim.first?.dimParam == "N")
        #expect(exported.graph.output.first?.type.tensorType.shape.dim.last?.dimValue == 10)
    }
}
