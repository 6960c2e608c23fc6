import Foundation
import Synchronization
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LatheDistill

/// The teacher cache and whole distillation runs on a few hundred real images.
@Suite("teacher cache and distillation runs", .serialized)
struct StageTests {
    static func recipe(epochs: Int, seed: UInt64 = 0) -> Recipe {
        var r = Recipe()
        r.epochs = epochs
        r.batchSize = 64
        r.seed = seed
        return r
    }

    static func key(seed: UInt64 = 0, train: ImageDataset = Support.fashion.train) -> TeacherKey {
        TeacherKey(model: "mlp", options: ModelOptions(width: 0.25), dataset: "fashion-mnist", train: train,
                   recipe: recipe(epochs: 1, seed: seed))
    }

    /// The file's inode and modification time: unchanged iff nobody rewrote it.
    static func identity(_ path: String) throws -> (UInt64, Date) {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        return (inode, try #require(attributes[.modificationDate] as? Date))
    }

    @Test func secondRequestIsACacheHitAndDoesNotRetrain() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = TeacherCache(directory: dir.appendingPathComponent("teachers").path)
        let key = Self.key()
        #expect(try cache.lookup(key) == nil)

        let first = try cache.teacher(for: key, train: Support.fashion.train, progress: ProgressReporter(style: .silent))
        #expect(!first.hit)
        #expect(first.training?.epochs.count == 1)
        #expect(first.path.hasSuffix("mlp-\(try key.digest()).safetensors"))
        let before = try Self.identity(first.path)

        // A new cache object (as in another process) finds the file and does not rewrite it.
        let second = try TeacherCache(directory: cache.directory).teacher(for: key, train: Support.fashion.train, progress: ProgressReporter(style: .silent))
        #expect(second.hit)
        let after = try Self.identity(second.path)
        #expect(before.0 == after.0 && before.1 == after.1, "the cached checkpoint was rewritten")
        #expect(second.training == first.training, "the training summary is kept in the checkpoint")
        for ((name, a), (_, b)) in zip(first.model.state, second.model.state) {
            #expect(try a.scalars(as: Float.self) == b.scalars(as: Float.self), "\(name)")
        }
        // No temporary files are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache.directory).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)

        // Another seed, or other data, is another teacher.
        #expect(try cache.path(for: Self.key(seed: 1)) != first.path)
        #expect(try cache.path(for: Self.key(train: Support.fashion.train.prefix(500))) != first.path)
        #expect(try cache.lookup(Self.key(seed: 1)) == nil)
    }

    @Test func racingRequestsTrainOnce() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = TeacherCache(directory: dir.path)
        let key = Self.key(seed: 5)
        let hits = Mutex([Bool]())
        let failures = Mutex([String]())
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            do {
                let entry = try cache.teacher(for: key, train: Support.fashion.train, progress: ProgressReporter(style: .silent))
                hits.withLock { $0.append(entry.hit) }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(hits.withLock { $0.map { $0 ? 1 : 0 }.sorted() } == [0, 1], "exactly one of two racing requests trains")
    }

