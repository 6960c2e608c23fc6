import Foundation
import LatheTestSupport
import Testing

/// `lathe quantize` records what a QDQ export needs, and `lathe export --qdq --verify` runs the
/// int8 model in ONNX Runtime within 0.2 point of Lathe's simulated int8 accuracy; checkpoints
/// it cannot export are refused naming what is supported. Real child processes throughout.
@Suite("lathe export --qdq", .serialized)
struct QDQExportCommandTests {
    /// The string metadata of a safetensors file (its JSON header's `__metadata__`).
    static func metadata(_ path: String) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try #require(data.count >= 8)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        try #require(length > 0 && 8 + length <= data.count)
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        return try #require(header["__metadata__"] as? [String: String])
    }

    /// Copies the safetensors checkpoint at `path` to `destination` with its `lathe.qparams`
    /// record passed through `edit` (the header rewritten, the tensor bytes unchanged).
    static func rewriteRecord(_ path: String, to destination: String, _ edit: (String) -> String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        var header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        var metadata = try #require(header["__metadata__"] as? [String: String])
        let record = try #require(metadata["lathe.qparams"])
        metadata["lathe.qparams"] = edit(record)
        try #require(metadata["lathe.qparams"] != record, "the edit changed nothing")
        header["__metadata__"] = metadata
        var json = try JSONSerialization.data(withJSONObject: header)
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        for i in 0..<8 { out.append(UInt8((json.count >> (8 * i)) & 0xFF)) }
        out.append(json)
        out.append(data.subdata(in: (8 + length)..<data.count))
        try out.write(to: URL(fileURLWithPath: destination))
    }

    @Test func aQuantizedLenet5ExportsAsQDQAndONNXRuntimeMatchesTheSimulatedInt8Accuracy() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = dir.appendingPathComponent("train").path, quant = dir.appendingPathComponent("quant").path
        let trained = try CLIRunner.run(["train", "--model", "lenet5", "--epochs", "1", "--limit-train", "2000", "--limit-test", "100",
                                         "--threads", "1", "--plain", "--out", train])
        try #require(trained.status == 0, "stderr: \(trained.stderr)")
        let quantized = try CLIRunner.run([
            "quantize", "--checkpoint", "\(train)/model.safetensors", "--param", "bits=8", "--param", "per_channel=true",
            "--activations", "static", "--limit-train", "2000", "--limit-test", "100", "--threads", "1",
            "--registry", PruneCommandTests.registry, "--out", quant, "--plain",
        ])
        try #require(quantized.status == 0, "stderr: \(quantized.stderr)")

        // The checkpoint's record: version 1, static activations, every layer's weight, input and output parameters.
        let record = try #require(try Self.metadata("\(quant)/model.safetensors")["lathe.qparams"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])
        #expect(json["version"] as? Int == 1 && json["activations"] as? String == "static")
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["name"] as? String } == ["conv1", "conv2", "fc1", "fc2", "fc3"], "\(layers.map { $0["name"] ?? "?" })")
        for layer in layers {
            let weight = try #require(layer["weight"] as? [String: Any])
            #expect(weight["bits"] as? Int == 8 && weight["axis"] as? Int == 0 && weight["scheme"] as? String == "symmetric")
            #expect((layer["input"] as? [String: Any])?["qmax"] as? Int == 255 && (layer["output"] as? [String: Any])?["qmax"] as? Int == 255)
        }

        let onnx = dir.appendingPathComponent("int8.onnx").path
        let export = try CLIRunner.run(["export", "\(quant)/model.safetensors", "--qdq", "-o", onnx, "--verify", "--limit-test", "1000", "--threads", "1"])
        #expect(export.status == 0, "stdout: \(export.stdout) stderr: \(export.stderr)")
        let line = try #require(export.stdout.split(separator: "\n").first { $0.hasPrefix("ONNX Runtime check on 1000 test images") }, "\(export.stdout)")
        #expect(line.contains("Lathe simulated int8"), "\(line)")
        let percents = line.split(separator: " ").filter { $0.hasSuffix("%") || $0.hasSuffix("%),") }
            .compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "(),%"))) }
        try #require(percents.count == 2, "\(line)")
        #expect(abs(percents[0] - percents[1]) <= 0.2, "ONNX Runtime \(percents[0])% vs simulated \(percents[1])%")
        #expect(percents[1] > 15, "a trained lenet5 is above chance (10%): \(line)")
        #expect(export.stdout.contains("QDQ int8"), "\(export.stdout)")

        // The file carries the record and the form of the export in its metadata_props.
        let python = SourceTree.root.appendingPathComponent(".venv/bin/python").path
        let check = try CLIRunner.runTool(python, ["-c", """
            import sys, onnxruntime as ort
            meta = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
            print("qparams" if "lathe.qparams" in meta else "-", meta.get("lathe.qdq", "-"))
            """, onnx])
        #expect(check.status == 0 && check.stdout.hasPrefix("qparams int8 symmetric weights per output channel"), "\(check.stdout) \(check.stderr)")

        // Refused, naming what is supported, and nothing written: no record (an fp32 checkpoint),
        // affine weights, a record of an unknown version (the record edited in a copy).
        let affine = dir.appendingPathComponent("affine.safetensors").path
        try Self.rewriteRecord("\(quant)/model.safetensors", to: affine) { $0.replacingOccurrences(of: #""scheme":"symmetric""#, with: #""scheme":"affine""#) }
        let future = dir.appendingPathComponent("future.safetensors").path
        try Self.rewriteRecord("\(quant)/model.safetensors", to: future) { $0.replacingOccurrences(of: #""version":1"#, with: #""version":7"#) }
        let refused = dir.appendingPathComponent("refused.onnx").path
        for (arguments, words) in [
            (["export", "\(train)/model.safetensors", "--qdq", "-o", refused], ["no quantization record", "lathe.qparams", "lathe quantize"]),
            (["export", affine, "--qdq", "-o", refused], ["'conv1'", "affine 8-bit", "symmetric integer weights", "without --qdq"]),
            (["export", future, "--qdq", "-o", refused], ["lathe.qparams", "version 7", "version 1"]),
            (["export", "\(train)/model.safetensors", "--activation-bits", "7", "-o", refused], ["--activation-bits", "--qdq"]),
        ] {
            let result = try CLIRunner.run(arguments)
            #expect(result.status != 0, "\(arguments)")
            for word in words { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: refused))
        }
    }
}
