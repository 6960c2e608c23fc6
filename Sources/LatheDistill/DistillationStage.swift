import Foundation
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// The distillation stage: resolves a `DistillConfig` against the registry and the zoo, gets
/// the teacher from the cache (training it once), and trains the student with the host's
/// cross-entropy plus the plugin terms. This is the entry point a sweep runner calls.
///
/// Per training step, for a batch `x, y`:
/// 1. the student runs forward with taps on its terms' layers; the teacher runs forward in
///    evaluation mode without gradients with taps on its layers;
/// 2. each term gets its student tensor (the logits for response losses, else the tapped
///    layer, through the term's adapter when it has one) and its teacher tensor, and its
///    plugin returns `(loss, ∂loss/∂student)` for the detached student tensor;
/// 3. the gradient enters autograd through `GradientInjection.surrogate`, so backpropagation
///    carries it into the student (and the adapter);
/// 4. the total is `ce_weight · CE + Σ weightᵢ · Lᵢ` (see `DistillConfig` for the default
///    `ce_weight`). The trainer always adds CE with weight 1, so the stage adds
///    `(ce_weight − 1) · CE` (the same cross-entropy, same label smoothing).
public enum DistillationStage {
    /// One resolved term.
    public struct ResolvedTerm {
        /// Position in the config's `terms`.
        public let index: Int
        public let term: DistillConfig.Term
        public let method: PluginMethod
        public let params: BoundParams
        public var category: LossCategory { method.descriptor.lossCategory }
        /// Per-sample student tensor shape (before the adapter) and teacher tensor shape.
        public let studentShape: [Int]
        public let teacherShape: [Int]
        /// The adapter on the student tensor, if any.
        public let adapter: Adapter?
        /// The term's instance of its method: its learnables (e.g. CRD's embedding heads,
        /// trained with the student) and state (e.g. a memory bank), and the call context.
        public let instance: MethodInstance

        /// `terms[i] (plugin/method)`, for messages.
        public var label: String { "terms[\(index)] (\(term.method))" }
    }

    /// Everything resolved before any training: models' options, recipes, terms, weights.
    public struct Plan {
        public let config: DistillConfig
        /// The student's recipe (the run's).
        public let recipe: Recipe
        /// The teacher's recipe (its base with the teacher overrides; seed 0 unless overridden).
        public let teacherRecipe: Recipe
        public let studentOptions: ModelOptions
        public let teacherOptions: ModelOptions
        public let terms: [ResolvedTerm]
        /// The effective cross-entropy weight.
        public let ceWeight: Double
        /// Why `ceWeight` has its value.
        public let ceWeightRule: String

        /// The adapters' parameters, trained with the student.
        public var adapterParameters: [Tensor] { terms.compactMap(\.adapter).flatMap(\.parameters) }
        /// The terms' learnable tensors (e.g. projection heads), trained with the student.
        public var learnableParameters: [Tensor] { terms.flatMap(\.instance.learnables) }
    }

