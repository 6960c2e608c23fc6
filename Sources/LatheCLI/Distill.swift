import ArgumentParser
import Foundation
import LatheDistill
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// `lathe distill`: one knowledge-distillation run. A cached teacher (trained once per model,
/// data, recipe and seed), a zoo student, distillation loss plugins on logits or tapped
/// layers, then `model.safetensors` (the student) and `metrics.json` (its RunMetrics, with the
/// flip rate and KL against the teacher, plus a `distillation` object: teacher accuracy, terms,
/// weights, adapters, cache use).
struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a student from a cached teacher with distillation loss plugins.",
        discussion: """
            Terms: --loss and --feature take METHOD[:STUDENT_LAYER:TEACHER_LAYER][@WEIGHT]. Response losses (kd/hinton) use the logits and take no layers; feature losses get a learnable adapter when the shapes differ.
              --loss kd/hinton --param temperature=4
              --feature distill/hint:relu3:relu3
              --feature distill/sp:relu4:relu3@3000

            --param NAME=VALUE goes to the one term whose method declares NAME; otherwise qualify it as METHOD:NAME=VALUE or INDEX:NAME=VALUE (1-based, --loss terms first). Without terms the student trains alone (the baseline) and the teacher's accuracy is still reported.

            Weighting: total = ce_weight * CE + sum of weight_i * L_i. ce_weight defaults to 0 when a response loss is present (it carries the label term, as kd/hinton's (1 - alpha) CE), else 1.

            Teachers are cached in --cache (default $LATHE_CACHE/teachers or runs/cache/teachers). The teacher trains with its own architecture's default recipe and the recipe flags, except --teacher-epochs, --teacher-lr and --teacher-seed (default 0, not --seed), so runs over student seeds share one teacher (a convnet teacher of a vit-tiny student trains with SGD, the ViT with AdamW).
            """)

    @Option(help: "Teacher zoo model (default convnet).") var teacher: String?
    @Option(help: "Teacher width multiplier (default 1).") var teacherWidth: Double?
    @Option(help: "Teacher transformer blocks (vit-* only; default: the architecture's).") var teacherDepth: Int?
    @Option(help: "Teacher training epochs (default: --epochs).") var teacherEpochs: Int?
    @Option(help: "Teacher seed (default 0).") var teacherSeed: UInt64?
    @Option(help: "Teacher base learning rate (default: --lr).") var teacherLr: Double?
    @Option(help: "A checkpoint to distil from (e.g. lathe train's model.safetensors): its architecture, width and depth are the teacher's; no teacher is trained or cached.")
    var teacherCheckpoint: String?
    @Option(help: "Student zoo model (default lenet5).") var student: String?
    @Option(help: "Student width multiplier (default 0.5).") var width: Double?
    @Option(help: "Student transformer blocks (vit-* only; default: the architecture's).") var depth: Int?
    @Option(name: .customLong("loss"), help: "Distillation term METHOD[:STUDENT_LAYER:TEACHER_LAYER][@WEIGHT] (repeatable).")
    var losses: [String] = []
    @Option(name: .customLong("feature"), help: "Feature/relation term METHOD:STUDENT_LAYER:TEACHER_LAYER[@WEIGHT] (repeatable).")
    var features: [String] = []
    @Option(name: .customLong("param"), help: "Term hyperparameter [METHOD:|INDEX:]NAME=VALUE (repeatable).")
    var params: [String] = []
    @Option(help: "Weight of the cross-entropy with the labels (default: 0 with a response loss, else 1).") var ceWeight: Double?
    @Option(help: "Feature-loss adapters: auto (when shapes differ), always, never.") var adapters: DistillConfig.AdapterPolicy?
    @Option(help: "A JSON distillation config (snake_case keys) instead of the teacher/student/term flags.") var config: String?
    @Option(help: "Teacher cache folder (default: $LATHE_CACHE/teachers or runs/cache/teachers).") var cache: String?
    @Option(help: "Registry folder (default: $LATHE_REGISTRY, ./registry, or the checkout's registry/).") var registry: String?
    @Option(name: .customLong("out"), help: "Output directory (default: runs/distill-<student>-from-<teacher>-seed<seed>).")
    var outputDirectory: String?
    @Flag(help: "Plain log lines even on a terminal.") var plain = false
    @OptionGroup var recipeOptions: RecipeOptions
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if config != nil {
            let given: [(String, Bool)] = [
                ("--teacher", teacher != nil), ("--teacher-width", teacherWidth != nil), ("--teacher-epochs", teacherEpochs != nil),
                ("--teacher-seed", teacherSeed != nil), ("--teacher-lr", teacherLr != nil), ("--student", student != nil), ("--width", width != nil),
                ("--depth", depth != nil), ("--teacher-depth", teacherDepth != nil),
                ("--loss", !losses.isEmpty), ("--feature", !features.isEmpty), ("--param", !params.isEmpty),
                ("--ce-weight", ceWeight != nil), ("--adapters", adapters != nil), ("--teacher-checkpoint", teacherCheckpoint != nil),
            ]
            if let clash = given.first(where: \.1) {
                throw ValidationError("\(clash.0) cannot be combined with --config: the config file describes the teacher, student and terms")
            }
        }
        if teacherCheckpoint != nil {
            let given: [(String, Bool)] = [
                ("--teacher", teacher != nil), ("--teacher-width", teacherWidth != nil), ("--teacher-depth", teacherDepth != nil),
                ("--teacher-epochs", teacherEpochs != nil), ("--teacher-seed", teacherSeed != nil), ("--teacher-lr", teacherLr != nil),
            ]
            if let clash = given.first(where: \.1) {
                throw ValidationError("\(clash.0) cannot be combined with --teacher-checkpoint: the checkpoint is the teacher, trained already")
            }
        }
        if let n = teacherEpochs, !(0...Recipe.maxEpochs).contains(n) { throw ValidationError("--teacher-epochs \(n): expected an integer in 0...\(Recipe.maxEpochs)") }
        for (flag, value) in [("--width", width), ("--teacher-width", teacherWidth)] {
            if let v = value, !(v > 0 && v <= 16) { throw ValidationError("\(flag) \(v): expected a number in (0, 16]") }
        }
        try DepthOption.check(teacherDepth, model: teacher ?? "convnet", flag: "--teacher-depth")
        try DepthOption.check(depth, model: student ?? "lenet5", flag: "--depth")
        if let w = ceWeight, !(w.isFinite && w >= 0) { throw ValidationError("--ce-weight \(w): expected a finite number ≥ 0") }
        for spec in losses + features { _ = try TermSpec(parsing: spec) }
        for spec in features where try TermSpec(parsing: spec).studentLayer == nil {
            throw ValidationError("--feature '\(spec)': expected METHOD:STUDENT_LAYER:TEACHER_LAYER[@WEIGHT]")
        }
    }

    /// A term as written on the command line.
    struct TermSpec {
        var method: String
        var studentLayer: String?
        var teacherLayer: String?
        var weight: Double = 1

        init(parsing text: String) throws {
            var body = Substring(text)
            if let at = body.lastIndex(of: "@") {
                let raw = body[body.index(after: at)...]
                guard let w = Double(raw), w.isFinite, w >= 0 else {
                    throw ValidationError("'\(text)': weight '\(raw)' after @ must be a finite number ≥ 0")
                }
                weight = w
                body = body[..<at]
            }
            let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            switch parts.count {
            case 1:
                method = parts[0]
            case 3 where !parts[1].isEmpty && !parts[2].isEmpty:
                (method, studentLayer, teacherLayer) = (parts[0], parts[1], parts[2])
            default:
                throw ValidationError("'\(text)': expected METHOD or METHOD:STUDENT_LAYER:TEACHER_LAYER, optionally followed by @WEIGHT")
            }
            guard method.split(separator: "/").count == 2 else {
                throw ValidationError("'\(text)': method '\(method)' must be PLUGIN/METHOD, e.g. kd/hinton or distill/hint")
            }
        }
    }

    /// The config the flags describe; hyperparameters are parsed against the registry's declarations.
    func makeConfig(_ registry: Registry) throws -> DistillConfig {
        if let path = config { return try DistillConfig.read(path: path) }
        let specs = try (losses + features).map(TermSpec.init(parsing:))
        var terms = specs.map {
            DistillConfig.Term(method: $0.method, studentLayer: $0.studentLayer, teacherLayer: $0.teacherLayer, weight: $0.weight)
        }
        let descriptors = try terms.map { term -> (String, MethodDescriptor) in
            let (manifest, method) = try registry.resolve(term.method)
            return (manifest.plugin.name, method)
        }
        for text in params {
            guard let eq = text.firstIndex(of: "=") else { throw ValidationError("--param '\(text)': expected [METHOD:|INDEX:]NAME=VALUE") }
            let lhs = text[..<eq], value = String(text[text.index(after: eq)...])
            let target: Int
            let name: String
            if let colon = lhs.lastIndex(of: ":") {
                let selector = String(lhs[..<colon])
                name = String(lhs[lhs.index(after: colon)...])
                if let index = Int(selector) {
                    guard (1...terms.count).contains(index) else {
                        throw ValidationError("--param '\(text)': term \(index) does not exist (there are \(terms.count) terms)")
                    }
                    target = index - 1
                } else {
                    let matches = terms.indices.filter { terms[$0].method == selector }
                    guard matches.count == 1, let only = matches.first else {
                        throw ValidationError(matches.isEmpty
                            ? "--param '\(text)': no term uses method '\(selector)' (terms: \(terms.map(\.method).joined(separator: ", ")))"
                            : "--param '\(text)': \(matches.count) terms use \(selector); select one by index, e.g. \(matches[0] + 1):\(name)=\(value)")
                    }
                    target = only
                }
            } else {
                name = String(lhs)
                let matches = terms.indices.filter { descriptors[$0].1.params.contains { $0.name == name } }
                guard matches.count == 1, let only = matches.first else {
                    let declared = terms.indices.map { i in
                        "\(terms[i].method) takes \(descriptors[i].1.params.isEmpty ? "none" : descriptors[i].1.params.map(\.name).joined(separator: ", "))"
                    }
                    throw ValidationError(matches.isEmpty
                        ? "--param '\(text)': no term's method declares a parameter '\(name)'" + (terms.isEmpty ? " (there are no terms)" : " (\(declared.joined(separator: "; ")))")
                        : "--param '\(text)': several terms declare '\(name)'; qualify it as METHOD:\(name)=VALUE or INDEX:\(name)=VALUE")
                }
                target = only
            }
            let (plugin, descriptor) = descriptors[target]
            let parsed = try descriptor.parse(assignments: ["\(name)=\(value)"], plugin: plugin)
            terms[target].params.merge(parsed) { _, new in new }
        }
        var teacherRecipe = RecipeOverrides()
        teacherRecipe.epochs = teacherEpochs
        teacherRecipe.seed = teacherSeed
        teacherRecipe.learningRate = teacherLr
        return DistillConfig(
            teacher: .init(model: teacher ?? "convnet", width: teacherWidth ?? 1, depth: teacherDepth, recipe: teacherRecipe),
            student: .init(model: student ?? "lenet5", width: width ?? 0.5, depth: depth),
            terms: terms, ceWeight: ceWeight, adapters: adapters ?? .auto)
    }

    func run() throws {
        engine.apply()
        let reg = try Registry(directory: registry ?? Registry.defaultDirectory())
        var config = try makeConfig(reg)
        if let teacherCheckpoint {
            // The checkpoint's own architecture and options are the teacher's.
            let given = try Checkpoint.load(teacherCheckpoint).model
            config.teacher = .init(model: given.architecture, width: given.options.width, depth: given.options.depth, checkpoint: teacherCheckpoint)
        }
        // Each model's defaults with the recipe flags; the teacher's own flags apart.
        let recipe = recipeOptions.recipe(for: config.student.model)
        let teacherBase = recipeOptions.recipe(for: config.teacher.model)
        try config.validate(base: recipe, teacherBase: teacherBase)
        let out = outputDirectory ?? "runs/distill-\(config.student.model)-from-\(config.teacher.model)-seed\(recipe.seed)"
        let progress = ProgressReporter(style: plain ? .lines : nil)
        let (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: engine.limitTrain, limitTest: engine.limitTest)
        let cache = TeacherCache(directory: cache ?? TeacherCache.defaultDirectory())
        let (model, report) = try DistillationStage.run(
            config, train: train, test: test, dataset: engine.dataset.rawValue, recipe: recipe, teacherBase: teacherBase,
            registry: reg, cache: cache, progress: progress)
        // The student against the model it compresses: its teacher, as cached or given.
        let teacherModel = try Checkpoint.load(report.teacher.cachePath).model
        var metrics = try RunMetrics.measure(
            model, dataset: engine.dataset.rawValue, test: test, recipe: recipe, training: report.training, threads: engine.threads,
            reference: teacherModel, latency: engine.latencyPlan)
        metrics.backendLatency = try engine.backendLatency(model, reference: teacherModel)
        let context = ForwardContext(training: false)
        metrics.record(try Agreement.measure(on: test, baseline: { try teacherModel.forward($0, context) },
                                             compressed: { try model.forward($0, context) }))
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Checkpoint.save(model, to: "\(out)/model.safetensors", metadata: [
            "lathe.dataset": engine.dataset.rawValue,
            "lathe.distill.teacher": "\(config.teacher.model)@\(config.teacher.width)",
            "lathe.distill.terms": report.terms.map(\.method).joined(separator: ","),
        ])
        try DistillMetrics(run: metrics, distillation: report).write(to: "\(out)/metrics.json")
        print(metrics.headline)
        print(String(format: "teacher %@ (width %g): test %@ %.2f%% (%@)", report.teacher.model, report.teacher.width, (metrics.task ?? .classification).primaryMetric,
                     100 * report.teacher.accuracy, report.teacher.cacheHit ? "from cache" : "trained and cached"))
        let terms = report.terms.map { term in
            let layers = term.studentLayer.map { ":\($0):\(term.teacherLayer ?? "")" } ?? ""
            return "\(term.method)\(layers) × \(term.weight)"
        }
        print("terms: \(terms.isEmpty ? "none (student alone)" : terms.joined(separator: ", ")); ce_weight \(report.ceWeight)")
        print("checkpoint: \(out)/model.safetensors")
        print("metrics: \(out)/metrics.json")
    }
}

extension DistillConfig.AdapterPolicy: ExpressibleByArgument {}
