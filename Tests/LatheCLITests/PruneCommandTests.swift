import Foundation
import Testing

/// `lathe prune` end to end: a real child process, the real `prune` plugin from the registry.
@Suite("lathe prune", .serialized)
struct PruneCommandTests {
    static let registry = PluginCommandTests.root.appendingPathComponent("registry").path

    /// Runs `lathe prune` with `arguments`; expects failure, a message naming each word, and no output.
    private func expectFailure(_ arguments: [String], mentions: [String]) throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        let result = try CLIRunner.run(["prune", "--registry", Self.registry, "--threads", "1", "--out", out.path] + arguments)
        #expect(result.status != 0)
        for word in mentions { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: out.path), "a failed run must not leave output")
    }

    @Test func badInputIsRefusedWithAClearMessage() throws {
        try expectFailure(["--criterion", "prune/nope"], mentions: ["prune/nope", "l1-filter"])
        try expectFailure(["--criterion", "nope"], mentions: ["nope", "PLUGIN/METHOD"])
        try expectFailure(["--sparsity", "1.5"], mentions: ["1.5", "sparsity"])
        try expectFailure(["--criterion", "prune/random", "--param", "seed=-4"], mentions: ["seed", "-4"])
        try expectFailure(["--criterion", "prune/random", "--param", "alpha=1"], mentions: ["alpha", "seed"])
        try expectFailure(["--criterion", "prune/magnitude", "--physical"], mentions: ["physical", "output-channel"])
        try expectFailure(["--schedule", "cubic"], mentions: ["cubic", "agp"])
        try expectFailure(["--model", "vgg16"], mentions: ["vgg16", "lenet5"])
        try expectFailure(["--checkpoint", "/nonexistent/dense.safetensors"], mentions: ["/nonexistent/dense.safetensors"])
        try expectFailure(["--layer-sparsity", "conv1"], mentions: ["conv1", "LAYER=FRACTION"])
        try expectFailure(["--groups", "heads"], mentions: ["heads", "head", "neuron"])
        try expectFailure(["--criterion", "prune/magnitude", "--groups", "head"], mentions: ["groups", "output-channel"])
        // Checked before the dense training: a CNN has no attention heads.
        try expectFailure(["--criterion", "prune/l1-filter", "--groups", "head", "--epochs", "50"],
                          mentions: ["head", "lenet5 declares: channel"])
    }

    @Test func aSmallRunWritesAReloadableSmallerModelAndItsLedger() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let prune = try CLIRunner.run([
            "prune", "--model", "lenet5", "--epochs", "1", "--limit-train", "600", "--limit-test", "200", "--batch-size", "64",
            "--criterion", "prune/l1-filter", "--sparsity", "0.5", "--schedule", "agp", "--steps", "2", "--finetune-epochs", "1",
            "--physical", "--threads", "1", "--registry", Self.registry, "--out", out, "--plain",
        ])
        #expect(prune.status == 0, "stderr: \(prune.stderr)")
        #expect(prune.stderr.contains("step 2/2"))
        #expect(prune.stdout.contains("speedup:"))

        let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))
        let metrics = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let accuracy = try #require(metrics["accuracy"] as? Double)
        let pruning = try #require(metrics["pruning"] as? [String: Any])
        let dense = try #require(pruning["dense"] as? [String: Any])
        let pruned = try #require(pruning["pruned"] as? [String: Any])
        let parameters = try #require(pruned["parameters"] as? Int)
        #expect(try #require(dense["parameters"] as? Int) == 61_706)
        #expect(parameters < 61_706)
        #expect(pruning["physicallyRemovedParameters"] as? Int == 61_706 - parameters)
        #expect(pruned["accuracy"] as? Double == accuracy)
        // Agreement with the dense model: a share of flipped predictions and a positive KL.
        let flipRate = try #require(metrics["flipRate"] as? Double)
        #expect(flipRate >= 0 && flipRate <= 1)
        #expect(try #require(metrics["klToBaseline"] as? Double) > 0)
        #expect((pruning["speedupB256"] as? Double ?? 0) > 0)
        #expect((pruning["speedupNote"] as? String)?.contains("physically removed") == true)
        #expect((pruning["steps"] as? [Any])?.count == 2)

        let eval = try CLIRunner.run(["eval", "\(out)/model.safetensors", "--limit-test", "200", "--threads", "1"])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains(String(format: "test accuracy %.2f%%", 100 * accuracy)), "\(eval.stdout)")
        #expect(eval.stdout.contains("\(parameters) params"))

        // The physically pruned model exports with its smaller layers and ONNX Runtime computes
        // what Lathe computes on it (--verify compares accuracy and logits before writing).
        let onnx = dir.appendingPathComponent("pruned.onnx").path
        let export = try CLIRunner.run(["export", "\(out)/model.safetensors", "-o", onnx, "--verify", "--limit-test", "200", "--threads", "1"])
        #expect(export.status == 0, "stderr: \(export.stderr)")
        #expect(export.stdout.contains(String(format: "accuracy %.2f%% (Lathe %.2f%%)", 100 * accuracy, 100 * accuracy)), "\(export.stdout)")
        #expect(FileManager.default.fileExists(atPath: onnx))
    }
}
