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

        // --verify: ONNX Runtime on 200 test images gives Lathe's accuracy, then the file is put in place.
        let verified = dir.appendingPathComponent("verified.onnx").path
        let verify = try CLIRunner.run(["export", "\(run)/model.safetensors", "-o", verified, "--verify", "--limit-test", "200", "--threads", "1"])
        #expect(verify.status == 0, "stderr: \(verify.stderr)")
        let line = try #require(verify.stdout.split(separator: "\n").first { $0.hasPrefix("ONNX Runtime check on 200 test images") })
        let percents = line.split(separator: " ").filter { $0.contains("%") }.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "(),%")) }
        #expect(percents.count == 2 && percents.first == percents.last, "\(line)")
        #expect(FileManager.default.fileExists(atPath: verified))
        // A Python that cannot run the check: the export is refused and nothing is left behind.
        let refused = dir.appendingPathComponent("refused.onnx").path
        let broken = try CLIRunner.run(["export", "\(run)/model.safetensors", "-o", refused, "--verify", "--limit-test", "50", "--python", "/bin/false"])
        #expect(broken.status != 0 && broken.stderr.contains("ONNX Runtime"), "stderr: \(broken.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("refused") }.isEmpty)
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
            (["export", notACheckpoint.path, "-o", onnx, "--python", "/usr/bin/python3"], ["--python", "--verify"]),
        ] {
            let result = try CLIRunner.run(arguments)
            #expect(result.status != 0, "\(arguments)")
            for word in words { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: onnx))
        }
    }
}
