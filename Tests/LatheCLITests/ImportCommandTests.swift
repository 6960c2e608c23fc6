import Foundation
import LatheTestSupport
import Testing

/// `lathe import` and `--model file.onnx` on a model written with PyTorch (python3-torch).
@Suite("lathe import", .serialized)
struct ImportCommandTests {
    /// Exports PyTorch models with scripts/torch_models.py into `dir`.
    static func export(_ names: [String], to dir: URL) throws {
        let result = try CLIRunner.runTool("/usr/bin/python3", [SourceTree.root.appendingPathComponent("scripts/torch_models.py").path, dir.path] + names)
        try #require(result.status == 0, "torch_models.py failed (scripts/bootstrap.sh installs python3-torch): \(result.stderr)")
    }

    @Test func checkReportsGroupsAndImportWritesACheckpointThatTrainsAndEvaluates() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.export(["resnet20", "mlp"], to: dir)
        let resnet = dir.appendingPathComponent("resnet20.onnx").path

        let check = try CLIRunner.run(["import", resnet, "--check"])
        #expect(check.status == 0, "stderr: \(check.stderr)")
        #expect(check.stdout.contains("pruning groups (12):"))
        #expect(check.stdout.contains("layer2.1.conv1 with layer2.1.bn1 → layer2.1.conv2"))
        #expect(check.stdout.contains("fc: they reach the graph output 'logits'"))
        #expect(check.stdout.contains("adds the outputs of conv1, layer1.0.conv2: pruned together"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("resnet20.safetensors").path), "--check wrote a file")

        let imported = try CLIRunner.run(["import", resnet])
        #expect(imported.status == 0, "stderr: \(imported.stderr)")
        let checkpoint = dir.appendingPathComponent("resnet20.safetensors").path
        #expect(FileManager.default.fileExists(atPath: checkpoint))
        // ONNX Runtime as a second latency backend, beside libtorch's.
        let evalMetrics = dir.appendingPathComponent("eval.json").path
        let eval = try CLIRunner.run(["eval", checkpoint, "--limit-test", "100", "--threads", "1", "--backend", "ort", "--latency-budget", "2",
                                      "--metrics-out", evalMetrics])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains("test accuracy"))
        #expect(eval.stdout.contains("onnxruntime 1.32.0 (fp32): b1 "), "\(eval.stdout)")
        let evaluated = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: evalMetrics))) as? [String: Any])
        let backends = try #require(evaluated["backendLatency"] as? [[String: Any]])
        let rows = try #require(backends.first?["rows"] as? [[String: Any]])
        #expect(rows.compactMap { $0["batchSize"] as? Int } == [1, 256])
        #expect(rows.allSatisfy { ($0["medianMilliseconds"] as? Double ?? 0) > 0 })
        let kernels = try #require(backends.first?["kernels"] as? [String: Int])
        #expect((kernels["Conv"] ?? 0) + (kernels["FusedConv"] ?? 0) == 21, "\(kernels)")

        // One epoch of fine-tuning from the imported weights, on Fashion-MNIST.
        let out = dir.appendingPathComponent("run").path
        let train = try CLIRunner.run(["train", "--model", dir.appendingPathComponent("mlp.onnx").path, "--epochs", "1", "--limit-train", "3000",
                                       "--limit-test", "300", "--threads", "1", "--out", out, "--plain"])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))) as? [String: Any])
        let accuracy = try #require(metrics["accuracy"] as? Double)
        // PyTorch's initialisation is at chance (10 %); one short epoch must learn.
        #expect(accuracy > 0.25, "accuracy after one epoch \(accuracy)")
    }

    @Test func sweepsAndDistillationTakeAnONNXModel() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.export(["mlp"], to: dir)
        let onnx = dir.appendingPathComponent("mlp.onnx").path
        let spec = dir.appendingPathComponent("onnx.toml")
        try Data("""
            name = "onnx-mlp"
            model = "\(onnx)"
            seeds = [0]
            limit_train = 1500
            limit_test = 300
            [baseline]
            epochs = 1
            [[groups]]
            name = "int8"
            stages = [{ kind = "quantize", method = "uniform/symmetric", params = { bits = 8, per_channel = true }, activations = "static" }]
            [[groups]]
            name = "half-channels"
            stages = [{ kind = "prune", criterion = "prune/l1-filter", sparsity = 0.5, physical = true, finetune_epochs = 0 }]
            """.utf8).write(to: spec)
        let out = dir.appendingPathComponent("sweep").path
        let sweep = try CLIRunner.run(["sweep", spec.path, "--out", out, "--workers", "1", "--cache", dir.appendingPathComponent("cache").path,
                                       "--backend", "ort", "--latency-budget", "5", "--plain"])
        #expect(sweep.status == 0, "stderr: \(sweep.stderr)")
        #expect(sweep.stdout.contains("3 done") || sweep.stderr.contains("[3/3] done"), "\(sweep.stdout)\n\(sweep.stderr)")
        // ONNX Runtime times every trial's export (the int8 trial as QDQ) and the report shows it beside libtorch's.
        #expect(sweep.stderr.contains("timing 3 exported models (2 fp32, 1 qdq)"), "\(sweep.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(out)/onnx").filter { $0.hasSuffix(".onnx") }.count == 3)
        let report = try String(contentsOfFile: "\(out)/report/report.md", encoding: .utf8)
        #expect(report.contains("Paired ORT speedup b1") && report.contains("ORT latency b256 (ms)"), "\(report.prefix(3000))")
        // The baseline is cached under the file's name.
        let cached = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/models").path)
        #expect(cached.contains { $0.hasPrefix("mlp-") && $0.hasSuffix(".safetensors") }, "\(cached)")

        let missing = dir.appendingPathComponent("missing.toml")
        try Data("""
            name = "missing"
            model = "\(dir.path)/nowhere.onnx"
            seeds = [0]
            """.utf8).write(to: missing)
        let refused = try CLIRunner.run(["sweep", missing.path, "--out", dir.appendingPathComponent("m").path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("'\(dir.path)/nowhere.onnx' names a model file that does not exist"), "\(refused.stderr)")

        let distill = try CLIRunner.run(["distill", "--teacher", onnx, "--student", "lenet5", "--width", "0.5", "--teacher-epochs", "1", "--epochs", "1",
                                         "--limit-train", "1000", "--limit-test", "200", "--threads", "1", "--out", dir.appendingPathComponent("kd").path,
                                         "--cache", dir.appendingPathComponent("teachers").path])
        #expect(distill.status == 0, "stderr: \(distill.stderr)")
    }

    @Test func badFilesFailWithTheirNameAndWriteNothing() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("notes.onnx")
        try Data("not a model".utf8).write(to: text)
        let result = try CLIRunner.run(["import", text.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains(text.path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("notes.safetensors").path))
        let train = try CLIRunner.run(["train", "--model", text.path, "--epochs", "1", "--limit-train", "100", "--out", dir.appendingPathComponent("r").path])
        #expect(train.status != 0)
        #expect(train.stderr.contains(text.path))
    }
}
