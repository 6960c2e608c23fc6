import Foundation
import Testing

/// `--depth` sits beside `--width` in every command that builds a zoo model; the vit-* models
/// train with the transformer recipe unless a flag says otherwise.
@Suite("lathe with vision transformers")
struct ViTCommandTests {
    @Test(arguments: [
        (["train", "--model", "lenet5", "--depth", "2"], "--depth 2: only the vit-* models take a depth; lenet5 has a fixed one"),
        (["train", "--model", "vit-tiny", "--depth", "0"], "--depth 0: expected an integer in 1...64"),
        (["prune", "--model", "convnet", "--depth", "3"], "--depth 3: only the vit-* models take a depth; convnet has a fixed one"),
        (["distill", "--student", "lenet5", "--depth", "2"], "--depth 2: only the vit-* models take a depth; lenet5 has a fixed one"),
        (["distill", "--teacher-depth", "2"], "--teacher-depth 2: only the vit-* models take a depth; convnet has a fixed one"),
        (["train", "--model", "vit-tiny", "--warmup-epochs", "10001"], "invalid value '10001' for warmup-epochs"),
    ])
    func badDepthsAndWarmupsAreRefusedNamingTheFlag(arguments: [String], message: String) throws {
        let result = try CLIRunner.run(arguments + ["--plain"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("epoch 1"), "nothing may be trained: \(result.stderr)")
    }

    /// A one-block vit-tiny trains with AdamW, warm-up and label smoothing (the flags left out),
    /// `--epochs` still applies, and the checkpoint records the depth.
    @Test func aViTTrainsWithTheTransformerDefaultsAndItsDepth() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run([
            "train", "--model", "vit-tiny", "--depth", "1", "--width", "0.25", "--epochs", "1", "--limit-train", "256",
            "--limit-test", "64", "--threads", "1", "--plain", "--out", dir.path,
        ])
        try #require(result.status == 0, "\(result.stderr)")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("metrics.json"))) as? [String: Any]
        let recipe = try #require(metrics?["recipe"] as? [String: Any])
        #expect(recipe["optimizer"] as? String == "adamw")
        #expect(recipe["learningRate"] as? Double == 0.001)
        #expect(recipe["weightDecay"] as? Double == 0.05)
        #expect(recipe["warmupEpochs"] as? Int == 2)
        #expect(recipe["labelSmoothing"] as? Double == 0.1)
        #expect(recipe["epochs"] as? Int == 1)
        let eval = try CLIRunner.run(["eval", dir.appendingPathComponent("model.safetensors").path, "--limit-test", "64", "--threads", "1"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let header = try String(contentsOf: dir.appendingPathComponent("model.safetensors"), encoding: .isoLatin1)
        #expect(header.contains(#"\"depth\":1"#) || header.contains(#""depth":1"#), "the checkpoint's options record the depth")
    }

    /// Cross-architecture distillation both ways, each model with its own family's recipe: a
    /// convnet teacher trains with SGD for a vit-tiny student (AdamW), a ViT teacher with AdamW
    /// for a lenet5 student (SGD); the ViT's attention-map tap is usable as a term's layer.
    @Test(arguments: [
        (["--teacher", "convnet", "--teacher-width", "0.25", "--student", "vit-tiny", "--depth", "1", "--width", "0.25"], "sgd", "adamw"),
        (["--teacher", "vit-tiny", "--teacher-depth", "1", "--teacher-width", "0.25", "--student", "lenet5", "--width", "0.5"], "adamw", "sgd"),
    ])
    func crossArchitectureDistillation(models: [String], teacherOptimizer: String, studentOptimizer: String) throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(["distill"] + models + [
            "--loss", "kd/hinton", "--teacher-epochs", "1", "--epochs", "1", "--limit-train", "512", "--limit-test", "64",
            "--threads", "1", "--plain", "--cache", dir.appendingPathComponent("cache").path, "--out", dir.appendingPathComponent("run").path,
        ])
        try #require(result.status == 0, "\(result.stderr)")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run/metrics.json"))) as? [String: Any]
        let distillation = try #require(metrics?["distillation"] as? [String: Any])
        let teacher = try #require(distillation["teacher"] as? [String: Any])
        let teacherRecipe = try #require(teacher["recipe"] as? [String: Any])
        #expect(teacherRecipe["optimizer"] as? String == teacherOptimizer, "\(teacherRecipe)")
        #expect(teacherRecipe["epochs"] as? Int == 1 && teacherRecipe["seed"] as? Int == 0)
        let recipe = try #require(metrics?["recipe"] as? [String: Any])
        #expect(recipe["optimizer"] as? String == studentOptimizer, "\(recipe)")
    }
}
