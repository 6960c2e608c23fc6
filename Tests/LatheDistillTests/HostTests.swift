import Foundation
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LatheDistill

/// The host side: gradient injection, adapters, the loss-weighting rule, config decoding.
@Suite("distillation host")
struct HostTests {
    // MARK: Gradient injection

    @Test func surrogateCarriesExactlyThePluginGradient() throws {
        let student = try Support.randn([4, 3, 5], seed: 1).requiringGrad()
        let gradient = try Support.randn([4, 3, 5], seed: 2, scale: 1e-3)
        let surrogate = try GradientInjection.surrogate(student: student, gradient: gradient, loss: 1.25)
        #expect(try surrogate.item() == 1.25)
        try surrogate.backward()
        let grad = try #require(student.grad)
        #expect(try grad.scalars(as: Float.self) == gradient.scalars(as: Float.self))

        // Weighted: the gradient scales with the weight (0.5 is exact in binary).
        let other = try Support.randn([4, 3, 5], seed: 1).requiringGrad()
        try (GradientInjection.surrogate(student: other, gradient: gradient, loss: 1.25) * 0.5).backward()
        #expect(try #require(other.grad).scalars(as: Float.self) == gradient.scalars(as: Float.self).map { $0 * 0.5 })
    }

    @Test func injectedGradientReachesUpstreamParametersLikeAutograd() throws {
        // A linear map W produces the student features; the hint gradient injected on them must
        // give W the same gradient as autograd through the reference loss.
        let method = try Support.method("distill/hint")
        let x = try Support.randn([6, 5], seed: 3)
        let teacher = try Support.randn([6, 4], seed: 4)
        let w = try Support.randn([4, 5], seed: 5).requiringGrad()
        let features = try x.linear(weight: w)
        let (loss, gradient) = try method.loss(student: features.detached(), teacher: teacher, labels: Support.labels(6), params: method.bind())
        try GradientInjection.surrogate(student: features, gradient: gradient, loss: loss).backward()

        let w64 = try Support.leaf64(w)
        try x.converted(to: .float64).linear(weight: w64).mseLoss(teacher.converted(to: .float64)).backward()
        try Support.expectClose(try #require(w.grad), try #require(w64.grad), rtol: 1e-5, "W gradient")
    }

    // MARK: Plans: adapters, layers, weighting

    static let teacher = DistillConfig.Teacher(model: "convnet", recipe: RecipeOverrides(epochs: 1))
    static let student = DistillConfig.Student(model: "lenet5", width: 0.5)

    func plan(_ terms: [DistillConfig.Term], ceWeight: Double? = nil, adapters: DistillConfig.AdapterPolicy = .auto) throws -> DistillationStage.Plan {
        let config = DistillConfig(teacher: Self.teacher, student: Self.student, terms: terms, ceWeight: ceWeight, adapters: adapters)
        return try DistillationStage.prepare(config, train: Support.fashion.train, recipe: Recipe(), registry: try Support.registry())
    }

    @Test func adaptersAreCreatedWhenFeatureShapesDiffer() throws {
        let p = try plan([
            .init(method: "distill/hint", studentLayer: "relu3", teacherLayer: "relu3"),   // [60] vs [128]: linear
            .init(method: "distill/hint", studentLayer: "relu1", teacherLayer: "relu1"),   // [3, 28, 28] vs [32, 28, 28]: 1×1 conv
            .init(method: "distill/hint", studentLayer: "fc3", teacherLayer: "fc2"),       // logits [10] vs [10]: none
            .init(method: "distill/sp", studentLayer: "relu4", teacherLayer: "relu3"),     // relation: never adapted
        ])
        #expect(p.terms.map(\.studentShape) == [[60], [3, 28, 28], [10], [42]])
        #expect(p.terms.map(\.teacherShape) == [[128], [32, 28, 28], [10], [128]])
        let kinds = p.terms.map { $0.adapter?.kind }
        #expect(kinds == [.linear, .conv1x1, nil, nil])
        #expect(p.terms[0].adapter?.parameterCount == 60 * 128 + 128)
        #expect(p.terms[1].adapter?.parameterCount == 3 * 32 + 32)
        #expect(p.adapterParameters.count == 4)
        let allTrainable = p.adapterParameters.allSatisfy { $0.requiresGrad }
        #expect(allTrainable)
        // The adapter maps a student batch to the teacher's shape.
        let adapter = try #require(p.terms[1].adapter)
        let adapted = try adapter(try Tensor.zeros([2, 3, 28, 28]))
        #expect(adapted.shape == [2, 32, 28, 28])

        let always = try plan([.init(method: "distill/hint", studentLayer: "fc3", teacherLayer: "fc2")], adapters: .always)
        #expect(always.terms[0].adapter?.kind == .linear)
    }

    @Test func adapterPolicyNeverAndSpatialMismatchAreErrors() throws {
        let never = #expect(throws: DistillError.self) {
            _ = try plan([.init(method: "distill/hint", studentLayer: "relu3", teacherLayer: "relu3")], adapters: .never)
        }
        #expect(never?.description.contains("[60]") == true && never?.description.contains("[128]") == true, "\(never?.description ?? "")")
        // lenet5's conv2 gives 10×10 maps, convnet's 14×14: no 1×1 conv maps one onto the other.
        let spatial = #expect(throws: DistillError.self) {
            _ = try plan([.init(method: "distill/hint", studentLayer: "relu2", teacherLayer: "relu2")])
        }
        #expect(spatial?.description.contains("matching spatial size") == true, "\(spatial?.description ?? "")")
        // Attention is a relation loss: different channels and spatial sizes are fine.
        let attention = try plan([.init(method: "distill/attention", studentLayer: "relu2", teacherLayer: "relu2")])
        #expect(attention.terms[0].adapter == nil)
    }

    @Test func termErrorsNameTheTermKeyAndValue() throws {
        func message(_ terms: [DistillConfig.Term]) -> String {
            do { _ = try plan(terms); return "no error" } catch { return "\(error)" }
        }
        let unknownLayer = message([.init(method: "distill/hint", studentLayer: "fc9", teacherLayer: "relu3")])
        #expect(unknownLayer.contains("terms[0] (distill/hint)") && unknownLayer.contains("student_layer 'fc9'") && unknownLayer.contains("conv1"), "\(unknownLayer)")
        let missingLayer = message([.init(method: "distill/sp", studentLayer: "relu3")])
        #expect(missingLayer.contains("teacher_layer"), "\(missingLayer)")
        let responseWithLayer = message([.init(method: "kd/hinton", studentLayer: "fc3", teacherLayer: "fc2")])
        #expect(responseWithLayer.contains("logits"), "\(responseWithLayer)")
        let unknownMethod = message([.init(method: "distill/nope")])
        #expect(unknownMethod.contains("no method 'nope'"), "\(unknownMethod)")
        let notALoss = message([.init(method: "uniform/affine")])
        #expect(notALoss.contains("is a quantizer"), "\(notALoss)")
        let badParam = message([.init(method: "kd/hinton", params: ["temprature": .double(4)])])
        #expect(badParam.contains("unknown parameter 'temprature'"), "\(badParam)")
        let outOfRange = message([.init(method: "kd/hinton", params: ["alpha": .double(2)])])
        #expect(outOfRange.contains("alpha") && outOfRange.contains("[0, 1]"), "\(outOfRange)")
        let badModel = #expect(throws: DistillError.self) {
            let config = DistillConfig(teacher: .init(model: "vgg"), student: Self.student, terms: [])
            _ = try DistillationStage.prepare(config, train: Support.fashion.train, recipe: Recipe(), registry: try Support.registry())
        }
        #expect(badModel?.description.contains("teacher.model 'vgg'") == true)
    }

    @Test func crossEntropyWeightRule() throws {
        #expect(try plan([.init(method: "kd/hinton")]).ceWeight == 0)
        #expect(try plan([.init(method: "distill/hint", studentLayer: "fc3", teacherLayer: "fc2")]).ceWeight == 1)
        #expect(try plan([.init(method: "kd/hinton")], ceWeight: 0.25).ceWeight == 0.25)
        #expect(try plan([]).ceWeight == 1)
    }

    /// With kd/hinton and the default ce_weight 0, the trainer's CE plus the stage's addition
    /// is exactly Hinton's loss, and the logits' gradient is exactly the plugin's.
    @Test func hintonAloneIsHintonsLoss() throws {
        let p = try plan([.init(method: "kd/hinton", params: ["temperature": .double(4), "alpha": .double(0.7)])])
        let (x, y) = try Support.fashion.train.batch(Array(0..<16)[...])
        let teacher = try Zoo.make("convnet", options: p.teacherOptions, seed: 3)
        let logits = try Support.randn([16, 10], seed: 9).requiringGrad()
        let stats = TermStatistics(terms: 1, stepsPerEpoch: 1, epochs: 1)
        let extra = try #require(try DistillationStage.distillationLoss(
            terms: p.terms, ceWeight: p.ceWeight, labelSmoothing: 0, teacher: teacher, teacherTaps: [],
            context: ForwardContext(training: true), images: x, labels: y, logits: logits, stats: stats))
        let total = try logits.crossEntropy(labels: y) + extra         // what Trainer backpropagates
        try total.backward()

        let method = try Support.method("kd/hinton")
        let teacherLogits = try teacher.predict(x)
        let (loss, gradient) = try method.loss(student: logits.detached(), teacher: teacherLogits, labels: y, params: p.terms[0].params)
        let value = try total.item()
        #expect(Swift.abs(value - loss) <= 1e-5 * Swift.max(1, loss), "total \(value) vs Hinton \(loss)")
        try Support.expectClose(try #require(logits.grad), gradient, rtol: 1e-6, "logits gradient")
        #expect(stats.mean(term: 0, epoch: 0) == loss)
    }

    // MARK: Config

    @Test func configDecodesSnakeCaseWithDefaultsAndRefusesUnknownKeys() throws {
        let json = """
            {"teacher": {"model": "resnet8", "recipe": {"epochs": 3, "learning_rate": 0.1}},
             "student": {"model": "mlp", "width": 0.25},
             "terms": [{"method": "kd/hinton", "params": {"temperature": 2}},
                       {"method": "distill/sp", "student_layer": "relu2", "teacher_layer": "pool", "weight": 3000}],
             "ce_weight": 0.5, "adapters": "never"}
            """
        let config = try JSONDecoder().decode(DistillConfig.self, from: Data(json.utf8))
        #expect(config.teacher.width == 1)
        #expect(config.teacher.recipe.epochs == 3)
        let teacherRecipe = config.teacher.trainingRecipe(base: { var r = Recipe(); r.seed = 7; return r }())
        #expect(teacherRecipe.learningRate == 0.1 && teacherRecipe.epochs == 3 && teacherRecipe.seed == 0)
        #expect(config.terms[0].params["temperature"] == .int(2))
        #expect(config.terms[1].studentLayer == "relu2" && config.terms[1].weight == 3000)
        #expect(config.ceWeight == 0.5 && config.adapters == .never)
        // Round trip.
        let again = try JSONDecoder().decode(DistillConfig.self, from: Data(try config.json().utf8))
        #expect(again == config)

        let typo = #expect(throws: DistillError.self) {
            _ = try JSONDecoder().decode(DistillConfig.self, from: Data(#"{"teacher": {"model": "mlp"}, "student": {"model": "mlp"}, "terms": [{"method": "kd/hinton", "studnet_layer": "x"}]}"#.utf8))
        }
        #expect(typo?.description.contains("unknown key 'studnet_layer'") == true, "\(typo?.description ?? "")")
    }

    /// Across architecture families each model trains with its own default recipe: a convnet
    /// teacher of a ViT student with SGD, a ViT teacher of a CNN student with AdamW; within a
    /// family the teacher shares the run's recipe. The teacher's overrides apply on top.
    @Test func aTeacherOfAnotherFamilyTrainsWithItsOwnDefaultRecipe() throws {
        var vitRun = Recipe.defaults(for: "vit-tiny")
        vitRun.seed = 5
        #expect(vitRun.optimizer == .adamw)
        let convnet = DistillConfig.Teacher(model: "convnet", recipe: RecipeOverrides(epochs: 2))
        let cross = convnet.trainingRecipe(base: convnet.baseRecipe(run: vitRun, student: "vit-tiny"))
        var expected = Recipe.defaults(for: "convnet")
        expected.epochs = 2
        #expect(cross == expected)
        #expect(cross.optimizer == .sgd && cross.seed == 0)

        var cnnRun = Recipe.defaults(for: "lenet5")
        cnnRun.batchSize = 64
        let vit = DistillConfig.Teacher(model: "vit-small")
        #expect(vit.trainingRecipe(base: vit.baseRecipe(run: cnnRun, student: "lenet5")).optimizer == .adamw)
        // Same family: the run's recipe, its batch size included.
        #expect(convnet.trainingRecipe(base: convnet.baseRecipe(run: cnnRun, student: "lenet5")).batchSize == 64)
        let tiny = DistillConfig.Teacher(model: "vit-small")
        #expect(tiny.trainingRecipe(base: tiny.baseRecipe(run: vitRun, student: "vit-tiny")) == { var r = vitRun; r.seed = 0; return r }())

        // The plan carries it.
        let config = DistillConfig(teacher: convnet, student: .init(model: "vit-tiny", width: 0.5), terms: [])
        let plan = try DistillationStage.prepare(config, train: Support.fashion.train, recipe: vitRun, registry: try Support.registry())
        #expect(plan.teacherRecipe == expected && plan.recipe.optimizer == .adamw)
    }
}
