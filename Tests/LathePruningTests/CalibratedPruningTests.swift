import Foundation
import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LathePruning

/// Criteria that read calibration statistics (ABI 1.2: calib/wanda through the registry's
/// library), and the selections they are used with: per output row and N:M.
@Suite("Calibrated pruning: Wanda, per-output rows, N:M", .serialized)
struct CalibratedPruningTests {
    private var train: ImageDataset { Fixtures.fashion.train.prefix(600) }
    private var test: ImageDataset { Fixtures.fashion.test.prefix(200) }

    /// Wanda is |W_ij|·RMS(X_j), each output row with its own group's statistics; power 0 is |W|.
    @Test func wandaScoresAreWeightTimesInputRMS() throws {
        let wanda = try Fixtures.registry().method("calib/wanda")
        // 4 output rows in 2 groups of 2 rows, 3 features.
        let w: [Float] = [1, -2, 0.5, 3, 0, -1, -4, 2, 1, 0.25, -0.5, 6]
        let ms: [Float] = [4, 1, 0, 9, 0.25, 16]
        let stats = InputStatistics(meanSquare: try Tensor(ms, shape: [2, 3]), rows: 10)
        let scores = try wanda.score(weight: Tensor(w, shape: [4, 3]), statistics: stats, params: wanda.bind())
            .scalars(as: Float.self)
        let expected = (0..<12).map { i -> Float in abs(w[i]) * ms[(i / 3 / 2) * 3 + i % 3].squareRoot() }
        #expect(scores == expected)
        let magnitude = try wanda.score(weight: Tensor(w, shape: [4, 3]), statistics: stats,
                                        params: wanda.bind(["activation_power": .double(0)])).scalars(as: Float.self)
        #expect(magnitude == w.map(abs))
    }

    /// Missing or misshapen statistics are refused by the host before the plugin runs.
    @Test func wandaNeedsStatisticsOfTheWeightsShape() throws {
        let wanda = try Fixtures.registry().method("calib/wanda")
        let weight = try Tensor.ones([4, 3])
        #expect { _ = try wanda.score(weight: weight, params: wanda.bind()) } throws: { "\($0)".contains("needs-input-mean-square") }
        let wrong = InputStatistics(meanSquare: try Tensor.ones([1, 5]), rows: 3)
        #expect { _ = try wanda.score(weight: weight, statistics: wrong, params: wanda.bind()) } throws: { "\($0)".contains("[G, 3]") }
        let groups = InputStatistics(meanSquare: try Tensor.ones([3, 3]), rows: 3)
        #expect { _ = try wanda.score(weight: weight, statistics: groups, params: wanda.bind()) } throws: { "\($0)".contains("dividing 4") }
    }

