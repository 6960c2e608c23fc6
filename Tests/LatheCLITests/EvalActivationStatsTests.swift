import Foundation
import Testing

/// `lathe eval --activation-stats`: the layer inputs' statistics in the metrics JSON and on the terminal.
@Suite("lathe eval --activation-stats")
struct EvalActivationStatsTests {
    @Test func evalRecordsEveryLayerInputAndRefusesBadValues() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let train = try CLIRunner.run([
            "train", "--model", "lenet5", "--epochs", "1", "--limit-train", "500", "--limit-test", "100", "--threads", "1",
            "--no-latency", "--out", out, "--plain",
        ])
        #expect(train.status == 0, "stderr: \(train.stderr)")
        let metricsPath = dir.appendingPathComponent("eval.json").path
        let eval = try CLIRunner.run([
            "eval", "\(out)/model.safetensors", "--activation-stats", "--activation-samples", "64", "--activation-top-k", "2",
            "--limit-test", "100", "--threads", "1", "--no-latency", "--metrics-out", metricsPath,
        ])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stdout.contains("over the first 64 training images"), "\(eval.stdout)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: metricsPath))) as? [String: Any])
        let activations = try #require(json["activations"] as? [String: Any])
        #expect(activations["samples"] as? Int == 64)
        let layers = try #require(activations["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["layer"] as? String } == ["conv1", "conv2", "fc1", "fc2", "fc3"])
        #expect(layers.compactMap { ($0["absMax"] as? [Double])?.count } == [1, 6, 400, 120, 84])
        #expect(layers.allSatisfy { ($0["topChannels"] as? [Int])?.count == Swift.min(2, ($0["absMax"] as? [Double])?.count ?? 0) })

        // Without the flag the metrics have no activation statistics.
        let plainPath = dir.appendingPathComponent("plain.json").path
        let plain = try CLIRunner.run(["eval", "\(out)/model.safetensors", "--limit-test", "100", "--threads", "1", "--no-latency", "--metrics-out", plainPath])
        #expect(plain.status == 0, "stderr: \(plain.stderr)")
        let plainJSON = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plainPath))) as? [String: Any])
        #expect(plainJSON["activations"] == nil)

        for (flag, value, expected) in [("--activation-samples", "0", "calibration samples in 1..."), ("--activation-top-k", "5000", "outlier channels in 1...1024")] {
            let bad = dir.appendingPathComponent("bad.json").path
            let r = try CLIRunner.run(["eval", "\(out)/model.safetensors", "--activation-stats", flag, value, "--metrics-out", bad])
            #expect(r.status != 0)
            #expect(r.stderr.contains("invalid value '\(value)' for \(flag)") && r.stderr.contains(expected), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: bad))
        }
        let without = try CLIRunner.run(["eval", "\(out)/model.safetensors", "--activation-samples", "32"])
        #expect(without.status != 0)
        #expect(without.stderr.contains("apply only with --activation-stats"), "\(without.stderr)")
    }
}
