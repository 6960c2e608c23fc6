import Foundation
import Testing

/// `lathe distill` end to end: real child processes, the registry's plugin libraries, real data.
@Suite("lathe distill", .serialized)
struct DistillCommandTests {
    static let registry = PluginCommandTests.root.appendingPathComponent("registry").path

    /// Common flags for a quick run on a few hundred images.
    static func quick(_ dir: URL) -> [String] {
        ["--limit-train", "300", "--limit-test", "100", "--threads", "1", "--batch-size", "50", "--plain",
         "--registry", registry, "--cache", dir.appendingPathComponent("cache").path]
    }

    /// Every distillation loss passes the conformance checker through the registry: descriptors,
    /// determinism, finite outputs, gradient vs central finite differences, thread safety.
    @Test(arguments: ["distill", "kd"])
    func lossPluginPassesCheck(plugin: String) throws {
        let result = try CLIRunner.run(["plugins", "check", plugin, "--registry", Self.registry])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("result: PASS"), "\(result.stdout)")
        #expect(!result.stdout.contains("FAIL"), "\(result.stdout)")
        if plugin == "distill" {
            let ids = ["hint", "attention", "cwd", "attention-map", "rkd-distance", "rkd-angle", "sp", "dkd", "crd"]
            for id in ids {
                #expect(result.stdout.contains("distill/\(id) (loss)"), "\(id) missing")
            }
            // One gradient check per loss (CRD's covers its learnables too).
            #expect(result.stdout.components(separatedBy: "pass  gradient vs finite differences").count == ids.count + 1)
            // The attention-map loss refuses flat features: the checker gives it attention maps.
            #expect(result.stdout.contains("inputs unchanged (on attention maps [B, 4, 5, 5]: it refuses flat features)"), "\(result.stdout)")
        }
    }

    @Test func badInputFailsClearlyWithoutOutputs() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        let cases: [([String], String)] = [
            (["--loss", "kd/nope"], "plugin 'kd' has no method 'nope'"),
            (["--loss", "nokd/hinton"], "no plugin 'nokd'"),
            (["--loss", "uniform/affine"], "is a quantizer, not a distillation loss"),
            (["--feature", "distill/hint:fc9:relu3"], "student_layer 'fc9'"),
            (["--feature", "distill/hint:relu3:nope"], "teacher_layer 'nope'"),
            (["--feature", "distill/hint"], "expected METHOD:STUDENT_LAYER:TEACHER_LAYER"),
            (["--loss", "kd/hinton", "--param", "temp=4"], "no term's method declares a parameter 'temp'"),
            (["--loss", "kd/hinton", "--param", "temperature=hot"], "'temperature' = 'hot' is not a valid f32"),
            (["--loss", "kd/hinton", "--param", "alpha=3"], "alpha"),
            (["--loss", "kd/hinton@-1"], "weight '-1'"),
            (["--loss", "kd/hinton", "--loss", "kd/hinton", "--param", "temperature=3"], "several terms declare 'temperature'"),
            (["--loss", "kd/hinton", "--loss", "kd/hinton", "--param", "kd/hinton:temperature=3"], "select one by index, e.g. 1:temperature=3"),
            (["--loss", "kd/hinton", "--param", "2:alpha=0.5"], "term 2 does not exist"),
            (["--teacher", "vgg", "--loss", "kd/hinton"], "teacher.model 'vgg'"),
            (["--config", "x.json", "--teacher", "mlp"], "cannot be combined with --config"),
            (["--config", dir.appendingPathComponent("missing.json").path], "missing.json"),
        ]
        for (arguments, expected) in cases {
            let result = try CLIRunner.run(["distill", "--epochs", "1", "--out", out.path] + Self.quick(dir) + arguments)
            #expect(result.status != 0, "\(arguments): exit \(result.status)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(arguments): left outputs behind")
        }
        // Bad inputs are caught before any teacher is trained.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path))
    }

    @Test func smallRunWritesCheckpointAndMetricsAndReusesTheTeacher() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let arguments = ["distill", "--teacher", "mlp", "--teacher-width", "0.5", "--teacher-epochs", "2", "--student", "lenet5",
                         "--width", "0.5", "--loss", "kd/hinton", "--param", "temperature=3", "--feature", "distill/hint:relu3:relu2@0.5",
                         "--feature", "distill/sp:relu4:relu2@100", "--epochs", "1", "--seed", "2", "--out", out.path] + Self.quick(dir)
        let result = try CLIRunner.run(arguments)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("trained and cached"), "\(result.stdout)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path))
        let data = try Data(contentsOf: out.appendingPathComponent("metrics.json"))
        let metrics = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(metrics["model"] as? String == "lenet5")
        #expect((metrics["accuracy"] as? Double ?? 0) > 0.1)
        // The student against its teacher, as quantize and prune record against their fp32 model:
        // a one-epoch student on 300 images disagrees with its teacher somewhere in 100 test images.
        let flipRate = try #require(metrics["flipRate"] as? Double, "metrics.json lacks flipRate")
        #expect(flipRate > 0 && flipRate <= 1)
        #expect(try #require(metrics["klToBaseline"] as? Double, "metrics.json lacks klToBaseline") > 0)
        let distillation = try #require(metrics["distillation"] as? [String: Any])
        let teacher = try #require(distillation["teacher"] as? [String: Any])
        #expect(teacher["model"] as? String == "mlp")
        #expect((teacher["accuracy"] as? Double ?? 0) > 0.3)
        #expect(teacher["cache_hit"] as? Bool == false)
        #expect(distillation["ce_weight"] as? Double == 0)
        let terms = try #require(distillation["terms"] as? [[String: Any]])
        #expect(terms.compactMap { $0["method"] as? String } == ["kd/hinton", "distill/hint", "distill/sp"])
        #expect((terms[0]["params"] as? [String: Any])?["temperature"] as? Double == 3)
        #expect((terms[1]["adapter"] as? [String: Any])?["kind"] as? String == "linear")
        #expect(terms[2]["weight"] as? Double == 100)

        // The student checkpoint evaluates with the ordinary command.
        let eval = try CLIRunner.run(["eval", out.appendingPathComponent("model.safetensors").path, "--limit-test", "100", "--threads", "1"])
        #expect(eval.status == 0, "\(eval.stderr)")

        // A second run with the same teacher settings loads it from the cache.
        let again = try CLIRunner.run(["distill", "--teacher", "mlp", "--teacher-width", "0.5", "--teacher-epochs", "2", "--student", "mlp",
                                       "--width", "0.25", "--epochs", "1", "--out", dir.appendingPathComponent("alone").path] + Self.quick(dir))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("from cache"), "\(again.stdout)")
        #expect(again.stdout.contains("none (student alone)"), "\(again.stdout)")
    }

    @Test func configFileRun() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("distill.json")
        try Data("""
            {"teacher": {"model": "mlp", "width": 0.25, "recipe": {"epochs": 1}},
             "student": {"model": "mlp", "width": 0.25},
             "terms": [{"method": "distill/rkd-angle", "student_layer": "relu2", "teacher_layer": "relu2", "weight": 50}]}
            """.utf8).write(to: config)
        let result = try CLIRunner.run(["distill", "--config", config.path, "--epochs", "1", "--out", dir.appendingPathComponent("out").path] + Self.quick(dir))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("distill/rkd-angle:relu2:relu2 × 50.0"), "\(result.stdout)")
        #expect(result.stdout.contains("ce_weight 1.0"), "\(result.stdout)")

        try Data(#"{"teacher": {"model": "mlp"}, "student": {"model": "mlp"}, "terms": [], "ce_wieght": 1}"#.utf8).write(to: config)
        let typo = try CLIRunner.run(["distill", "--config", config.path, "--out", dir.appendingPathComponent("typo").path] + Self.quick(dir))
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("unknown key 'ce_wieght'"), "\(typo.stderr)")
    }
}
