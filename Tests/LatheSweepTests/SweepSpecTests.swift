import Foundation
import LatheTestSupport
import LathePlugins
import Testing
@testable import LatheSweep

@Suite("sweep specs")
struct SweepSpecTests {
    static let root = SourceTree.root

    static func registry() throws -> Registry { try Registry(directory: root.appendingPathComponent("registry").path) }

    static let good = """
    name = "t"
    model = "mlp"
    seeds = [0, 1]
    limit_train = 500

    [baseline]
    epochs = 1

    [[groups]]
    name = "ptq"
    stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true } }]
    grid = { "quantize.params.bits" = [8, 4, 2] }

    [[groups]]
    name = "tuned"
    stages = [
      { kind = "prune", criterion = "prune/magnitude", sparsity = 0.8 },
      { kind = "finetune", epochs = 1 },
      { kind = "quantize", method = "uniform/affine", params = { bits = 8 } },
    ]
    """

    func error(_ text: String) -> String {
        do {
            _ = try SweepSpec.parse(text, file: "spec.toml", registry: try Self.registry())
            return "parsed"
        } catch {
            return String(describing: error)
        }
    }

    @Test func expandsGridTimesSeedsPlusBaselines() throws {
        let spec = try SweepSpec.parse(Self.good, file: "spec.toml", registry: try Self.registry())
        let trials = try spec.trials(registry: try Self.registry())
        #expect(trials.count == 2 + 3 * 2 + 1 * 2)
        #expect(trials.filter { $0.group == "baseline" }.map(\.seed) == [0, 1])
        #expect(Set(trials.map(\.label)) == ["baseline (fp32)", "ptq: bits=8", "ptq: bits=4", "ptq: bits=2", "tuned"])
        #expect(Set(trials.map(\.key)).count == trials.count)
        // Keys are stable: parsing again gives the same trial identities (resume relies on it).
        let again = try SweepSpec.parse(Self.good, file: "spec.toml", registry: try Self.registry()).trials(registry: try Self.registry())
        #expect(again.map(\.key) == trials.map(\.key))
        let four = try #require(trials.first { $0.label == "ptq: bits=4" })
        #expect(four.stages[0].config.object?["params"]?.object?["bits"] == .number(4))
        #expect(spec.baseline.epochs == 1 && spec.limitTrain == 500)
    }

    @Test func errorsNameTheLineAndTheKey() {
        let unknownPlugin = Self.good.replacingOccurrences(of: "uniform/affine", with: "nosuch/affine")
        #expect(error(unknownPlugin).hasPrefix("spec.toml:19:"), "\(error(unknownPlugin))")
        #expect(error(unknownPlugin).contains("no plugin 'nosuch'"))
        let unknownMethod = Self.good.replacingOccurrences(of: "prune/magnitude", with: "prune/nosuch")
        #expect(error(unknownMethod).hasPrefix("spec.toml:17:") && error(unknownMethod).contains("has no method 'nosuch'"), "\(error(unknownMethod))")
        let badValue = Self.good.replacingOccurrences(of: "[8, 4, 2]", with: "[8, 40]")
        #expect(error(badValue).hasPrefix("spec.toml:12:") && error(badValue).contains("'bits' must be in [2, 16]; got 40"), "\(error(badValue))")
        let unknownParam = Self.good.replacingOccurrences(of: "params = { bits = 8 }", with: "params = { bitz = 8 }")
        #expect(error(unknownParam).hasPrefix("spec.toml:19:") && error(unknownParam).contains("unknown parameter 'bitz'"), "\(error(unknownParam))")
        let unknownKey = Self.good.replacingOccurrences(of: "sparsity = 0.8", with: "sparsity = 0.8, sparsty = 0.9")
        #expect(error(unknownKey).hasPrefix("spec.toml:17:") && error(unknownKey).contains("unknown key 'sparsty'"), "\(error(unknownKey))")
        let topLevel = Self.good.replacingOccurrences(of: "limit_train = 500", with: "limit_trian = 500")
        #expect(error(topLevel).hasPrefix("spec.toml:4:") && error(topLevel).contains("unknown key 'limit_trian'"), "\(error(topLevel))")
        let badStage = Self.good.replacingOccurrences(of: "kind = \"finetune\"", with: "kind = \"finefune\"")
        #expect(error(badStage).hasPrefix("spec.toml:18:") && error(badStage).contains("unknown stage kind 'finefune'"), "\(error(badStage))")
        #expect(error("name = \"x\"\nseeds = [0\n").hasPrefix("spec.toml:2: invalid TOML") || error("name = \"x\"\nseeds = [0\n").hasPrefix("spec.toml:3: invalid TOML"))
        // Headers toml++ 3.4.0 would abort on (an assertion, undefined behaviour in release builds).
        // Brackets first on a line in a comment, a multi-line string or an array are no headers.
        let prefix = "name = \"x\"\nseeds = [0]\n# [ comment\ns = \"\"\"\n[\n\"\"\"\na = [\n  [[[1]]],\n]\n"
        #expect(error(prefix).contains("unknown key 'a'"), "\(error(prefix))")
        for header in ["[[\n[[", "[\n", "[=]", "[[[groups]]]", "[ #x"] {
            let message = error(prefix + header)
            #expect(message.hasPrefix("spec.toml:10: invalid TOML: a table header needs a key"), "\(header): \(message)")
        }
        let wrongKind = Self.good.replacingOccurrences(of: "uniform/affine", with: "prune/magnitude")
        #expect(error(wrongKind).contains("is a criterion, not a quantizer"))
    }

