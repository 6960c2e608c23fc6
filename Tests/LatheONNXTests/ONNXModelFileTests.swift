import Foundation
import LatheONNX
import SwiftProtobuf
import Testing

@Suite struct ONNXModelFileTests {
    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A float tensor of shape [batch, 4].
    func tensorInfo(_ name: String) -> Onnx_ValueInfoProto {
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "batch"
        var width = Onnx_TensorShapeProto.Dimension()
        width.dimValue = 4
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape.dim = [batch, width]
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensor
        return info
    }

    /// y = Relu(x): IR version 10, default-domain opset 22.
    func reluModel() -> Onnx_ModelProto {
        var node = Onnx_NodeProto()
        node.name = "relu0"
        node.opType = "Relu"
        node.input = ["x"]
        node.output = ["y"]
        var graph = Onnx_GraphProto()
        graph.name = "relu"
        graph.node = [node]
        graph.input = [tensorInfo("x")]
        graph.output = [tensorInfo("y")]
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = 22
        var model = Onnx_ModelProto()
        model.irVersion = ONNXModelFile.schemaIRVersion
        model.producerName = "lathe-tests"
        model.producerVersion = "0"
        model.opsetImport = [opset]
        model.graph = graph
        return model
    }

    /// Reads `url`, expecting an `ONNXModelFileError` of one of `kinds` that names the file.
    func expectRefused(_ url: URL, _ kinds: Set<ONNXModelFileError.Kind>, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let model = try ONNXModelFile.read(contentsOf: url)
            Issue.record("read \(url.lastPathComponent) as a model: \(model)", sourceLocation: sourceLocation)
        } catch let error as ONNXModelFileError {
            #expect(kinds.contains(error.kind), "\(error)", sourceLocation: sourceLocation)
            #expect(error.path == url.path, sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(url.path + ": "), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func writesReadsBackAndRefusesWhatIsNoModel() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }

        // Round trip through a file.
        let model = reluModel()
        let file = dir.appendingPathComponent("relu.onnx")
        try ONNXModelFile.write(model, to: file)
        let back = try ONNXModelFile.read(contentsOf: file)
        #expect(back == model)
        #expect(back.irVersion == 10)
        #expect(back.opsetImport.map(\.version) == [22])
        #expect(back.graph.node.map(\.opType) == ["Relu"])
        #expect(back.graph.node.first?.input == ["x"])
        #expect(back.graph.node.first?.output == ["y"])
        #expect(back.graph.input.first?.type.tensorType.shape.dim.map(\.dimParam) == ["batch", ""])
        #expect(back.graph.output.first?.type.tensorType.shape.dim.map(\.dimValue) == [0, 4])
        #expect(try ONNXModelFile.encode(back) == Data(contentsOf: file))

        // Every strict prefix of the file is refused, never a crash: cut inside a field it is no
        // protobuf; cut between fields it lacks the opset_import (the last field written).
        let bytes = try Data(contentsOf: file)
        let cut = dir.appendingPathComponent("cut.onnx")
        for length in [1, bytes.count / 2, bytes.count - 1] {
            try bytes.prefix(length).write(to: cut)
            expectRefused(cut, [.notProtobuf])
        }
        for length in 0..<bytes.count {
            #expect(throws: ONNXModelFileError.self) { try ONNXModelFile.decode(bytes.prefix(length)) }
        }

        // Other files: text, pseudo-random bytes (fixed seed), empty, missing, a folder.
        let text = dir.appendingPathComponent("notes.txt")
        try Data("This is a text file, not an ONNX model.\n".utf8).write(to: text)
        expectRefused(text, [.notProtobuf])
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = Data((0..<4096).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        })
        let random = dir.appendingPathComponent("random.onnx")
        try noise.write(to: random)
        expectRefused(random, [.notProtobuf, .notAModel])
        let empty = dir.appendingPathComponent("empty.onnx")
        try Data().write(to: empty)
        expectRefused(empty, [.notProtobuf])
        expectRefused(dir.appendingPathComponent("missing.onnx"), [.unreadable])
        expectRefused(dir, [.unreadable])

        // Valid protobuf that is not a model: an OperatorSetIdProto (fields 1 and 2).
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = "ai.onnx"
        opset.version = 22
        let other = dir.appendingPathComponent("opset.pb")
        let opsetBytes: Data = try opset.serializedBytes()
        try opsetBytes.write(to: other)
        expectRefused(other, [.notAModel])

        // Writing refuses a model that reading would refuse, and leaves no file.
        var noOpset = model
        noOpset.opsetImport = []
        let refused = dir.appendingPathComponent("refused.onnx")
        #expect(throws: ONNXModelFileError.self) { try ONNXModelFile.write(noOpset, to: refused) }
        #expect(!FileManager.default.fileExists(atPath: refused.path))
    }
}
