import Foundation
import Testing

/// `lathe train --resume` after a real SIGKILL of the training process: the resumed run ends
/// with the test accuracy and per-epoch losses of an uninterrupted run.
@Suite("lathe train --resume")
struct TrainResumeTests {
    private func arguments(_ out: String) -> [String] {
        ["train", "--model", "mlp", "--epochs", "4", "--limit-train", "6000", "--limit-test", "500", "--batch-size", "100",
         "--threads", "1", "--out", out, "--plain"]
    }

    private func metrics(_ out: String) throws -> (accuracy: Double, losses: [Double]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/metrics.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let training = try #require(json["training"] as? [String: Any])
        let epochs = try #require(training["epochs"] as? [[String: Any]])
        return (try #require(json["accuracy"] as? Double), epochs.compactMap { $0["trainLoss"] as? Double })
    }

    @Test func aKilledRunResumesToTheUninterruptedResult() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = dir.appendingPathComponent("whole").path, killed = dir.appendingPathComponent("killed").path
        let reference = try CLIRunner.run(arguments(whole))
        #expect(reference.status == 0, "stderr: \(reference.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(whole)/training-state.safetensors"), "a finished run removes its state")

        // Killed as soon as the first epoch's state is written (three epochs remain to run).
        let process = Process()
        process.executableURL = CLIRunner.executable
        process.arguments = arguments(killed)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let state = "\(killed)/training-state.safetensors"
        while process.isRunning, !FileManager.default.fileExists(atPath: state) { usleep(5_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: "\(killed)/metrics.json"))

        let refused = try CLIRunner.run(arguments(killed))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("'\(state)' exists (the state of an interrupted run): add --resume"), "\(refused.stderr)")

        let resumed = try CLIRunner.run(arguments(killed) + ["--resume"])
        #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming after epoch"), "\(resumed.stderr)")
        #expect(!resumed.stderr.contains("epoch 1/4"), "the first epoch is not trained again: \(resumed.stderr)")
        let (a, b) = (try metrics(whole), try metrics(killed))
        #expect(a.losses.count == 4 && a.losses == b.losses)
        #expect(a.accuracy == b.accuracy)
        #expect(!FileManager.default.fileExists(atPath: state))
    }
}