    @Test func aCorruptEntryIsReportedNotTrustedOrOverwritten() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = TeacherCache(directory: dir.path)
        let path = try cache.path(for: Self.key())
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DistillError.self) { _ = try cache.lookup(Self.key()) }
        #expect(error?.description.contains(path) == true && error?.description.contains("delete it") == true)
    }

    /// A whole run: cached teacher, three kinds of term at once (response, feature through an
    /// adapter, relation), and the report.
    @Test func distillationRunWithResponseFeatureAndRelationTerms() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = DistillConfig(
            teacher: .init(model: "mlp", width: 0.5, recipe: RecipeOverrides(epochs: 2)),
            student: .init(model: "lenet5", width: 0.5),
            terms: [
                .init(method: "kd/hinton", params: ["temperature": .double(4)]),
                .init(method: "distill/hint", studentLayer: "relu3", teacherLayer: "relu2", weight: 0.5),
                .init(method: "distill/rkd-distance", studentLayer: "relu4", teacherLayer: "relu2", weight: 25),
            ])
        let cache = TeacherCache(directory: dir.path)
        let (train, test) = Support.fashion
        let registry = try Support.registry()
        let (student, report) = try DistillationStage.run(config, train: train, test: test, dataset: "fashion-mnist",
                                                          recipe: Self.recipe(epochs: 2, seed: 3), registry: registry, cache: cache)
        #expect(!report.teacher.cacheHit)
        #expect(report.teacher.recipe?.seed == 0 && report.teacher.recipe?.epochs == 2)
        #expect(report.teacher.accuracy > 0.5, "teacher accuracy \(report.teacher.accuracy)")
        #expect(report.student.accuracy > 0.2, "student accuracy \(report.student.accuracy)")
        #expect(report.ceWeight == 0)
        #expect(report.terms.map(\.category) == ["response", "feature", "relation"])
        #expect(report.terms[0].params["temperature"] == .double(4) && report.terms[0].params["alpha"] != nil, "defaults filled in")
        #expect(report.terms[1].adapter?.kind == .linear)
        #expect(report.terms[1].adapter?.inputShape == [60] && report.terms[1].adapter?.outputShape == [50])
        #expect(report.terms[2].adapter == nil)
        for (index, term) in report.terms.enumerated() {
            let first = try #require(term.meanLossFirstEpoch), last = try #require(term.meanLossLastEpoch)
            #expect(first.isFinite && last.isFinite, "\(term.method)")
            if index < 2 { #expect(last < first, "\(term.method) should fall: \(first) → \(last)") }
        }
        #expect(report.training.epochs.count == 2)
        // The adapters are not part of the student.
        #expect(!student.state.map(\.0).contains { $0.contains("adapter") })
        #expect(student.parameterCount == report.student.parameters)

        // Same config, another student seed: the teacher comes from the cache.
        let (_, again) = try DistillationStage.run(config, train: train, test: test, dataset: "fashion-mnist",
                                                   recipe: Self.recipe(epochs: 1, seed: 4), registry: registry, cache: cache)
        #expect(again.teacher.cacheHit)
        #expect(again.teacher.cacheKey == report.teacher.cacheKey)
        #expect(again.teacher.accuracy == report.teacher.accuracy)
    }

    /// Without terms the stage is plain training: the student is bit-identical to Trainer's.
    @Test func withoutTermsTheStudentTrainsExactlyAsAlone() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = DistillConfig(teacher: .init(model: "mlp", width: 0.25, recipe: RecipeOverrides(epochs: 1)),
                                   student: .init(model: "mlp", width: 0.25), terms: [])
        let (train, test) = Support.fashion
        let recipe = Self.recipe(epochs: 1, seed: 11)
        let (student, report) = try DistillationStage.run(config, train: train, test: test, dataset: "fashion-mnist", recipe: recipe,
                                                          registry: try Support.registry(), cache: TeacherCache(directory: dir.path))
        let alone = try Zoo.make("mlp", options: ModelOptions(width: 0.25), seed: 11)
        _ = try Trainer(recipe: recipe).train(alone, on: train)
        for ((name, a), (_, b)) in zip(student.state, alone.state) {
            #expect(try a.scalars(as: Float.self) == b.scalars(as: Float.self), "\(name)")
        }
        #expect(report.ceWeight == 1 && report.terms.isEmpty)
        #expect(report.teacher.accuracy > 0)
    }

    @Test func metricsJSONKeepsRunMetricsAtTheTopLevel() throws {
        let dir = try Support.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = DistillConfig(teacher: .init(model: "mlp", width: 0.25, recipe: RecipeOverrides(epochs: 1)),
                                   student: .init(model: "mlp", width: 0.25), terms: [.init(method: "kd/hinton")])
        let (train, test) = Support.fashion
        let (student, report) = try DistillationStage.run(config, train: train, test: test, dataset: "fashion-mnist",
                                                          recipe: Self.recipe(epochs: 1), registry: try Support.registry(),
                                                          cache: TeacherCache(directory: dir.path))
        let run = try RunMetrics.measure(student, dataset: "fashion-mnist", test: test, recipe: Self.recipe(epochs: 1), training: report.training, threads: 1,
                                     latency: nil)
        let path = dir.appendingPathComponent("metrics.json").path
        try DistillMetrics(run: run, distillation: report).write(to: path)
        let plain = try JSONDecoder().decode(RunMetrics.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(plain == run)
        // Whole-number doubles come back as integers in HyperValue; compare the encoded forms.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(DistillMetrics.read(path: path).distillation) == encoder.encode(report))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let distillation = try #require(object["distillation"] as? [String: Any])
        #expect(distillation["ce_weight"] as? Double == 0)
        #expect((distillation["teacher"] as? [String: Any])?["cache_hit"] as? Bool == false)
    }
}