    /// Resolves `config`: zoo names, teacher recipe, each term's method (a loss, loaded from the
    /// registry with its sha256 verified), hyperparameters, layers, shapes and adapters. Each
    /// term is called once on a probe batch, so a shape its plugin rejects fails here, before
    /// any training. Errors name the term, the key and the value. The teacher's recipe is
    /// `teacherBase` (default: `Teacher.baseRecipe(run: recipe, student:)`) with the teacher's
    /// overrides.
    public static func prepare(_ config: DistillConfig, train: ImageDataset, recipe: Recipe, teacherBase: Recipe? = nil,
                               registry: Registry) throws -> Plan {
        try recipe.validate()
        try config.validate(base: recipe, teacherBase: teacherBase)
        let studentOptions = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount,
                                          width: config.student.width, depth: config.student.depth)
        let teacherOptions = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount,
                                          width: config.teacher.width, depth: config.teacher.depth)
        let student = try Zoo.make(config.student.model, options: studentOptions, seed: recipe.seed)
        let teacher = try Zoo.make(config.teacher.model, options: teacherOptions)

        // Methods and layers first (cheap, clear errors), then shapes from one probe pass.
        var methods: [(PluginMethod, BoundParams)] = []
        for (index, term) in config.terms.enumerated() {
            let label = "terms[\(index)] (\(term.method))"
            let (manifest, descriptor) = try wrap(label) { try registry.resolve(term.method) }
            guard descriptor.kind == .loss else {
                throw DistillError.invalidTerm("\(label): '\(term.method)' is a \(descriptor.kind.rawValue), not a distillation loss")
            }
            let params = try wrap(label) { try descriptor.bind(term.params, plugin: manifest.plugin.name) }
            switch descriptor.lossCategory {
            case .response:
                guard train.task == .classification else {
                    throw DistillError.invalidTerm("\(label): a response loss compares class logits, and the \(train.task.rawValue) models output maps; distill their features (e.g. --feature distill/hint:neck.p2:neck.p2)")
                }
                if term.studentLayer != nil || term.teacherLayer != nil {
                    throw DistillError.invalidTerm("\(label): a response loss distills the logits; remove student_layer/teacher_layer")
                }
            case .feature, .relation:
                try requireLayer(term.studentLayer, in: student, role: "student", key: "student_layer", label: label)
                try requireLayer(term.teacherLayer, in: teacher, role: "teacher", key: "teacher_layer", label: label)
            case .none:
                throw DistillError.invalidTerm("\(label): the method declares no loss category")
            }
            let method = try wrap(label) { try registry.method(term.method) }
            methods.append((method, params))
        }

        let probeCount = Swift.min(Swift.max(train.count, 1), 4)
        let (x, batchTarget) = try probeBatch(train, count: probeCount)
        let y = try termLabels(batchTarget, task: train.task)
        let (studentLogits, studentTaps) = try forwardWithTaps(student, x, Set(config.terms.compactMap(\.studentLayer)))
        let (teacherLogits, teacherTaps) = try forwardWithTaps(teacher, x, Set(config.terms.compactMap(\.teacherLayer)))

        var terms: [ResolvedTerm] = []
        for (index, term) in config.terms.enumerated() {
            let (method, params) = methods[index]
            let label = "terms[\(index)] (\(term.method))"
            let s: Tensor, t: Tensor
            if method.descriptor.lossCategory == .response {
                (s, t) = (studentLogits, teacherLogits)
            } else {
                guard let studentLayer = term.studentLayer, let tapped = studentTaps[studentLayer],
                      let teacherLayer = term.teacherLayer, let teacherTapped = teacherTaps[teacherLayer] else {
                    throw DistillError.invalidTerm("\(label): the layers produced no output to tap")
                }
                (s, t) = (tapped, teacherTapped)
            }
            let studentShape = Array(s.shape.dropFirst()), teacherShape = Array(t.shape.dropFirst())
            var adapter: Adapter?
            if method.descriptor.lossCategory == .feature, config.adapters == .always || studentShape != teacherShape {
                guard config.adapters != .never else {
                    throw DistillError.invalidTerm(
                        "\(label): student '\(term.studentLayer ?? "")' gives \(studentShape) per sample and teacher '\(term.teacherLayer ?? "")' gives \(teacherShape); a feature loss needs equal shapes (use adapters auto or always)")
                }
                adapter = try Adapter(student: studentShape, teacher: teacherShape, label: label,
                                      seed: recipe.seed &* 0x9E37_79B9 &+ UInt64(index) &+ 0xADA9)
            }
            // The learnables initialised from the probe batch; one call on it, by a throwaway
            // instance (its state must not outlive the probe), runs the plugin's own shape checks
            // before any training.
            let adapted = try withNoGrad { try adapter.map { try $0(s) } ?? s }
            let context = callContext(term, category: method.descriptor.lossCategory, position: nil)
            let instance = MethodInstance(method: method, params: params)
            try wrap(label) { try instance.initialize(student: adapted, teacher: t, context: context) }
            let probe = MethodInstance(method: method, params: params)
            _ = try wrap(label) {
                try probe.initialize(student: adapted, teacher: t, context: context)
                return try probe.loss(student: adapted, teacher: t, labels: y, context: context)
            }
            terms.append(ResolvedTerm(index: index, term: term, method: method, params: params,
                                      studentShape: studentShape, teacherShape: teacherShape, adapter: adapter, instance: instance))
        }

        let ceWeight: Double, rule: String
        if let explicit = config.ceWeight {
            (ceWeight, rule) = (explicit, "explicit ce_weight")
        } else if let response = terms.first(where: { $0.category == .response }) {
            (ceWeight, rule) = (0, "default: 0 because \(response.term.method) is a response loss and carries the label term itself")
        } else {
            (ceWeight, rule) = (1, "default: 1 (no response loss among the terms)")
        }
        return Plan(config: config, recipe: recipe, teacherRecipe: config.teacher.trainingRecipe(base: teacherBase ?? config.teacher.baseRecipe(run: recipe, student: config.student.model)),
                    studentOptions: studentOptions, teacherOptions: teacherOptions, terms: terms,
                    ceWeight: ceWeight, ceWeightRule: rule)
    }

    /// Runs a distillation: prepares `config`, gets the teacher from `cache` (training it on
    /// `train` on a miss), trains a fresh student (`Zoo.make(student, seed: recipe.seed)`) with
    /// `recipe`, and evaluates both on `test`. `dataset` names the data for the cache key. A
    /// teacher with a `checkpoint` is loaded from it instead (`givenTeacher`).
    /// With no terms and `ce_weight` 1 the student trains exactly as `lathe train` would.
    public static func run(
        _ config: DistillConfig, train: ImageDataset, test: ImageDataset, dataset: String, recipe: Recipe, teacherBase: Recipe? = nil,
        registry: Registry, cache: TeacherCache, progress: ProgressReporter = ProgressReporter(style: .silent)
    ) throws -> (student: Model, report: DistillReport) {
        let plan = try prepare(config, train: train, recipe: recipe, teacherBase: teacherBase, registry: registry)
        let teacherCheckpoint = config.teacher.checkpoint

        let teacher: Model, teacherSource: (digest: String, path: String, hit: Bool, training: TrainingSummary?)
        if let teacherCheckpoint {
            (teacher, teacherSource.digest) = try givenTeacher(teacherCheckpoint, config: config, options: plan.teacherOptions, dataset: dataset)
            teacherSource.path = teacherCheckpoint
            (teacherSource.hit, teacherSource.training) = (true, nil)
        } else {
            let key = TeacherKey(model: config.teacher.model, options: plan.teacherOptions, dataset: dataset, train: train, recipe: plan.teacherRecipe)
            let entry = try cache.teacher(for: key, train: train, progress: progress)
            teacher = entry.model
            teacherSource = (entry.digest, entry.path, entry.hit, entry.training)
        }
        let teacherEval = try Evaluation.evaluate(teacher, on: test)
        progress.note(String(format: "teacher %@: test %@ %.2f%% (%@)", config.teacher.model, test.task.primaryMetric, 100 * teacherEval.accuracy,
                             teacherCheckpoint != nil ? "given \(teacherSource.path)" : teacherSource.hit ? "cached \(teacherSource.path)" : "trained now"))

        let student = try Zoo.make(config.student.model, options: plan.studentOptions, seed: recipe.seed)
        let stats = TermStatistics(terms: plan.terms.count, stepsPerEpoch: (train.count + recipe.batchSize - 1) / recipe.batchSize, epochs: recipe.epochs)
        var trainer = Trainer(recipe: recipe, progress: progress)
        trainer.extraParameters = plan.adapterParameters + plan.learnableParameters
        if !plan.terms.isEmpty || plan.ceWeight != 1 {
            let studentTaps = Set(plan.terms.compactMap(\.term.studentLayer))
            let teacherTaps = Set(plan.terms.compactMap(\.term.teacherLayer))
            let terms = plan.terms, ceWeight = plan.ceWeight, smoothing = recipe.labelSmoothing, task = train.task
            trainer.configureContext = { context in context.taps.formUnion(studentTaps) }
            trainer.extraLoss = { context, images, labels, logits in
                try distillationLoss(
                    terms: terms, ceWeight: ceWeight, labelSmoothing: smoothing, teacher: teacher, teacherTaps: teacherTaps,
                    context: context, images: images, labels: labels, logits: logits, stats: stats, task: task)
            }
        }
        progress.note("distilling \(config.teacher.model) → \(config.student.model) (width \(config.student.width), \(student.parameterCount) parameters); ce_weight \(plan.ceWeight)" +
                      plan.terms.map { ", \($0.term.method) × \($0.term.weight)" }.joined())
        let summary = try trainer.train(student, on: train)
        let studentEval = try Evaluation.evaluate(student, on: test)

        let report = DistillReport(
            teacher: .init(model: config.teacher.model, width: config.teacher.width, parameters: teacher.parameterCount,
                           accuracy: teacherEval.accuracy, testLoss: teacherEval.loss,
                           recipe: teacherCheckpoint == nil ? plan.teacherRecipe : nil,
                           cacheKey: teacherSource.digest, cachePath: teacherSource.path, cacheHit: teacherSource.hit,
                           training: teacherSource.training),
            student: .init(model: config.student.model, width: config.student.width, parameters: student.parameterCount,
                           accuracy: studentEval.accuracy, testLoss: studentEval.loss),
            ceWeight: plan.ceWeight, ceWeightRule: plan.ceWeightRule, adapters: config.adapters,
            terms: plan.terms.map { term in
                DistillReport.TermReport(
                    method: term.term.method, category: term.category.rawValue, params: term.params.dictionary,
                    studentLayer: term.term.studentLayer, teacherLayer: term.term.teacherLayer, weight: term.term.weight,
                    studentShape: term.studentShape, teacherShape: term.teacherShape,
                    adapter: term.adapter.map { .init(kind: $0.kind, inputShape: $0.inputShape, outputShape: $0.outputShape, parameters: $0.parameterCount) },
                    meanLossFirstEpoch: stats.mean(term: term.index, epoch: 0),
                    meanLossLastEpoch: stats.mean(term: term.index, epoch: recipe.epochs - 1))
            },
            training: summary, config: config)
        return (student, report)
    }

    /// A teacher given as a checkpoint (`lathe train`'s): it must be the configured teacher —
    /// architecture, width, depth — for this data (channels, image size, classes), and, when it
    /// records its data set, trained on `dataset`. Errors name the file and what differs.
    static func givenTeacher(_ path: String, config: DistillConfig, options: ModelOptions, dataset: String) throws -> (Model, digest: String) {
        let (model, metadata) = try Checkpoint.load(path)
        guard model.architecture == config.teacher.model, model.options == options else {
            throw DistillError.invalidConfig("teacher checkpoint \(path) holds \(model.architecture) with options \(model.options); the run needs \(config.teacher.model) with \(options)")
        }
        if let trained = metadata["lathe.dataset"], trained != dataset {
            throw DistillError.invalidConfig("teacher checkpoint \(path) was trained on \(trained); this run uses \(dataset)")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        return (model, "checkpoint:" + SHA256.hex(Array(bytes)))
    }

    /// The stage's addition to the trainer's task loss (cross-entropy, or the detection loss
    /// of `task`) for one batch.
    static func distillationLoss(
        terms: [ResolvedTerm], ceWeight: Double, labelSmoothing: Double, teacher: Model, teacherTaps: Set<String>,
        context: ForwardContext, images: Tensor, labels: Tensor, logits: Tensor, stats: TermStatistics, task: PredictionTask = .classification
    ) throws -> Tensor? {
        var total: Tensor?
        func add(_ piece: Tensor) throws { total = try total.map { try $0 + piece } ?? piece }
        if ceWeight != 1 {
            try add(try TaskLoss.loss(task, logits, labels, labelSmoothing: labelSmoothing) * (ceWeight - 1))
        }
        guard !terms.isEmpty else { return total }
        let teacherContext = ForwardContext(training: false, taps: teacherTaps)
        let teacherLogits = try withNoGrad { try teacher.forward(images, teacherContext) }
        var values: [Double] = []
        for term in terms {
            let raw: Tensor, target: Tensor
            if term.category == .response {
                (raw, target) = (logits, teacherLogits)
            } else {
                guard let s = term.term.studentLayer.flatMap({ context.tapped[$0] }),
                      let t = term.term.teacherLayer.flatMap({ teacherContext.tapped[$0] }) else {
                    throw DistillError.invalidTerm("\(term.label): a tapped layer produced no output in this step")
                }
                (raw, target) = (s, t)
            }
            let student = try term.adapter.map { try $0(raw) } ?? raw
            let call = callContext(term.term, category: term.category, position: context.position)
            let (value, gradient, learnableGrads) = try term.instance.loss(student: try student.detached(), teacher: target, labels: termLabels(labels, task: task),
                                                                           context: call)
            values.append(value)
            if term.term.weight != 0 {
                var piece = try GradientInjection.surrogate(student: student, gradient: gradient, loss: value)
                for (learnable, g) in zip(term.instance.learnables, learnableGrads) {
                    piece = try piece + GradientInjection.surrogate(student: learnable, gradient: g, loss: 0)
                }
                try add(try piece * term.term.weight)
            }
        }
        stats.record(values)
        return total
    }

    // MARK: Helpers

    /// A term's call context: the student layer it reads ("" for logits), its role, and the
    /// training position and batch sample indices when training.
    static func callContext(_ term: DistillConfig.Term, category: LossCategory, position: TrainingPosition?) -> CallContext {
        var c = CallContext()
        c.layer = category == .response ? "" : term.studentLayer ?? ""
        c.role = category == .response ? .logits : .feature
        if let position {
            c.step = position.step
            c.totalSteps = position.totalSteps
            c.epoch = position.epoch
            c.totalEpochs = position.totalEpochs
            c.sampleIndices = position.sampleIndices.map(Int64.init)
            c.datasetSize = position.datasetSize
        }
        return c
    }

    private static func requireLayer(_ name: String?, in model: Model, role: String, key: String, label: String) throws {
        guard let name, !name.isEmpty else {
            throw DistillError.invalidTerm("\(label): a feature or relation loss needs \(key) (a \(role) layer name)")
        }
        let names = model.tapNames
        guard names.contains(name) else {
            throw DistillError.invalidTerm("\(label): \(key) '\(name)': the \(role) \(model.architecture) has no such layer or tap; it has: \(names.joined(separator: ", "))")
        }
    }

    /// The labels a loss plugin receives (`[N]` class indices, the ABI's convention): the batch's
    /// for classification; zeros for dense tasks, whose targets are maps (their terms are
    /// feature and relation losses, which do not read labels).
    static func termLabels(_ target: Tensor, task: PredictionTask) throws -> Tensor {
        task == .classification ? target : try Tensor.zeros([target.shape.first ?? 0], dtype: .int64)
    }

    private static func probeBatch(_ data: ImageDataset, count: Int) throws -> (Tensor, Tensor) {
        guard data.count > 0 else { throw DistillError.invalidConfig("the training set is empty") }
        return try data.batch(Array(0..<count)[...])
    }

    private static func forwardWithTaps(_ model: Model, _ x: Tensor, _ taps: Set<String>) throws -> (Tensor, [String: Tensor]) {
        let context = ForwardContext(training: false, taps: taps)
        let logits = try withNoGrad { try model.forward(x, context) }
        return (logits, context.tapped)
    }

    /// Runs `body`, prefixing any error's message with `label`.
    private static func wrap<T>(_ label: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as DistillError {
            throw error
        } catch {
            throw DistillError.invalidTerm("\(label): \(error)")
        }
    }
}

/// Per-term loss values averaged per epoch (for the report). Used from the training thread only.
final class TermStatistics: @unchecked Sendable {
    private let stepsPerEpoch: Int
    private var sums: [[Double]]
    private var counts: [Int]
    private var step = 0

    init(terms: Int, stepsPerEpoch: Int, epochs: Int) {
        self.stepsPerEpoch = Swift.max(1, stepsPerEpoch)
        sums = Array(repeating: Array(repeating: 0, count: terms), count: Swift.max(epochs, 0))
        counts = Array(repeating: 0, count: Swift.max(epochs, 0))
    }

    func record(_ values: [Double]) {
        let epoch = step / stepsPerEpoch
        step += 1
        guard epoch < sums.count else { return }
        for (i, v) in values.enumerated() where i < sums[epoch].count { sums[epoch][i] += v }
        counts[epoch] += 1
    }

    func mean(term: Int, epoch: Int) -> Double? {
        guard epoch >= 0, epoch < counts.count, counts[epoch] > 0 else { return nil }
        return sums[epoch][term] / Double(counts[epoch])
    }
}
