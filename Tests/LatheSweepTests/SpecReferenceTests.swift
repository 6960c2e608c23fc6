import Foundation
import LatheTestSupport
import LathePlugins
import Testing
import TOMLKit
@testable import LatheDistill
@testable import LathePruning
@testable import LatheQuant
@testable import LatheSolve
@testable import LatheSweep
@testable import LatheTrain

/// The spec reference is rendered from the schema the validator uses: the committed document
/// matches it, the decoders read exactly the schema's keys, every example is valid, and an
/// enum key's error names the line and every valid value.
@Suite("sweep spec reference")
struct SpecReferenceTests {
    static func registry() throws -> Registry { try Registry(directory: SourceTree.root.appendingPathComponent("registry").path) }

    func error(_ text: String) -> String {
        do {
            _ = try SweepSpec.parse(text, file: "spec.toml", registry: try Self.registry())
            return "parsed"
        } catch {
            return String(describing: error)
        }
    }

    @Test func committedReferenceMatchesTheSchema() throws {
        let path = SourceTree.root.appendingPathComponent("docs/sweep-spec.md")
        let committed = try String(contentsOf: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let rendered = SpecReference.markdown().split(separator: "\n", omittingEmptySubsequences: false)
        // The first line that differs (1-based), or nil when the files are equal byte for byte.
        var line: Int? = committed.count == rendered.count ? nil : min(committed.count, rendered.count) + 1
        for (index, pair) in zip(committed, rendered).enumerated() where pair.0 != pair.1 {
            line = index + 1
            break
        }
        #expect(line == nil, """
            docs/sweep-spec.md differs from the schema the validator uses (first at line \(line ?? 0)): \
            run scripts/gen-spec-doc.sh and commit the result
            """)
    }

    @Test func referenceListsEveryKeyOfEverySection() {
        let text = SpecReference.markdown()
        for schema in SpecSchema.sections {
            #expect(text.contains("\n## \(schema.title)\n") || text.contains("\n### \(schema.title)\n"), "\(schema.title)")
            for key in schema.keys {
                #expect(text.contains("| `\(key.name)` | \(key.type) | "), "\(schema.title): \(key.name)")
            }
        }
    }

    @Test func theReferenceExampleIsAValidSpec() throws {
        let spec = try SweepSpec.parse(SpecReference.example, file: "example.toml", registry: try Self.registry())
        #expect(spec.groups.map(\.name) == ["ptq", "prune-then-quantize", "kd"])
        #expect(spec.seeds == [0, 1, 2])
    }

    // MARK: - The decoders read exactly the schema's keys

    @Test func decodersKnowExactlyTheSchemaKeys() {
        #expect(QuantConfig.schema.names == QuantConfig.CodingKeys.allCases.map(\.stringValue))
        #expect(PruningConfig.schema.names == PruningConfig.CodingKeys.allCases.map(\.stringValue))
        #expect(FinetuneConfig.schema.names == FinetuneConfig.CodingKeys.allCases.map(\.stringValue))
        #expect(SolveConfig.schema.names == SolveConfig.CodingKeys.allCases.map(\.stringValue))
        #expect(DistillConfig.schema.names == DistillConfig.CodingKeys.allCases.map(\.stringValue))
        #expect(DistillConfig.Teacher.schema.names == DistillConfig.Teacher.CodingKeys.allCases.map(\.stringValue))
        #expect(DistillConfig.Student.schema.names == DistillConfig.Student.CodingKeys.allCases.map(\.stringValue))
        #expect(DistillConfig.Term.schema.names == DistillConfig.Term.CodingKeys.allCases.map(\.stringValue))
        #expect(Set(Recipe.schema.names) == Set(RecipeOverrides.CodingKeys.allCases.map(\.stringValue)))
        #expect(SpecSchema.distill.names == DistillConfig.schema.names + ["recipe"])
        #expect(SpecSchema.kind.allowed == .choices(StageKinds.names))
    }

    /// A TOML value text as the spec's JSON value.
    static func value(_ toml: String) throws -> JSONValue {
        try #require(JSONValue(toml: try TOMLTable(string: "v = \(toml)")).object?["v"])
    }

    /// Decodes `base` with `key` set to its example: the decoder must read the key, so the result
    /// differs from decoding `base` alone.
    static func readsKey<T: Decodable & Equatable>(_ type: T.Type, _ key: ConfigSchema.Key, base: [String: JSONValue] = [:]) throws -> Bool {
        let locate = Locator(file: "spec.toml", text: "")
        var object = base
        object[key.name] = try value(key.example)
        let with = try SweepSpec.decode(T.self, .object(object), section: "test", locate: locate)
        let without = try SweepSpec.decode(T.self, .object(base), section: "test", locate: locate)
        return with != without
    }

    @Test func everySchemaKeyIsReadByItsDecoder() throws {
        for key in QuantConfig.schema.keys { #expect(try Self.readsKey(QuantConfig.self, key), "quantize \(key.name)") }
        for key in PruningConfig.schema.keys { #expect(try Self.readsKey(PruningConfig.self, key), "prune \(key.name)") }
        for key in FinetuneConfig.schema.keys { #expect(try Self.readsKey(FinetuneConfig.self, key), "finetune \(key.name)") }
        for key in SolveConfig.schema.keys { #expect(try Self.readsKey(SolveConfig.self, key), "solve \(key.name)") }
        for key in Recipe.schema.keys { #expect(try Self.readsKey(RecipeOverrides.self, key), "recipe \(key.name)") }
        let model: [String: JSONValue] = ["model": .string("mlp")]
        let distillBase: [String: JSONValue] = ["teacher": .object(model), "student": .object(model)]
        for key in DistillConfig.schema.keys { #expect(try Self.readsKey(DistillConfig.self, key, base: distillBase), "distill \(key.name)") }
        for key in DistillConfig.Teacher.schema.keys { #expect(try Self.readsKey(DistillConfig.Teacher.self, key, base: model), "teacher \(key.name)") }
        for key in DistillConfig.Student.schema.keys { #expect(try Self.readsKey(DistillConfig.Student.self, key, base: model), "student \(key.name)") }
        let term: [String: JSONValue] = ["method": .string("kd/hinton")]
        for key in DistillConfig.Term.schema.keys { #expect(try Self.readsKey(DistillConfig.Term.self, key, base: term), "term \(key.name)") }
    }

    /// Decodes `base` with `key` set to the schema's default: the same as leaving it out, when
    /// the schema documents the decoder's default (`transform` maps to what is compared).
    static func defaultHolds<T: Decodable, V: Equatable>(_ type: T.Type, _ key: ConfigSchema.Key, base: [String: JSONValue] = [:],
                                                         _ transform: (T) -> V) throws -> Bool {
        guard case .value(let text) = key.defaultValue else { return true }
        let locate = Locator(file: "spec.toml", text: "")
        var object = base
        object[key.name] = try value(text)
        let with = try SweepSpec.decode(T.self, .object(object), section: "test", locate: locate)
        let without = try SweepSpec.decode(T.self, .object(base), section: "test", locate: locate)
        return transform(with) == transform(without)
    }

    @Test func schemaDefaultsAreTheDecodersDefaults() throws {
        for key in QuantConfig.schema.keys { #expect(try Self.defaultHolds(QuantConfig.self, key) { $0 }, "quantize \(key.name)") }
        for key in PruningConfig.schema.keys { #expect(try Self.defaultHolds(PruningConfig.self, key) { $0 }, "prune \(key.name)") }
        for key in FinetuneConfig.schema.keys { #expect(try Self.defaultHolds(FinetuneConfig.self, key) { $0 }, "finetune \(key.name)") }
        for key in SolveConfig.schema.keys { #expect(try Self.defaultHolds(SolveConfig.self, key) { $0 }, "solve \(key.name)") }
        for key in Recipe.schema.keys {
            #expect(try Self.defaultHolds(RecipeOverrides.self, key) { $0.applied(to: Recipe()) }, "recipe \(key.name)")
        }
        let model: [String: JSONValue] = ["model": .string("mlp")]
        let distillBase: [String: JSONValue] = ["teacher": .object(model), "student": .object(model)]
        for key in DistillConfig.schema.keys { #expect(try Self.defaultHolds(DistillConfig.self, key, base: distillBase) { $0 }, "distill \(key.name)") }
        for key in DistillConfig.Teacher.schema.keys { #expect(try Self.defaultHolds(DistillConfig.Teacher.self, key, base: model) { $0 }, "teacher \(key.name)") }
        for key in DistillConfig.Student.schema.keys { #expect(try Self.defaultHolds(DistillConfig.Student.self, key, base: model) { $0 }, "student \(key.name)") }
        let term: [String: JSONValue] = ["method": .string("kd/hinton")]
        for key in DistillConfig.Term.schema.keys { #expect(try Self.defaultHolds(DistillConfig.Term.self, key, base: term) { $0 }, "term \(key.name)") }
        // And a wrong default would be caught: 2 is not the finetune stage's default epochs.
        let wrong = ConfigSchema.Key("epochs", "integer", default: .value("2"), example: "3", doc: "")
        #expect(try !Self.defaultHolds(FinetuneConfig.self, wrong) { $0 })
    }

    // MARK: - Specs built from one key

    /// An inline table from ordered pairs, `key` replaced by (or added as) `value`.
    static func inline(_ pairs: [(String, String)], _ key: String, _ value: String) -> String {
        var pairs = pairs
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        return "{ " + pairs.map { "\($0.0) = \($0.1)" }.joined(separator: ", ") + " }"
    }

    /// A section of the spec and how to write one of its keys into a spec: the text and the
    /// line the key is on.
    struct Context: Sendable {
        var name: String
        var schema: ConfigSchema
        var spec: @Sendable (_ key: String, _ value: String) -> (text: String, line: Int)
    }

    static let distillPairs = [("kind", #""distill""#), ("teacher", #"{ model = "mlp" }"#), ("student", #"{ model = "mlp" }"#)]

    /// A spec whose only group has one stage, on line 6.
    static func stageSpec(_ stage: String) -> (text: String, line: Int) {
        ("name = \"t\"\nseeds = [0]\n\n[[groups]]\nname = \"g\"\nstages = [\(stage)]\n", 6)
    }

    static let contexts: [Context] = [
        Context(name: "top level", schema: SpecSchema.topLevel) { key, value in
            var lines = ["name = \"t\"", "seeds = [0]"]
            let group = "[[groups]]\nname = \"g\"\nstages = [{ kind = \"finetune\" }]"
            switch key {
            case "name": lines[0] = "name = \(value)"; return ((lines + [group]).joined(separator: "\n"), 1)
            case "seeds": lines[1] = "seeds = \(value)"; return ((lines + [group]).joined(separator: "\n"), 2)
            case "groups": return ((lines + ["groups = \(value)"]).joined(separator: "\n"), 3)
            default: return ((lines + ["\(key) = \(value)", group]).joined(separator: "\n"), 3)
            }
        },
        Context(name: "[baseline]", schema: Recipe.schema) { key, value in
            ("name = \"t\"\nseeds = [0]\n[baseline]\n\(key) = \(value)\n[[groups]]\nname = \"g\"\nstages = [{ kind = \"finetune\" }]\n", 4)
        },
        Context(name: "[[groups]]", schema: SpecSchema.group) { key, value in
            var lines = ["name = \"t\"", "seeds = [0]", "[[groups]]", "name = \"g\"", "stages = [{ kind = \"quantize\" }]"]
            switch key {
            case "name": lines[3] = "name = \(value)"; return (lines.joined(separator: "\n"), 4)
            case "stages": lines[4] = "stages = \(value)"; return (lines.joined(separator: "\n"), 5)
            default: return ((lines + ["\(key) = \(value)"]).joined(separator: "\n"), 6)
            }
        },
        Context(name: "quantize", schema: QuantConfig.schema) { key, value in
            stageSpec(inline([("kind", #""quantize""#)], key, value))
        },
        Context(name: "prune", schema: PruningConfig.schema) { key, value in
            // A channel criterion with a parameter, so that `physical` and `params` apply; an
            // element one for an N:M `pattern`.
            let criterion = key == "params" ? #""prune/random-filter""# : key == "pattern" ? #""prune/magnitude""# : #""prune/l1-filter""#
            return stageSpec(inline([("kind", #""prune""#), ("criterion", criterion)], key, value))
        },
        Context(name: "solve", schema: SolveConfig.schema) { key, value in
            stageSpec(inline([("kind", #""solve""#), ("method", #""calib/gptq""#)], key, value))
        },
        Context(name: "finetune", schema: FinetuneConfig.schema) { key, value in
            stageSpec(inline([("kind", #""finetune""#)], key, value))
        },
        Context(name: "distill", schema: SpecSchema.distill) { key, value in
            stageSpec(inline(distillPairs, key, value))
        },
        Context(name: "distill recipe", schema: Recipe.schema) { key, value in
            stageSpec(inline(distillPairs, "recipe", "{ \(key) = \(value) }"))
        },
        Context(name: "teacher", schema: DistillConfig.Teacher.schema) { key, value in
            // A depth needs a model that takes one.
            stageSpec(inline(distillPairs, "teacher", inline([("model", key == "depth" ? #""vit-tiny""# : #""mlp""#)], key, value)))
        },
        Context(name: "teacher recipe", schema: Recipe.schema) { key, value in
            stageSpec(inline(distillPairs, "teacher", "{ model = \"mlp\", recipe = { \(key) = \(value) } }"))
        },
        Context(name: "student", schema: DistillConfig.Student.schema) { key, value in
            // A depth needs a model that takes one.
            stageSpec(inline(distillPairs, "student", inline([("model", key == "depth" ? #""vit-tiny""# : #""mlp""#)], key, value)))
        },
        Context(name: "terms", schema: DistillConfig.Term.schema) { key, value in
            stageSpec(inline(distillPairs, "terms", "[\(inline([("method", #""kd/hinton""#)], key, value))]"))
        },
    ]

    @Test func everyExampleIsAcceptedInASpec() {
        for context in Self.contexts {
            for key in context.schema.keys {
                let (text, _) = context.spec(key.name, key.example)
                #expect(error(text) == "parsed", "\(context.name) \(key.name) = \(key.example)")
            }
        }
    }

    @Test func anUnknownKeyIsRefusedWithItsLineInEverySection() {
        for context in Self.contexts {
            let (text, line) = context.spec("colour", "1")
            let message = error(text)
            #expect(message.hasPrefix("spec.toml:\(line): ") && message.contains("unknown key 'colour'"), "\(context.name): \(message)")
            // The valid keys listed are the schema's (a stage's with its `kind`).
            let stage = StageKinds.names.contains(context.name)
            let valid = (context.schema.names + (stage ? ["kind"] : [])).sorted().joined(separator: ", ")
            #expect(message.contains("expected one of: \(valid)"), "\(context.name): \(message)")
        }
    }

    /// Every enum key of every section, with a value it does not allow: the error names the
    /// line, the key or the value, and every valid value.
    @Test func enumErrorsNameTheLineAndEveryValidValue() {
        var checked = 0
        for context in Self.contexts {
            for key in context.schema.keys {
                guard case .choices(let choices) = key.allowed else { continue }
                let (text, line) = context.spec(key.name, #""nosuch""#)
                let message = error(text)
                #expect(message.hasPrefix("spec.toml:\(line): ") && message.contains("nosuch"), "\(context.name) \(key.name): \(message)")
                #expect(message.contains("one of: " + choices.joined(separator: ", ")), "\(context.name) \(key.name): \(message)")
                checked += 1
            }
        }
        // dataset; optimizer and schedule in three recipes; workflow, activations, mixed_sensitivity; scope, schedule,
        // groups; adapters. (model, teacher and student model also take an ONNX file's path: text, not choices.)
        #expect(checked == 1 + 3 * 2 + 3 + 3 + 1)
        let badModel = error(Self.stageSpec(#"{ kind = "distill", teacher = { model = "vgg" }, student = { model = "lenet5" } }"#).text)
        #expect(badModel.contains("teacher.model 'vgg' is not a zoo model (mlp, lenet5"), "\(badModel)")
        // The stage kind, missing or unknown.
        let unknownKind = error(Self.stageSpec(#"{ kind = "nosuch" }"#).text)
        #expect(unknownKind.hasPrefix("spec.toml:6: ") && unknownKind.contains("(expected quantize, prune, solve, scale, factorize, finetune, distill or activation_stats)"), "\(unknownKind)")
        let noKind = error(Self.stageSpec(#"{ epochs = 1 }"#).text)
        #expect(noKind.hasPrefix("spec.toml:6: ") && noKind.contains("needs a kind (quantize, prune, solve, scale, factorize, finetune, distill or activation_stats)"), "\(noKind)")
        // A plugin's enum parameter.
        let range = error(Self.stageSpec(#"{ kind = "quantize", params = { range = "nosuch" } }"#).text)
        #expect(range.hasPrefix("spec.toml:6: ") && range.contains("minmax, percentile, mse") && range.contains("nosuch"), "\(range)")
    }

    @Test func rangesComeFromTheSchema() {
        let calibration = QuantConfig.key(.calibrationBatches)
        #expect(calibration.allowed == .integers(1...100_000) && calibration.expected == "an integer in 1...100000")
        #expect(!calibration.allows(0) && calibration.allows(1) && !calibration.allows(2.5))
        #expect(PruningConfig.key(.sparsity).expected == "a number in [0, 1)")
        #expect(!PruningConfig.key(.sparsity).allows(1.0) && !PruningConfig.key(.sparsity).allows(Double.nan))
        #expect(Recipe.key(.learningRate).expected == "a positive number" && !Recipe.key(.learningRate).allows(Double.infinity))
        #expect(Recipe.key(.stepEpochs).expected == "an integer ≥ 1")
        #expect(SpecSchema.key(.timeout).allowed == .numbers(SpecSchema.timeouts) && SpecSchema.timeouts.notation == "(0, 2592000]")
        // The validators use them: a value outside the range is refused with the schema's words.
        let sparsity = error(Self.stageSpec(#"{ kind = "prune", sparsity = 1.0 }"#).text)
        #expect(sparsity.hasPrefix("spec.toml:6: ") && sparsity.contains("expected a number in [0, 1)"), "\(sparsity)")
        let width = error(Self.stageSpec(#"{ kind = "distill", teacher = { model = "mlp" }, student = { model = "mlp", width = 17.0 } }"#).text)
        #expect(width.hasPrefix("spec.toml:6: ") && width.contains("student.width 17.0: expected a number in (0, 16]"), "\(width)")
    }
}