    /// A spec with one group of `stage` (and optional extra group lines), for error tests.
    static func withStage(_ stage: String, grid: String = "") -> String {
        """
        name = "t"
        model = "mlp"
        seeds = [0]

        [[groups]]
        name = "g"
        stages = [\(stage)]
        \(grid)
        """
    }

    @Test func specIntegersAreRangeCheckedNotTrapped() {
        let cases: [(String, String, String)] = [
            ("seeds = [0, 1]", "seeds = [9223372036854775807]", "key 'seeds' = 9.223372036854776e+18: expected an integer in 0...9007199254740991"),
            ("seeds = [0, 1]", "seeds = [1e300]", "key 'seeds' = 1e+300: expected an integer in 0...9007199254740991"),
            ("seeds = [0, 1]", "seeds = [0, -1]", "key 'seeds' = -1: expected an integer in 0...9007199254740991"),
            ("seeds = [0, 1]", "seeds = [nan]", "key 'seeds' = nan: expected an integer"),
            ("seeds = [0, 1]", "seeds = [0.5]", "key 'seeds' = 0.5: expected an integer"),
            ("limit_train = 500", "limit_train = 1e300", "key 'limit_train' = 1e+300: expected an integer in 1...2147483647"),
            ("limit_train = 500", "limit_train = 9223372036854775807", "key 'limit_train' = 9.223372036854776e+18: expected an integer in 1...2147483647"),
            ("limit_train = 500", "limit_train = 0", "key 'limit_train' = 0: expected an integer in 1...2147483647"),
            ("limit_train = 500", "limit_test = -inf", "key 'limit_test' = -inf: expected an integer in 1...2147483647"),
            ("limit_train = 500", "timeout = 1e300", "key 'timeout' = 1e+300: expected a number of seconds in (0, 2592000]"),
            ("limit_train = 500", "timeout = nan", "key 'timeout' = nan: expected a number of seconds"),
        ]
        for (old, new, expected) in cases {
            let line = old.hasPrefix("seeds") ? 3 : 4
            let message = error(Self.good.replacingOccurrences(of: old, with: new))
            #expect(message.hasPrefix("spec.toml:\(line): ") && message.contains(expected), "\(new): \(message)")
        }
        // The largest seed still parses, and keeps its value.
        let big = Self.good.replacingOccurrences(of: "seeds = [0, 1]", with: "seeds = [9007199254740991]")
        #expect((try? SweepSpec.parse(big, file: "spec.toml", registry: try Self.registry()))?.seeds == [9_007_199_254_740_991])
    }

