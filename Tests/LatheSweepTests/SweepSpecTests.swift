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
        let wrongKind = Self.good.replacingOccurrences(of: "uniform/affine", with: "prune/magnitude")
        #expect(error(wrongKind).contains("is a criterion, not a quantizer"))
    }
}
