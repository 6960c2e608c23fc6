import Foundation
import LatheModels
import LatheONNX
import LatheTensor
import Testing

/// Models written in PyTorch (Debian's python3-torch, scripts/torch_models.py), exported with
/// `torch.onnx.export` and imported: Lathe's forward pass must give PyTorch's logits.
@Suite("ONNX import of PyTorch-exported models", .serialized)
struct ImportPyTorchTests {
    /// Exports `names` once per test process into a temporary folder.
    static let exported: Result<URL, any Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-torch-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [ONNXExportTests.root.appendingPathComponent("scripts/torch_models.py").path, dir.path, "resnet20", "mobilenetv2", "mlp", "vit"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ONNXImportError(path: "scripts/torch_models.py", problems: ["python3-torch export failed (scripts/bootstrap.sh installs python3-torch): \(stderr)"])
        }
        return dir
    }

    static func floats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) } }
    }

    /// The imported model and PyTorch's (input, logits).
    static func load(_ name: String) throws -> (Model, Tensor, [Float], ImportedGraph) {
        let dir = try exported.get()
        let graph = try ONNXImporter.read(dir.appendingPathComponent("\(name).onnx").path)
        let x = try Tensor(try floats(dir.appendingPathComponent("\(name).input.bin")), shape: [4, 1, 28, 28])
        return (try graph.model(), x, try floats(dir.appendingPathComponent("\(name).output.bin")), graph)
    }

    static func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test("forward outputs equal PyTorch's within 1e-4", arguments: ["resnet20", "mobilenetv2", "mlp", "vit"])
    func outputsMatch(_ name: String) throws {
        let (model, x, expected, _) = try Self.load(name)
        let y = try model.predict(x)
        #expect(y.shape == [4, 10])
        let got = try y.contiguous().scalars(as: Float.self)
        #expect(got.count == expected.count)
        #expect(Self.largestDifference(got, expected) < 1e-4, "\(name): largest difference \(Self.largestDifference(got, expected))")
    }

    @Test("ResNet-20's dependency groups are derived from its residual adds")
    func resnetGroups() throws {
        let (model, _, _, graph) = try Self.load("resnet20")
        let groups = model.channelGroups
        // Each block's inner conv is its own group, coupled to its batch norm, read by conv2.
        let inner = try #require(groups.first { $0.producer == "layer2.1.conv1" })
        #expect(inner.coupled == ["layer2.1.bn1"])
        #expect(inner.consumers.map(\.layer) == ["layer2.1.conv2"])
        // Stage 1's residual stream ties the stem conv with every block's conv2 (identity shortcuts).
        let stream = try #require(groups.first { $0.producer == "conv1" })
        #expect(Set(stream.coupled) == ["bn1", "layer1.0.conv2", "layer1.0.bn2", "layer1.1.conv2", "layer1.1.bn2", "layer1.2.conv2", "layer1.2.bn2"])
        #expect(Set(stream.consumers.map(\.layer)) == ["layer1.0.conv1", "layer1.1.conv1", "layer1.2.conv1", "layer2.0.conv1", "layer2.0.shortcut.0"])
        // The last stage's stream feeds the classifier through global pooling: one input per channel.
        let last = try #require(groups.first { $0.producer == "layer3.0.shortcut.0" })
        #expect(last.consumers.contains(.init(layer: "fc", inputsPerChannel: 1)))
        #expect(groups.count == 9 + 3)
        #expect(graph.dependencies.blocked.map(\.producers) == [["fc"]])
        #expect(graph.dependencies.couplings.count == 9)
    }

    @Test("MobileNetV2: depthwise convs are coupled to the expansion conv that feeds them")
    func mobilenetGroups() throws {
        let (model, _, _, _) = try Self.load("mobilenetv2")
        let expand = try #require(model.channelGroups.first { $0.producer == "blocks.1.block.0" })
        #expect(expand.coupled == ["blocks.1.block.3"])
        #expect(expand.consumers.map(\.layer) == ["blocks.1.block.6"])
    }

    @Test("MLP: flatten then linear layers, each hidden layer a group")
    func mlpGroups() throws {
        let (model, _, _, _) = try Self.load("mlp")
        #expect(model.channelGroups.map(\.producer) == ["fc1", "fc2"])
    }
}
