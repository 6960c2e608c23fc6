import Foundation
import LatheDistill
import LathePlugins
import LatheTrain

/// `kind = "distill"`: `DistillationStage` (a cached teacher, a fresh student, loss terms);
/// `recipe` (optional) overrides the baseline recipe for the student, whose seed stays the trial's.
struct DistillStage: MethodStage {
    let kind = "distill"
    var schema: ConfigSchema { SpecSchema.distill }
    var nestedSchemas: [ConfigSchema] { [DistillConfig.Teacher.schema, DistillConfig.Student.schema, DistillConfig.Term.schema] }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        var body = config.object ?? [:]
        if let overrides = body.removeValue(forKey: "recipe") {
            _ = try check.decode(RecipeOverrides.self, overrides, keys: Recipe.schema.names, nested: "recipe")
                .applied(to: Recipe()).validate()
        }
        let c = try check.decode(DistillConfig.self, .object(body), keys: SpecSchema.distill.names)
        try c.validate(base: Recipe())
        for term in c.terms {
            let (manifest, descriptor) = try check.registry.resolve(term.method)
            guard descriptor.kind == .loss else {
                throw PluginError("term method '\(term.method)' is a \(descriptor.kind.rawValue), not a distillation loss")
            }
            _ = try descriptor.bind(term.params, plugin: manifest.plugin.name)
        }
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        var body = config.object ?? [:]
        var studentRecipe = trial.recipe
        if let overrides = body.removeValue(forKey: "recipe") {
            studentRecipe = try overrides.decoded(RecipeOverrides.self).applied(to: trial.recipe)
            studentRecipe.seed = trial.recipe.seed
        }
        let config = try JSONValue.object(body).decoded(DistillConfig.self)
        for term in config.terms { trial.note(plugin: term.method) }
        let timer = StageTimer()
        let teachers = TeacherCache(directory: URL(fileURLWithPath: trial.job.cacheDirectory).appendingPathComponent("teachers").path)
        let (student, report) = try DistillationStage.run(config, train: trial.train, test: trial.test, dataset: trial.job.dataset.rawValue,
                                                          recipe: studentRecipe, registry: trial.registry, cache: teachers, progress: trial.progress)
        trial.replace(student)
        trial.compressSeconds += timer.methodSeconds(excludingTraining: report.teacher.cacheHit ? 0 : report.teacher.training?.trainingSeconds ?? 0)
        trial.metrics["teacher_accuracy"] = report.teacher.accuracy
        // The teacher as stored (fp32, dense), measured like every trial's size_bytes.
        trial.metrics["teacher_size_bytes"] = Double(try ModelCost.of(Checkpoint.load(report.teacher.cachePath).model).sizeBytes)
        trial.provenance["teacher"] = "\(config.teacher.model) (width \(config.teacher.width))"
        trial.provenance["teacher_checkpoint"] = report.teacher.cachePath
        trial.trainingSeconds += report.training.trainingSeconds
    }
}
