import Foundation
import LatheTestSupport
import Testing

/// `lathe export` end to end: a trained checkpoint becomes an ONNX file that ONNX Runtime loads,
/// with Lathe's provenance in its metadata; bad input leaves no file.
@Suite("lathe export", .serialized)
struct ExportCommandTests {
    @Test func aTrainedCheckpointExportsToAModelONNXRuntimeRuns() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run").path
        let train = try CLIRunner.run(["train", "--model", "lenet5", "--epochs", "1", "--limit-train", "600", "--limit-test", "100",
                                       "--threads", "1", "--plain", "--out", run])
        try #require(train.status == 0, "stderr: \(train.stderr)")
        let onnx = dir.appendingPathComponent("lenet5.onnx").path
        let export = try CLIRunner.run(["export", "\(run)/model.safetensors", "-o", onnx])
        #expect(export.status == 0, "stderr: \(export.stderr)")
        #expect(export.stdout.contains("exported lenet5") && export.stdout.contains(onnx))
        let python = SourceTree.root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: run scripts/bootstrap.sh")
        let check = try CLIRunner.runTool(python, ["-c", """
            import sys, numpy as np, onnxruntime as ort
            s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            meta = s.get_modelmeta().custom_metadata_map
            y = s.run(None, {"input": np.zeros((3, 1, 28, 28), np.float32)})[0]
            print(meta["lathe.architecture"], meta["lathe.checkpoint"], y.shape)
            """, onnx])
        #expect(check.status == 0, "stderr: \(check.stderr)")
        #expect(check.stdout.contains("lenet5 model.safetensors (3, 10)"), "\(check.stdout)")
    }

    @Test func badInputIsRefusedNamingItAndNothingIsWritten() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let notACheckpoint = dir.appendingPathComponent("notes.txt")
        try Data("not a checkpoint\n".utf8).write(to: notACheckpoint)
        let onnx = dir.appendingPathComponent("out.onnx").path
        for (arguments, words) in [
            (["export", dir.appendingPathComponent("missing.safetensors").path, "-o", onnx], ["missing.safetensors", "does not exist"]),
            (["export", notACheckpoint.path, "-o", onnx], ["notes.txt"]),
            (["export", notACheckpoint.path, "-o", "/nonexistent-dir/m.onnx"], ["/nonexistent-dir"]),
            (["export", notACheckpoint.path, "--format", "tflite", "-o", onnx], ["tflite", "onnx"]),
        ] {
            let result = try CLIRunner.run(arguments)
            #expect(result.status != 0, "\(arguments)")
            for word in words { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: onnx))
        }
    }
}
