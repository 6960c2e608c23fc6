import Foundation
import LatheDistill
import LatheModels
import LatheTrain
import Testing

/// A teacher given as a checkpoint (`lathe distill --teacher-checkpoint`): used as it is,
/// nothing trained or cached, and refused when it is not the configured teacher for this data.
@Suite("distillation from a given teacher checkpoint", .serialized)
struct TeacherCheckpointTests {
    static func recipe(epochs: Int, seed: UInt64) -> Recipe {
        var r = Recipe()
        r.epochs = epochs
        r.batchSize = 64
        r.seed = seed
        return r
    }

    @Test func aGivenCheckpointIsTheTeacherAndNothingIsTrainedOrCached() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (train, test) = Support.fashion
        let trained = try Zoo.make("mlp", options: ModelOptions(width: 0.5), seed: 9)
        _ = try Trainer(recipe: Self.recipe(epochs: 1, seed: 9)).train(trained, on: train)
        let path = dir.appendingPathComponent("teacher.safetensors").path
        try Checkpoint.save(trained, to: path, metadata: ["lathe.dataset": "fashion-mnist"])
        let cacheDirectory = dir.appendingPathComponent("cache")

        let config = DistillConfig(teacher: .init(model: "mlp", width: 0.5, checkpoint: path), student: .init(model: "mlp", width: 0.25),
                                   terms: [.init(method: "kd/hinton")])
        let (_, report) = try DistillationStage.run(
            config, train: train, test: test, dataset: "fashion-mnist", recipe: Self.recipe(epochs: 1, seed: 1),
            registry: try Support.registry(), cache: TeacherCache(directory: cacheDirectory.path))
        #expect(report.teacher.cachePath == path && report.teacher.cacheHit && report.teacher.recipe == nil && report.teacher.training == nil)
        #expect(report.teacher.cacheKey.hasPrefix("checkpoint:") && report.teacher.cacheKey.count == "checkpoint:".count + 64)
        #expect(report.teacher.accuracy == (try Evaluation.evaluate(trained, on: test).accuracy))
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory.path)) ?? []
        #expect(cached.isEmpty, "no teacher is trained or cached: \(cached)")

        func message(_ config: DistillConfig, dataset: String = "fashion-mnist") -> String {
            do {
                _ = try DistillationStage.run(config, train: train.prefix(64), test: test.prefix(64), dataset: dataset,
                                              recipe: Self.recipe(epochs: 1, seed: 1),
                                              registry: try Support.registry(), cache: TeacherCache(directory: cacheDirectory.path))
            } catch {
                return String(describing: error)
            }
            return "no error"
        }
        var wider = config
        wider.teacher = .init(model: "mlp", width: 1, checkpoint: path)
        let optionsError = message(wider)
        #expect(optionsError.contains("teacher checkpoint \(path) holds mlp") && optionsError.contains("the run needs mlp"), "\(optionsError)")
        let dataError = message(config, dataset: "cifar-like")
        #expect(dataError.contains("was trained on fashion-mnist; this run uses cifar-like"), "\(dataError)")
        var retrained = config
        retrained.teacher.recipe = RecipeOverrides(epochs: 3)
        #expect(message(retrained).contains("teacher.recipe cannot be combined with teacher.checkpoint \(path)"))
        // The config key round-trips through JSON (a sweep's distill stage reads it).
        let decoded = try JSONDecoder().decode(DistillConfig.self, from: Data(try config.json().utf8))
        #expect(decoded.teacher.checkpoint == path)
    }
}