    @Test func everyEpochCountHasTheBaselinesBound() {
        let finetune = error(Self.withStage(#"{ kind = "finetune", epochs = 1000000000 }"#))
        #expect(finetune.hasPrefix("spec.toml:7: ") && finetune.contains("key 'epochs' = 1000000000: expected an integer in 1...10000"), "\(finetune)")
        let qat = error(Self.withStage(#"{ kind = "quantize", workflow = "qat", qat_epochs = 1000000000 }"#))
        #expect(qat.hasPrefix("spec.toml:7: ") && qat.contains("qat_epochs 1000000000: expected an integer in 1...10000"), "\(qat)")
        let prune = error(Self.withStage(#"{ kind = "prune", finetune_epochs = 1000000000 }"#))
        #expect(prune.hasPrefix("spec.toml:7: ") && prune.contains("0...10000"), "\(prune)")
        let baseline = error(Self.good.replacingOccurrences(of: "epochs = 1\n\n[[groups]]", with: "epochs = 1000000000\n\n[[groups]]"))
        #expect(baseline.contains("[baseline]") && baseline.contains("0...10000"), "\(baseline)")
        #expect(error(Self.withStage(#"{ kind = "finetune", epochs = 10000 }"#)) == "parsed")
        #expect(error(Self.withStage(#"{ kind = "quantize", workflow = "qat", qat_epochs = 10000 }"#)) == "parsed")
    }

    @Test func stageErrorsNameLineKeyValueAndWhatIsValid() {
        let huge = error(Self.withStage(#"{ kind = "finetune", epochs = 1e300 }"#))
        #expect(huge.hasPrefix("spec.toml:7: ") && huge.contains("key 'epochs' = 1e+300: expected an integer"), "\(huge)")
        let baseline = error(Self.good.replacingOccurrences(of: "epochs = 1\n\n[[groups]]", with: "epochs = 1e300\n\n[[groups]]"))
        #expect(baseline.hasPrefix("spec.toml:7: [baseline]: key 'epochs' = 1e+300: expected an integer"), "\(baseline)")
        let fraction = error(Self.withStage(#"{ kind = "quantize", calibration_batches = 2.5 }"#))
        #expect(fraction.hasPrefix("spec.toml:7: ") && fraction.contains("key 'calibration_batches' = 2.5: expected an integer"), "\(fraction)")
        let nan = error(Self.withStage(#"{ kind = "prune", sparsity = nan }"#))
        #expect(nan.hasPrefix("spec.toml:7: ") && nan.contains("key 'sparsity' = nan: expected a finite number"), "\(nan)")
        let text = error(Self.withStage(#"{ kind = "finetune", epochs = "three" }"#))
        #expect(text.hasPrefix("spec.toml:7: ") && text.contains("key 'epochs' = three: expected an integer"), "\(text)")
        let scope = error(Self.withStage(#"{ kind = "prune", scope = "globl" }"#))
        #expect(scope.hasPrefix("spec.toml:7: ") && scope.contains("key 'scope' = globl: expected one of: local, global"), "\(scope)")
        let workflow = error(Self.withStage(#"{ kind = "quantize", workflow = "qta" }"#))
        #expect(workflow.hasPrefix("spec.toml:7: ") && workflow.contains("key 'workflow' = qta: expected one of: ptq, qat"), "\(workflow)")
        let kinds = error(Self.withStage(#"{ kind = "prune", criterion = "prune/l1-filter", groups = ["head", "hed"] }"#))
        #expect(kinds.hasPrefix("spec.toml:7: ") && kinds.contains("key 'groups'") && kinds.contains("'hed': expected one of: channel, head, neuron"), "\(kinds)")
        let emptyKinds = error(Self.withStage(#"{ kind = "prune", criterion = "prune/l1-filter", groups = [] }"#))
        #expect(emptyKinds.contains("groups") && emptyKinds.contains("at least one kind"), "\(emptyKinds)")
        let elementKinds = error(Self.withStage(#"{ kind = "prune", groups = ["head"] }"#))
        #expect(elementKinds.contains("groups") && elementKinds.contains("an output-channel criterion"), "\(elementKinds)")
        let unknown = error(Self.withStage(#"{ kind = "prune", sparsty = 0.5 }"#))
        #expect(unknown.hasPrefix("spec.toml:7: ") && unknown.contains("unknown key 'sparsty' (expected one of: "), "\(unknown)")
        #expect(unknown.contains("criterion") && unknown.contains("sparsity") && unknown.contains("kind"), "\(unknown)")
        let finetuneKey = error(Self.withStage(#"{ kind = "finetune", epoch = 2 }"#))
        #expect(finetuneKey.contains("unknown key 'epoch' (expected one of: epochs, kind, lr)"), "\(finetuneKey)")
    }

    static let distillStage = #"{ kind = "distill", teacher = { model = "mlp" }, student = { model = "mlp", width = 0.5 }, terms = [{ method = "kd/hinton", params = { temperature = 4.0, alpha = 0.9 } }] }"#

    @Test func gridKeysAddressArrayElementsByIndex() throws {
        let text = Self.withStage(Self.distillStage, grid: #"grid = { "distill.terms.0.params.alpha" = [0.5, 0.9], "distill.terms.0.params.temperature" = [2.0, 8.0] }"#)
        let spec = try SweepSpec.parse(text, file: "spec.toml", registry: try Self.registry())
        let trials = try spec.trials(registry: try Self.registry()).filter { $0.group == "g" }
        #expect(trials.count == 4)
        let params = trials.map { $0.stages[0].config.at(["terms", "0", "params"]) }
        #expect(Set(params.compactMap { $0?.object?["alpha"]?.double }) == [0.5, 0.9])
        #expect(Set(params.compactMap { $0?.object?["temperature"]?.double }) == [2, 8])
        #expect(Set(trials.map(\.label)) == ["g: alpha=0.5, temperature=2", "g: alpha=0.5, temperature=8", "g: alpha=0.9, temperature=2", "g: alpha=0.9, temperature=8"])
        // The other keys of the term are kept.
        #expect(trials.allSatisfy { $0.stages[0].config.at(["terms", "0", "method"]) == .string("kd/hinton") })

        func gridError(_ grid: String) -> String { error(Self.withStage(Self.distillStage, grid: grid)) }
        let range = gridError(#"grid = { "distill.terms.3.params.alpha" = [0.5] }"#)
        #expect(range.hasPrefix("spec.toml:8: ") && range.contains("index 3 is out of range (valid indices: 0...0)"), "\(range)")
        let notIndex = gridError(#"grid = { "distill.terms.first.params.alpha" = [0.5] }"#)
        #expect(notIndex.hasPrefix("spec.toml:8: ") && notIndex.contains("'first' addresses an array, so it must be an index"), "\(notIndex)")
        let noArray = gridError(#"grid = { "distill.termz.0.params.alpha" = [0.5] }"#)
        #expect(noArray.hasPrefix("spec.toml:8: ") && noArray.contains("there is no array 'termz'"), "\(noArray)")
        let unknownKey = gridError(#"grid = { "distill.terms.0.parms.alpha" = [0.5] }"#)
        #expect(unknownKey.hasPrefix("spec.toml:8: ") && unknownKey.contains("unknown key 'parms'") && unknownKey.contains("params"), "\(unknownKey)")
        let badValue = gridError(#"grid = { "distill.terms.0.params.alpha" = [0.5, 7] }"#)
        // The value is named; the line is the first one quoting 'alpha' (the stage's, or the grid's).
        #expect((badValue.hasPrefix("spec.toml:7: ") || badValue.hasPrefix("spec.toml:8: ")) && badValue.contains("alpha"), "\(badValue)")
        let scalar = gridError(#"grid = { "distill.student.model.x" = ["a"] }"#)
        #expect(scalar.hasPrefix("spec.toml:8: ") && scalar.contains("cannot address into the value mlp"), "\(scalar)")
    }

    @Test func jsonTextRoundTripsThroughFoundation() throws {
        let value = JSONValue.object(["s": .string("a\"b\\c\n\u{1}é"), "n": .array([.number(3), .number(0.1), .number(-2.5e-7), .number(1e300)]),
                                      "b": .bool(true), "z": .null])
        let back = try JSONValue(JSONSerialization.jsonObject(with: Data(value.json.utf8)))
        #expect(back == value)
    }

    @Test func aGridTooLargeToExpandIsRefused() {
        let values = "[" + (0..<400).map(String.init).joined(separator: ", ") + "]"
        let grid = "grid = { \"prune.params.a\" = \(values), \"prune.params.b\" = \(values) }"
        let message = error(Self.withStage(#"{ kind = "prune" }"#, grid: grid))
        #expect(message.hasPrefix("spec.toml:8: ") && message.contains("more than 100000 trials"), "\(message)")
    }
}
