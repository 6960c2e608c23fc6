import Foundation
import Testing

@Suite("lathe train / eval end to end")
struct TrainEvalTests {
    @Test func trainWritesCheckpointAndMetricsThatEvalReproduces() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let train = try CLIRunner.run([
            "train", "--model", "lenet5", "--epochs", "1", "--limit-train", "4000", "--batch-size", "64", "--limit-test", "300",
            "--threads", "1", "--out", out, "--plain",
        ])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        #expect(train.stderr.contains("epoch 1/1"))
        let metricsData = try Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))
        let metrics = try #require(try JSONSerialization.jsonObject(with: metricsData) as? [String: Any])
        let accuracy = try #require(metrics["accuracy"] as? Double)
        #expect(accuracy > 0.5 && accuracy <= 1, "accuracy \(accuracy)")
        let cost = try #require(metrics["cost"] as? [String: Any])
        #expect(cost["macs"] as? Int == 416_520)

        let eval = try CLIRunner.run(["eval", "\(out)/model.safetensors", "--limit-test", "300", "--threads", "1"])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains(String(format: "test accuracy %.2f%%", 100 * accuracy)), "\(eval.stdout)")
    }

    @Test func modelsListsTheZoo() throws {
        let result = try CLIRunner.run(["models"])
        #expect(result.status == 0)
        for name in ["mlp", "lenet5", "convnet", "resnet8", "resnet20", "mobilenet"] {
            #expect(result.stdout.contains(name))
        }
        #expect(result.stdout.contains("416520 MACs"))
    }
}

@Suite("lathe rejects bad input")
struct BadInputTests {
    private func expectFailure(_ arguments: [String], mentions: [String]) throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        let result = try CLIRunner.run(arguments + ["--out", out.path])
        #expect(result.status != 0)
        for word in mentions { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: out.path), "a failed run must not leave output")
    }

    @Test func unknownModel() throws {
        try expectFailure(["train", "--model", "vgg16"], mentions: ["vgg16", "lenet5"])
    }

    @Test func badFlagValues() throws {
        try expectFailure(["train", "--epochs", "-3"], mentions: ["epochs"])
        try expectFailure(["train", "--lr", "fast"], mentions: ["lr", "fast"])
        try expectFailure(["train", "--threads", "0"], mentions: ["threads"])
        try expectFailure(["train", "--momentum", "2"], mentions: ["momentum", "2"])
    }

    @Test func missingDataDirectory() throws {
        try expectFailure(["train", "--data", "/nonexistent/fmnist", "--epochs", "1"], mentions: ["/nonexistent/fmnist"])
    }

    @Test func corruptDataFile() throws {
        let data = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        let source = "/usr/share/datasets/fashion-mnist"
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
            try FileManager.default.copyItem(atPath: "\(source)/\(name)", toPath: data.appendingPathComponent(name).path)
        }
        // A training-image file cut short: valid gzip header, truncated stream.
        let full = try Data(contentsOf: URL(fileURLWithPath: "\(source)/train-images-idx3-ubyte.gz"))
        let broken = data.appendingPathComponent("train-images-idx3-ubyte.gz")
        try full.prefix(100_000).write(to: broken)
        try expectFailure(["train", "--data", data.path, "--epochs", "1"], mentions: [broken.path])
    }

    @Test func missingCheckpoint() throws {
        let result = try CLIRunner.run(["eval", "/nonexistent/model.safetensors"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/model.safetensors"))
    }
}
