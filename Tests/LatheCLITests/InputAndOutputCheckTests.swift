import Foundation
import LatheData
import Testing

/// Bad output paths fail before any work; empty data sets and malformed checkpoints fail with
/// errors naming the file, never with a trap or a result over nothing.
@Suite("lathe checks inputs and outputs first")
struct InputAndOutputCheckTests {
    /// A data directory of Fashion-MNIST-style files holding `train` and `test` 28×28 images.
    private func dataDirectory(train: Int, test: Int) throws -> URL {
        let dir = try CLIRunner.scratchDirectory()
        for (prefix, count) in [("train", train), ("t10k", test)] {
            let images = IDX.Array(elementType: .uint8, dimensions: [count, 28, 28], bytes: [UInt8](repeating: 100, count: count * 784))
            let labels = IDX.Array(elementType: .uint8, dimensions: [count], bytes: (0..<count).map { UInt8($0 % 10) })
            try Data(IDX.encode(images)).write(to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(IDX.encode(labels)).write(to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        return dir
    }

    @Test func evalRefusesADirectoryAsMetricsOutBeforeEvaluating() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(["eval", "/nonexistent/model.safetensors", "--metrics-out", dir.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--metrics-out '\(dir.path)' is a directory"), "\(result.stderr)")
    }

    @Test func trainRefusesAnOutputUnderAFileBeforeTraining() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("occupied")
        try Data("x".utf8).write(to: file)
        let result = try CLIRunner.run([
            "train", "--out", file.appendingPathComponent("run").path, "--epochs", "1", "--limit-train", "64", "--limit-test", "64", "--threads", "1", "--plain",
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--out") && result.stderr.contains("'\(file.path)' is a file"), "\(result.stderr)")
        #expect(!result.stderr.contains("epoch"), "nothing may be trained: \(result.stderr)")
    }

    @Test func trainRefusesATrainingSetOfZeroImages() throws {
        let data = try dataDirectory(train: 0, test: 3)
        defer { try? FileManager.default.removeItem(at: data) }
        let out = data.appendingPathComponent("run")
        let result = try CLIRunner.run(["train", "--data", data.path, "--out", out.path, "--epochs", "1", "--threads", "1", "--plain"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(data.path)/train-images-idx3-ubyte: holds 0 images"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func evalRefusesATestSetOfZeroImages() throws {
        let data = try dataDirectory(train: 3, test: 3)
        let empty = try dataDirectory(train: 3, test: 0)
        defer {
            try? FileManager.default.removeItem(at: data)
            try? FileManager.default.removeItem(at: empty)
        }
        let out = data.appendingPathComponent("run")
        let train = try CLIRunner.run(["train", "--model", "mlp", "--data", data.path, "--out", out.path, "--epochs", "1", "--threads", "1", "--plain"])
        try #require(train.status == 0, "\(train.stderr)")
        let result = try CLIRunner.run(["eval", out.appendingPathComponent("model.safetensors").path, "--data", empty.path, "--threads", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(empty.path)/t10k-images-idx3-ubyte: holds 0 images"), "\(result.stderr)")
        #expect(!result.stdout.contains("accuracy"))
    }

    @Test func evalReportsAnOverflowingTensorShapeAsAnError() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = Array(#"{"fc1.weight":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#.utf8)
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) } + json + [0, 0, 0, 0]
        let path = dir.appendingPathComponent("huge.safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try CLIRunner.run(["eval", path])
        #expect(result.status == 1, "a trap exits 132: \(result.status)")
        #expect(result.stderr.contains(path) && result.stderr.contains("'fc1.weight'") && result.stderr.contains("too large"), "\(result.stderr)")
    }
}
