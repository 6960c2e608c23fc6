import Foundation
import Testing

/// `lathe factorize` end to end: a real child process, the real `lowrank` plugin from the registry.
@Suite("lathe factorize", .serialized)
struct FactorizeCommandTests {
    @Test func badInputIsRefusedWithAClearMessageAndNoOutput() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        for (arguments, words) in [
            (["--method", "calib/gptq"], ["calib/gptq", "factorizer", "solver"]),
            (["--param", "amount=2"], ["amount", "2"]),
            (["--param", "rank_rule=median"], ["rank_rule", "median", "energy"]),
            (["--finetune-epochs=-1"], ["--finetune-epochs", "-1"]),
            (["--checkpoint", "/nonexistent/model.safetensors"], ["/nonexistent/model.safetensors"]),
        ] {
            let result = try CLIRunner.run(["factorize", "--registry", SolveCommandTests.registry, "--threads", "1", "--out", out.path] + arguments)
            #expect(result.status != 0, "\(arguments)")
            for word in words { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: out.path), "a failed run must not leave output")
        }
    }

    @Test func aSmallSVDRunWritesTheFactorizedModelThatEvalRebuilds() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let common = ["--limit-train", "600", "--limit-test", "200", "--threads", "1"]
        let result = try CLIRunner.run([
            "factorize", "--model", "mlp", "--width", "0.5", "--epochs", "1", "--batch-size", "64", "--layer", "fc1",
            "--param", "rank_rule=macs", "--param", "amount=0.5", "--finetune-epochs", "1", "--finetune-lr", "0.005",
            "--registry", SolveCommandTests.registry, "--out", out, "--plain",
        ] + common)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))) as? [String: Any]
        let ledger = try #require(metrics?["factorize"] as? [String: Any])
        let layers = try #require(ledger["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["name"] as? String } == ["fc1"])
        // fc1 of the half-width mlp is 784 → 150: the largest r with r·(784 + 150) <= 0.5·784·150 is 62.
        #expect(layers.first?["rank"] as? Int == 62)
        let before = try #require(ledger["macsBefore"] as? Int), after = try #require(ledger["macsAfter"] as? Int)
        #expect(after < before)
        // The checkpoint carries the factorized structure: eval rebuilds it with the smaller MAC count.
        let eval = try CLIRunner.run(["eval", "\(out)/model.safetensors"] + common)
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains("\(after) MACs"), "\(eval.stdout)")
    }
}
