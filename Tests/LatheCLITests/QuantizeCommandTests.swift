import Foundation
import Testing

/// `lathe quantize` end to end: a real child process, the real `uniform` plugin from the registry.
@Suite("lathe quantize", .serialized)
struct QuantizeCommandTests {
    /// metrics.json carries the agreement with the fp32 model the run started from.
    @Test func metricsRecordFlipRateAndKLAgainstTheFP32Model() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let run = try CLIRunner.run([
            "quantize", "--model", "mlp", "--epochs", "1", "--limit-train", "600", "--limit-test", "200",
            "--param", "bits=2", "--activations", "static", "--threads", "1",
            "--registry", PruneCommandTests.registry, "--out", out, "--plain",
        ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let metrics = try #require(document["metrics"] as? [String: Any])
        let flipRate = try #require(metrics["flipRate"] as? Double)
        #expect(flipRate > 0 && flipRate <= 1, "2-bit weights must change some predictions")
        #expect(try #require(metrics["klToBaseline"] as? Double) > 0)
        // 2-bit per-tensor weights of mlp with one fp32 scale per layer: 2 + 3 * 32 / weights bits each.
        let quantization = try #require(document["quantization"] as? [String: Any])
        let weights = Double(784 * 300 + 300 * 100 + 100 * 10)
        let bits = try #require(quantization["bits_per_weight"] as? Double)
        #expect(abs(bits - (2 + 96 / weights)) < 1e-12, "bits_per_weight \(bits)")
        #expect(run.stdout.contains(String(format: "quantized weights: %.4g bits/weight", 2 + 96 / weights)), "\(run.stdout)")
    }
}
