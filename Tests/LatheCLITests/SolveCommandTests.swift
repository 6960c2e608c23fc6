import Foundation
import Testing

/// `lathe solve` end to end: a real child process, the real `calib` plugin from the registry.
@Suite("lathe solve", .serialized)
struct SolveCommandTests {
    static let registry = PluginCommandTests.root.appendingPathComponent("registry").path

    @Test func badInputIsRefusedWithAClearMessageAndNoOutput() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        for (arguments, words) in [
            (["--method", "uniform/affine"], ["uniform/affine", "layer solver", "quantizer"]),
            (["--param", "bits=12"], ["bits", "12"]),
            (["--method", "calib/sparsegpt", "--param", "pattern=3-4"], ["pattern", "3-4", "2-4"]),
            (["--calibration-batches", "0"], ["calibration_batches", "0"]),
            (["--checkpoint", "/nonexistent/model.safetensors"], ["/nonexistent/model.safetensors"]),
        ] {
            let result = try CLIRunner.run(["solve", "--registry", Self.registry, "--threads", "1", "--out", out.path] + arguments)
            #expect(result.status != 0, "\(arguments)")
            for word in words { #expect(result.stderr.contains(word), "stderr lacks '\(word)': \(result.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: out.path), "a failed run must not leave output")
        }
    }

    @Test func aSmallGPTQRunWritesTheModelAndItsLedger() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let result = try CLIRunner.run([
            "solve", "--model", "mlp", "--width", "0.25", "--epochs", "1", "--limit-train", "600", "--limit-test", "200",
            "--batch-size", "64", "--param", "bits=4", "--param", "group_size=16", "--calibration-batches", "2",
            "--threads", "1", "--registry", Self.registry, "--out", out, "--plain",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("fc1: solved"))
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))) as? [String: Any]
        let solve = try #require(metrics?["solve"] as? [String: Any])
        let layers = try #require(solve["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["name"] as? String } == ["fc1", "fc2", "fc3"])
        let bits = try #require(solve["bitsPerWeight"] as? Double)
        // 4 bits + a 32-bit scale and a 32-bit zero point per group of 16 (the ledger counts zero
        // points as int32): 8 bits, a little more where a row's last group is shorter (fc3's 25).
        #expect(bits >= 8 && bits < 8.2, "\(bits) bits per weight")
        #expect(FileManager.default.fileExists(atPath: "\(out)/model.safetensors"))
    }
}
