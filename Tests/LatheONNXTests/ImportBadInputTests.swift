import Foundation
import LatheModels
import LatheONNX
import LatheTensor
import LatheData
import Testing

/// Bad ONNX files are refused with an error naming the node or field; mutated files never crash.
@Suite("ONNX import: bad input and fuzzing", .serialized)
struct ImportBadInputTests {
    /// A small exported model (mlp on 16×16 inputs, 5% width): quick to decode thousands of times.
    static func smallModel() throws -> Onnx_ModelProto {
        try ONNXExporter.export(try Zoo.make("mlp", options: ModelOptions(imageSize: 16, width: 0.05), seed: 1))
    }

    func expectImportError(_ model: Onnx_ModelProto, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ONNXImporter.convert(model, path: "bad.onnx")
            Issue.record("imported a bad model", sourceLocation: sourceLocation)
        } catch let error as ONNXImportError {
            let text = error.description
            #expect(text.hasPrefix("bad.onnx: "), sourceLocation: sourceLocation)
            for word in words { #expect(text.contains(word), "'\(text)' does not mention '\(word)'", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func unsupportedOperatorsAreAllListedWithTheirNodes() throws {
        var m = try Self.smallModel()
        let relus = m.graph.node.indices.filter { m.graph.node[$0].opType == "Relu" }
        try #require(relus.count == 2)
        m.graph.node[relus[0]].opType = "LeakyRelu"
        m.graph.node[relus[1]].opType = "Selu"
        expectImportError(m, mentioning: ["LeakyRelu", "Selu", "'\(m.graph.node[relus[0]].name)'", "'\(m.graph.node[relus[1]].name)'", "Lathe imports:"])
    }

    @Test func aSymbolicChannelDimensionIsRefused() throws {
        var m = try Self.smallModel()
        m.graph.input[0].type.tensorType.shape.dim[1].dimParam = "C"
        expectImportError(m, mentioning: ["graph input 'input'", "dimension 1", "symbolic 'C'"])
    }

    @Test func anInitializerWhoseDataDisagreesWithItsDimsIsNamed() throws {
        var m = try Self.smallModel()
        let i = try #require(m.graph.initializer.firstIndex { $0.name == "fc1.weight" })
        m.graph.initializer[i].dims[0] += 1
        expectImportError(m, mentioning: ["initializer 'fc1.weight'", "holds"])
    }

    @Test func aCycleIsRefusedNamingANode() throws {
        var m = try Self.smallModel()
        let last = try #require(m.graph.node.last?.output.first)
        m.graph.node[0].input[0] = last
        expectImportError(m, mentioning: ["cycle", "'\(m.graph.node[0].name)'"])
    }

    @Test func aMissingValueAndAWrongOpsetAreNamed() throws {
        var m = try Self.smallModel()
        m.graph.node[1].input[0] = "nowhere"
        expectImportError(m, mentioning: ["'\(m.graph.node[1].name)'", "'nowhere'"])
        var old = try Self.smallModel()
        old.opsetImport[0].version = 9
        expectImportError(old, mentioning: ["opset_import", "11...21"])
    }

    @Test func truncatedAndForeignFilesAreRefusedByTheReader() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-import-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = try ONNXModelFile.encode(try Self.smallModel())
        let truncated = dir.appendingPathComponent("truncated.onnx"), text = dir.appendingPathComponent("text.onnx")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        try Data("this is not a model\n".utf8).write(to: text)
        for url in [truncated, text] {
            #expect(throws: ONNXModelFileError.self) { _ = try ONNXImporter.read(url.path) }
        }
    }

    /// ≥ 10,000 mutated copies (byte flips, truncations, insertions, and structural edits of
    /// nodes, attributes and initializers), seeded: each either imports and runs, or throws.
    @Test(.timeLimit(.minutes(10)))
    func fuzzedModelsNeverCrash() throws {
        let base = try Self.smallModel()
        let bytes = [UInt8](try ONNXModelFile.encode(base))
        var rng = SeededGenerator(seed: 2026)
        var imported = 0, refused = 0
        let ops = ["Relu", "Conv", "Gemm", "MatMul", "Add", "Reshape", "Flatten", "Concat", "Softmax", "Transpose", "Gather", "Expand",
                   "Slice", "MaxPool", "BatchNormalization", "LayerNormalization", "Shape", "Unsqueeze", "Squeeze", "Where", "Nope"]
        for round in 0..<10_000 {
            var model: Onnx_ModelProto
            if round % 2 == 0 {
                var b = bytes
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(b.count))
                    switch rng.next() % 3 {
                    case 0: b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                    case 1: b = Array(b.prefix(i))
                    default: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                    }
                    if b.isEmpty { break }
                }
                guard let decoded = try? ONNXModelFile.decode(Data(b), source: "fuzz") else { refused += 1; continue }
                model = decoded
            } else {
                model = base
                var g = model.graph
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let n = Int(rng.next() % UInt64(max(g.node.count, 1)))
                    switch rng.next() % 6 {
                    case 0 where !g.node.isEmpty: g.node[n].opType = ops[Int(rng.next() % UInt64(ops.count))]
                    case 1 where !g.node.isEmpty && !g.node[n].input.isEmpty:
                        g.node[n].input[Int(rng.next() % UInt64(g.node[n].input.count))] = g.node[Int(rng.next() % UInt64(g.node.count))].output.first ?? ""
                    case 2 where !g.node.isEmpty: g.node.remove(at: n)
                    case 3 where !g.initializer.isEmpty:
                        let k = Int(rng.next() % UInt64(g.initializer.count))
                        if !g.initializer[k].dims.isEmpty { g.initializer[k].dims[0] = Int64(rng.next() % 40) - 4 }
                    case 4 where !g.node.isEmpty:
                        var a = Onnx_AttributeProto()
                        a.name = ["axis", "perm", "kernel_shape", "strides", "pads", "group", "transB"][Int(rng.next() % 7)]
                        a.i = Int64(rng.next() % 9) - 3
                        a.ints = (0..<Int(rng.next() % 5)).map { _ in Int64(rng.next() % 9) - 3 }
                        g.node[n].attribute.append(a)
                    default:
                        if !g.input.isEmpty, !g.input[0].type.tensorType.shape.dim.isEmpty {
                            let d = Int(rng.next() % UInt64(g.input[0].type.tensorType.shape.dim.count))
                            g.input[0].type.tensorType.shape.dim[d].dimValue = Int64(rng.next() % 40) - 4
                        }
                    }
                }
                model.graph = g
            }
            do {
                let graph = try ONNXImporter.convert(model, path: "fuzz.onnx")
                let m = try graph.model()
                let o = m.options
                _ = try m.predict(try Tensor.zeros([2, o.inputChannels, o.imageSize, o.imageSize]))
                imported += 1
            } catch {
                refused += 1
            }
        }
        #expect(imported + refused == 10_000)
        // Both outcomes occur: the mutations reach the importer, and some survive it.
        #expect(imported > 0)
        #expect(refused > 1000)
    }
}
