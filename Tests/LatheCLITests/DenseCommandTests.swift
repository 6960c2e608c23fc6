import Foundation
import LatheDetection
import Testing

/// `lathe data`, and `lathe train` / `eval` / `distill` on the canvases, as a user runs them.
@Suite("lathe data / train / eval on fmnist-detect and fmnist-seg")
struct DenseCommandTests {
    @Test func dataGeneratesThenVerifiesAndWritesCOCO() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["data", "fmnist-seg", "--cache", "cache", "--limit-train", "6", "--limit-val", "2", "--limit-test", "4", "--coco-out", "gt.json"]
        let first = try CLIRunner.run(args, in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("train generated 6 canvases") && first.stdout.contains("test  generated 4 canvases"), "\(first.stdout)")
        let again = try CLIRunner.run(args, in: dir)
        #expect(again.stdout.contains("train verified  6 canvases"), "\(again.stdout)")
        let coco = try COCODataset.read(path: dir.appendingPathComponent("gt.json").path)
        #expect(coco.images.count == 4 && !coco.annotations.isEmpty && coco.categories.count == 10)
        let bad = try CLIRunner.run(["data", "fashion-mnist"], in: dir)
        #expect(bad.status != 0 && bad.stderr.contains("fmnist-detect or fmnist-seg"), "\(bad.stderr)")
    }

    @Test func trainEvalAndDistillADetector() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = ["--dataset", "fmnist-detect", "--limit-train", "16", "--limit-test", "8", "--threads", "1"]
        let train = try CLIRunner.run(["train", "--model", "centernet", "--epochs", "1", "--batch-size", "8", "--no-latency", "--plain", "--out", "run"] + data, in: dir)
        #expect(train.status == 0, "\(train.stderr)")
        let metricsData = try Data(contentsOf: dir.appendingPathComponent("run/metrics.json"))
        let metrics = try #require(try JSONSerialization.jsonObject(with: metricsData) as? [String: Any])
        #expect(metrics["task"] as? String == "detection")
        let map = try #require(metrics["accuracy"] as? Double)
        let scores = try #require(metrics["scores"] as? [String: Double])
        #expect(scores["map"] == map && scores["map50"] != nil)
        let eval = try CLIRunner.run(["eval", "run/model.safetensors", "--no-latency"] + data, in: dir)
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stdout.contains(String(format: "test map %.2f%%", 100 * map)), "\(eval.stdout)")
        // int8 with static activations: every score is the quantized model's (mAP equals the
        // accuracy column), and a detector records no flip rate (no class distribution to flip).
        let quantize = try CLIRunner.run(["quantize", "--checkpoint", "run/model.safetensors", "--method", "uniform/symmetric", "--param", "bits=8",
                                          "--activations", "static", "--no-latency", "--out", "q"] + data, in: dir)
        #expect(quantize.status == 0, "\(quantize.stderr)")
        let q = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("q/metrics.json"))) as? [String: Any])
        let qm = try #require(q["metrics"] as? [String: Any])
        #expect((qm["scores"] as? [String: Double])?["map"] == qm["accuracy"] as? Double && qm["flipRate"] == nil, "\(qm["scores"] ?? "")")
        // A classifier on boxes is refused with what the task needs.
        let classifier = try CLIRunner.run(["train", "--model", "lenet5", "--epochs", "1", "--out", "bad"] + data, in: dir)
        #expect(classifier.status != 0 && classifier.stderr.contains("CenterNet maps"), "\(classifier.stderr)")
        // Response distillation compares class logits: refused on maps, naming the term.
        let kd = try CLIRunner.run(["distill", "--teacher", "centernet", "--student", "centernet", "--loss", "kd/hinton", "--teacher-epochs", "1",
                                    "--epochs", "1", "--out", "kd", "--cache", "teachers"] + data, in: dir)
        #expect(kd.status != 0 && kd.stderr.contains("kd/hinton") && kd.stderr.contains("feature"), "\(kd.stderr)")
    }

    /// `lathe export --verify` of a segmenter scores ONNX Runtime's outputs as the task does
    /// (mIoU of the per-pixel argmax), equal to `lathe eval`'s figure, not as image classes.
    /// Both take the data set from the checkpoint when `--dataset` is left out, and refuse one
    /// that differs from it.
    @Test func aSegmenterExportIsVerifiedByItsMIoU() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = ["--limit-train", "16", "--limit-test", "8", "--threads", "1"]
        let train = try CLIRunner.run(["train", "--model", "fpn-seg", "--epochs", "1", "--batch-size", "8", "--no-latency", "--plain", "--out", "run",
                                       "--dataset", "fmnist-seg"] + data, in: dir)
        #expect(train.status == 0, "\(train.stderr)")
        let wrong = try CLIRunner.run(["quantize", "--checkpoint", "run/model.safetensors", "--dataset", "fashion-mnist", "--no-latency"] + data, in: dir)
        #expect(wrong.status != 0 && wrong.stderr.contains("--dataset fashion-mnist differs") && wrong.stderr.contains("(fmnist-seg)"), "\(wrong.stderr)")
        let eval = try CLIRunner.run(["eval", "run/model.safetensors", "--no-latency"] + data, in: dir)
        let miou = try #require(eval.stdout.split(separator: "\n").first { $0.contains("test miou ") }.flatMap { line in
            line.split(separator: " ").first { $0.hasSuffix("%") }.map { String($0.dropLast()) }
        }, "\(eval.stdout)")
        #expect((Double(miou) ?? 0) > 0, "an untrained segmenter still scores the background: \(eval.stdout)")
        let export = try CLIRunner.run(["export", "run/model.safetensors", "-o", "seg.onnx", "--verify"] + data, in: dir)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("ONNX Runtime check on 8 test images: miou \(miou)% (Lathe \(miou)%)"), "\(export.stdout)")
    }

    /// A detection sweep: its progress names the task's metric, physical channel pruning runs on
    /// the detector (backbone, pyramid and head groups) inside a trial, and the canvases are
    /// generated into the sweep's cache.
    @Test func aDetectionSweepNamesItsMetricAndPrunesPhysically() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("det.toml")
        try Data("""
            name = "det"
            model = "centernet"
            dataset = "fmnist-detect"
            seeds = [0]
            limit_train = 16
            limit_test = 8

            [baseline]
            epochs = 1
            batch_size = 8

            [[groups]]
            name = "prune-30"
            stages = [{ kind = "prune", criterion = "prune/l1-filter", sparsity = 0.3, physical = true, finetune_epochs = 0 }]

            [[groups]]
            name = "w8a8"
            stages = [{ kind = "quantize", method = "uniform/symmetric", params = { bits = 8, per_channel = true }, activations = "static", calibration_batches = 1 }]
            """.utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let sweep = try CLIRunner.run(["sweep", spec.path, "--out", out, "--workers", "1", "--threads", "1", "--no-report", "--plain", "--no-latency",
                                       "--cache", "cache"], in: dir)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        #expect(sweep.stderr.contains("done prune-30 seed 0: map ") && sweep.stderr.contains("done w8a8 seed 0: map "), "\(sweep.stderr)")
        // Beside the primary metric (the accuracy column holds mAP), the trials record mAP@.5 and @.75.
        let scores = try SweepCommandTests.sqlite(out + "/results.db", """
            SELECT t.grp, SUM(m.name = 'map50'), SUM(m.name = 'map75'), SUM(m.name = 'map') FROM trials t JOIN metrics m ON m.trial_id = t.id GROUP BY t.grp ORDER BY t.grp
            """)
        #expect(scores == ["baseline|1|1|0", "prune-30|1|1|0", "w8a8|1|1|0"], "\(scores)")
        let removed = try SweepCommandTests.sqlite(out + "/results.db", """
            SELECT m.value FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.grp = 'prune-30' AND m.name = 'params_removed'
            """)
        #expect((removed.first.flatMap { Double($0) } ?? 0) > 0, "\(removed)")
        // The trials generated the canvases once, into the sweep's cache, not the working directory's runs/.
        let datasets = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/datasets").path)
        #expect(datasets.count == 1 && datasets[0].hasPrefix("fmnist-canvas-"), "\(datasets)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
        // The baseline's mAP was computed once and kept beside its checkpoint; every trial read it.
        let models = dir.appendingPathComponent("cache/models")
        let kept = try FileManager.default.contentsOfDirectory(atPath: models.path).filter { $0.contains(".safetensors.map-") }
        #expect(kept.count == 1, "\(kept)")
        let keptValue = try kept.first.map { try String(contentsOf: models.appendingPathComponent($0), encoding: .utf8) }
        let recorded = try SweepCommandTests.sqlite(out + "/results.db", "SELECT DISTINCT value FROM metrics WHERE name = 'baseline_accuracy'")
        #expect(recorded.count == 1 && keptValue.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } == Double(recorded[0]),
                "\(recorded) vs \(keptValue ?? "none")")
        // Detectors record no flip rate or KL (no class distribution per image), and the report
        // names the task's metric on its axes instead of top-1 and has no agreement columns.
        #expect(try SweepCommandTests.sqlite(out + "/results.db", "SELECT COUNT(*) FROM metrics WHERE name IN ('flip_rate', 'kl_to_baseline')") == ["0"])
        let report = try CLIRunner.run(["report", out + "/results.db", "-o", out + "/report"])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: out + "/report/report.html", encoding: .utf8)
        #expect(html.contains("mAP@[.5:.95] (%)") && !html.contains("top-1 accuracy (%)") && !html.contains("Flips vs baseline"))
    }
}
