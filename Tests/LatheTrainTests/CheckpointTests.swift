import Foundation
import Testing
import LatheData
import LatheModels
import LatheTensor
@testable import LatheTrain

@Suite("Checkpoints and metrics")
struct CheckpointTests {
    @Test(arguments: ["resnet8", "mobilenet", "mlp", "vit-tiny"])
    func saveThenLoadGivesTheSameOutputs(name: String) throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Zoo.make(name, options: ModelOptions(width: 0.5), seed: 3)
        // Move the batch-norm running statistics away from their initial values.
        _ = try model.forward(Tensor.randn([4, 1, 28, 28], generator: RandomGenerator(seed: 1)), ForwardContext(training: true))
        let path = dir.appendingPathComponent("m.safetensors").path
        try Checkpoint.save(model, to: path, metadata: ["note": "test"])
        let (loaded, metadata) = try Checkpoint.load(path)
        #expect(metadata["note"] == "test")
        #expect(loaded.architecture == name)
        #expect(loaded.options == model.options)
        let x = try Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 2))
        #expect(try loaded.predict(x).scalars(as: Float.self) == model.predict(x).scalars(as: Float.self))
    }

    /// A ViT of non-default depth and width (its class token and position embedding trained
    /// away from their initial values) reloads with the same options and logits.
    @Test func aViTOfAnotherDepthRoundTrips() throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Zoo.make("vit-small", options: ModelOptions(width: 0.25, depth: 2), seed: 4)
        var recipe = Recipe.defaults(for: "vit-small")
        recipe.epochs = 1
        _ = try Trainer(recipe: recipe).train(model, on: Fixtures.fashion.train.prefix(64))
        let path = dir.appendingPathComponent("vit.safetensors").path
        try Checkpoint.save(model, to: path, metadata: [:])
        let (loaded, _) = try Checkpoint.load(path)
        #expect(loaded.options.depth == 2)
        #expect(loaded.layers.map(\.name) == model.layers.map(\.name))
        let x = try Tensor.randn([3, 1, 28, 28], generator: RandomGenerator(seed: 2))
        #expect(try loaded.predict(x).scalars(as: Float.self) == model.predict(x).scalars(as: Float.self))
    }

    /// The JSON in a checkpoint's metadata has its keys sorted, so the same model saved by two
    /// processes gives the same bytes (an unsorted encoder follows each process's hash seed).
    @Test(arguments: ["resnet8", "fpn-seg"])
    func metadataJSONHasSortedKeys(name: String) throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let options = name == "fpn-seg" ? ModelOptions(imageSize: 96, classCount: 11, width: 0.5) : ModelOptions(width: 0.5)
        let model = try Zoo.make(name, options: options, seed: 3)
        let path = dir.appendingPathComponent("m.safetensors").path
        try Checkpoint.save(model, to: path)
        let metadata = try SafeTensors.metadata(path: path)
        let sorted = JSONEncoder()
        sorted.outputFormatting = [.sortedKeys]
        #expect(metadata["lathe.options"] == String(decoding: try sorted.encode(model.options), as: UTF8.self))
        if let program = model.program {
            #expect(metadata["lathe.graph"] == String(decoding: try sorted.encode(program), as: UTF8.self))
        }
        #expect((metadata["lathe.graph"] != nil) == (model.program != nil))
    }

    @Test func aForeignSafetensorsFileIsRejectedWithItsPath() throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("foreign.safetensors").path
        try SafeTensors(tensors: ["w": .init(dtype: .F32, shape: [1], bytes: [0, 0, 0, 0])], metadata: [:]).write(path: path)
        let error = #expect(throws: TrainingError.self) { try Checkpoint.load(path) }
        #expect(error?.description.contains(path) == true)
    }

    @Test func sizeCountsEveryStoredTensorAtItsBitWidth() throws {
        let model = try Zoo.make("resnet8")
        let cost = try ModelCost.of(model)
        let elements = model.state.reduce(0) { $0 + $1.1.count }
        #expect(cost.sizeBytes == elements * 4)
        let fc = try #require(model.state.first { $0.0 == "fc.weight" }?.1)
        let smaller = try ModelCost.of(model, bits: ["fc.weight": 4])
        #expect(smaller.sizeBytes == cost.sizeBytes - fc.count * 4 + fc.count / 2)
    }

    @Test func latencyAndMemoryAreMeasured() throws {
        let latency = try Latency.measure(Zoo.make("mlp"), batchSize: 8, runs: 5, warmup: 1)
        #expect(latency.runs == 5)
        #expect(latency.medianMilliseconds > 0)
        #expect(ProcessStats.peakRSSBytes > 10_000_000)
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4, 1, 2, 3]) == 2.5)
    }

    @Test func progressClockFormatting() {
        #expect(ProgressReporter.clock(75) == "1:15")
        #expect(ProgressReporter.clock(3725) == "1:02:05")
    }
}
