import Foundation
import LatheIO
import LatheModels
import LathePlugins
import LatheTrain

/// What a distillation run did and how the two models score. JSON keys are snake_case.
public struct DistillReport: Sendable, Codable, Equatable {
    /// The teacher and where it came from.
    public struct Teacher: Sendable, Codable, Equatable {
        public var model: String
        public var width: Double
        public var parameters: Int
        /// Top-1 test accuracy in 0...1.
        public var accuracy: Double
        public var testLoss: Double
        /// The recipe it trained with; nil for a teacher given as a checkpoint (its own metrics
        /// say how it was trained).
        public var recipe: Recipe?
        /// sha256 of the teacher's cache key, or `checkpoint:` and the sha256 of the file for a
        /// teacher given as a checkpoint.
        public var cacheKey: String
        /// The cached or given checkpoint.
        public var cachePath: String
        /// True when the teacher was loaded (from the cache or a given checkpoint), false when
        /// this run trained it.
        public var cacheHit: Bool
        public var training: TrainingSummary?

        enum CodingKeys: String, CodingKey {
            case model, width, parameters, accuracy, recipe, training
            case testLoss = "test_loss"
            case cacheKey = "cache_key"
            case cachePath = "cache_path"
            case cacheHit = "cache_hit"
        }
    }

    /// The trained student.
    public struct Student: Sendable, Codable, Equatable {
        public var model: String
        public var width: Double
        public var parameters: Int
        public var accuracy: Double
        public var testLoss: Double

        enum CodingKeys: String, CodingKey {
            case model, width, parameters, accuracy
            case testLoss = "test_loss"
        }
    }

    /// An adapter the host created for a feature term.
    public struct AdapterInfo: Sendable, Codable, Equatable {
        public var kind: Adapter.Kind
        public var inputShape: [Int]
        public var outputShape: [Int]
        public var parameters: Int

        enum CodingKeys: String, CodingKey {
            case kind, parameters
            case inputShape = "input_shape"
            case outputShape = "output_shape"
        }
    }

    /// One term as it ran.
    public struct TermReport: Sendable, Codable, Equatable {
        public var method: String
        /// response, feature or relation.
        public var category: String
        /// Every hyperparameter, defaults filled in.
        public var params: [String: HyperValue]
        public var studentLayer: String?
        public var teacherLayer: String?
        public var weight: Double
        /// Per-sample shapes of the student tensor (before its adapter) and the teacher tensor.
        public var studentShape: [Int]
        public var teacherShape: [Int]
        public var adapter: AdapterInfo?
        /// The plugin's loss (unweighted) averaged over the first and the last epoch's steps.
        public var meanLossFirstEpoch: Double?
        public var meanLossLastEpoch: Double?

        enum CodingKeys: String, CodingKey {
            case method, category, params, weight, adapter
            case studentLayer = "student_layer"
            case teacherLayer = "teacher_layer"
            case studentShape = "student_shape"
            case teacherShape = "teacher_shape"
            case meanLossFirstEpoch = "mean_loss_first_epoch"
            case meanLossLastEpoch = "mean_loss_last_epoch"
        }
    }

    public var teacher: Teacher
    public var student: Student
    /// The effective cross-entropy weight and why.
    public var ceWeight: Double
    public var ceWeightRule: String
    public var adapters: DistillConfig.AdapterPolicy
    public var terms: [TermReport]
    /// The student's training.
    public var training: TrainingSummary
    /// The config as given.
    public var config: DistillConfig

    enum CodingKeys: String, CodingKey {
        case teacher, student, adapters, terms, training, config
        case ceWeight = "ce_weight"
        case ceWeightRule = "ce_weight_rule"
    }
}

/// The `metrics.json` of a distillation run: the student's `RunMetrics` fields at the top
/// level (the same keys as every Lathe metrics file, so tools reading those read this) plus a
/// `distillation` object holding the `DistillReport`.
public struct DistillMetrics: Sendable, Codable, Equatable {
    public var run: RunMetrics
    public var distillation: DistillReport

    public init(run: RunMetrics, distillation: DistillReport) {
        self.run = run
        self.distillation = distillation
    }

    enum Keys: String, CodingKey { case distillation }

    public init(from decoder: Decoder) throws {
        run = try RunMetrics(from: decoder)
        distillation = try decoder.container(keyedBy: Keys.self).decode(DistillReport.self, forKey: .distillation)
    }

    public func encode(to encoder: Encoder) throws {
        try run.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(distillation, forKey: .distillation)
    }

    /// Writes pretty-printed JSON (sorted keys) atomically.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try atomicWrite(encoder.encode(self), to: URL(fileURLWithPath: path))
    }

    /// Reads a file written by `write`.
    public static func read(path: String) throws -> DistillMetrics {
        try JSONDecoder().decode(DistillMetrics.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