    /// A manifest of ABI 1.1 cannot declare a 1.2 flag, nor one of 1.2 a 1.3 kind or flag.
    @Test func statisticsFlagsNeedABI12() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let current = try String(contentsOf: Fixtures.root.appendingPathComponent("registry/calib.toml"), encoding: .utf8)
        #expect(current.contains("abi = \"\(ABI.version)\""))
        func error(abi: String, _ edit: (String) -> String = { $0 }) throws -> String {
            let file = dir.appendingPathComponent("calib.toml")
            try edit(current.replacingOccurrences(of: "abi = \"\(ABI.version)\"", with: "abi = \"\(abi)\"")).write(to: file, atomically: true, encoding: .utf8)
            do {
                _ = try Manifest.read(file.path)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(try error(abi: "1.1").contains("needs-input-mean-square needs ABI 1.2"))
        #expect(try error(abi: "1.2").contains("kind' = \"scaler\" needs ABI 1.3"))
        // A 1.2 manifest with the 1.3 flag on a 1.2 kind.
        let flag = try error(abi: "1.2") { $0.replacingOccurrences(of: "kind = \"scaler\"", with: "kind = \"solver\"") }
        #expect(flag.contains("needs-input-abs-mean needs ABI 1.3"), "\(flag)")
    }

    @Test func perRowSelectionPrunesEveryRowToTheTarget() throws {
        let scores = try Tensor.randn([6, 10], generator: RandomGenerator(seed: 4))
        var alive = [Bool](repeating: true, count: 60)
        alive[3] = false  // already pruned: stays pruned and counts toward its row
        let keep = try Selection.perRow(.init(layer: "fc", scores: scores, alive: alive), rows: 6, sparsity: 0.3)
        let values = try scores.scalars(as: Float.self)
        #expect(!keep[3])
        for r in 0..<6 {
            let row = Array(keep[(r * 10)..<((r + 1) * 10)])
            #expect(row.filter { !$0 }.count == 3, "row \(r)")
            let kept = (0..<10).filter { row[$0] }.map { values[r * 10 + $0] }
            let prunedLive = (0..<10).filter { !row[$0] && (r * 10 + $0) != 3 }.map { values[r * 10 + $0] }
            #expect((prunedLive.max() ?? -.infinity) <= (kept.min() ?? .infinity), "row \(r)")
        }
    }

    @Test func nOfMKeepsTheBestNOfEveryGroup() throws {
        let scores = try Tensor.randn([4, 16], generator: RandomGenerator(seed: 9))
        let values = try scores.scalars(as: Float.self)
        for (n, m) in [(2, 4), (4, 8), (1, 4)] {
            let keep = try Selection.nOfM(.init(layer: "fc", scores: scores), rowLength: 16, n: n, m: m)
            for start in stride(from: 0, to: 64, by: m) {
                let group = Array(start..<(start + m))
                #expect(group.filter { keep[$0] }.count == n, "\(n):\(m) group at \(start)")
                let best = group.sorted { values[$0] > values[$1] }.prefix(n)
                #expect(Set(best) == Set(group.filter { keep[$0] }))
            }
        }
        #expect { _ = try Selection.nOfM(.init(layer: "conv1", scores: try Tensor.ones([2, 9])), rowLength: 9, n: 2, m: 4) }
            throws: { "\($0)".contains("conv1") && "\($0)".contains("groups of 4") }
    }

    /// The configuration refuses what N:M and per-output rows cannot mean, naming the key.
    @Test func patternAndScopeAreChecked() throws {
        let registry = try Fixtures.registry()
        func refusal(_ edit: (inout PruningConfig) throws -> Void) throws -> String {
            var c = PruningConfig()
            c.criterion = "calib/wanda"
            try edit(&c)
            do { _ = try c.validate(against: registry) } catch { return "\(error)" }
            return ""
        }
        #expect(try refusal { $0.pattern = try NMPattern(parsing: "1:4") }.contains("sparsity"))
        #expect(try refusal { $0.pattern = try NMPattern(parsing: "2:4"); $0.scope = .global }.contains("scope"))
        #expect(try refusal { $0.pattern = try NMPattern(parsing: "2:4"); $0.schedule = .agp; $0.steps = 2 }.contains("schedule"))
        #expect(try refusal { $0.criterion = "prune/l1-filter"; $0.scope = .perOutput }.contains("an element criterion"))
        #expect(try refusal { $0.pattern = try NMPattern(parsing: "2:4") }.isEmpty)
        #expect(throws: PruningError.self) { try NMPattern(parsing: "4:2") }
        #expect(throws: PruningError.self) { try NMPattern(parsing: "2-4") }
    }

    /// End to end on a trained mlp: Wanda per output row gives every row of every pruned layer
    /// the target sparsity; with 2:4 every group of 4 keeps 2, and the ledger says no speedup.
    @Test func wandaPrunesATrainedModel() throws {
        Engine.threads = 1
        let model = try Zoo.make("mlp", seed: 2)  // rows of 784, 300 and 100 weights: groups of 4 fit
        _ = try Trainer(recipe: Fixtures.recipe()).train(model, on: train)
        let trained = try model.copy()
        var c = PruningConfig()
        c.criterion = "calib/wanda"
        c.scope = .perOutput
        c.finetuneEpochs = 0
        c.calibrationBatches = 2
        let (pruned, report) = try PruningStage.run(c, model: model, train: train, test: test, recipe: Fixtures.recipe(),
                                                    registry: Fixtures.registry())
        for name in ["fc1", "fc2", "fc3"] {
            let w = try #require(pruned.state.first { $0.0 == name + ".weight" }?.1)
            let rows = w.shape[0], length = w.shape[1]
            let zeros = try w.eq(0).converted(to: .float32).sum([1]).scalars(as: Float.self)
            #expect(zeros == [Float](repeating: Float(length / 2), count: rows), "\(name)")
        }
        #expect(report.criterion == "calib/wanda" && abs(report.maskedSparsity - 0.5) < 1e-9)

        c.scope = .local
        c.pattern = try NMPattern(parsing: "2:4")
        let (nm, nmReport) = try PruningStage.run(c, model: trained, train: train, test: test, recipe: Fixtures.recipe(),
                                                  registry: Fixtures.registry())
        for name in ["fc1", "fc2", "fc3"] {
            let w = try #require(nm.state.first { $0.0 == name + ".weight" }?.1)
            let groups = try w.ne(0).converted(to: .float32).reshaped([w.count / 4, 4]).sum([1]).scalars(as: Float.self)
            #expect(groups.allSatisfy { $0 == 2 }, "\(name)")
        }
        #expect(nmReport.speedupNote.contains("2:4") && nmReport.speedupNote.contains("no speedup"))
    }
}
