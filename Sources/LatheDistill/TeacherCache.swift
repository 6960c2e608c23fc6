import Foundation
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What identifies a trained teacher: same key, same teacher.
///
/// The intra-op thread count is deliberately not part of it: a teacher trained with another
/// thread count may differ in the last bits, but it is the same teacher for every purpose here.
public struct TeacherKey: Sendable, Codable, Equatable {
    /// Version of the cache format; bumping it invalidates every entry.
    public var format: Int = 1
    public var model: String
    public var options: ModelOptions
    /// Data set name (`fashion-mnist`).
    public var dataset: String
    /// Number of training samples.
    public var trainCount: Int
    /// A 64-bit fingerprint of every training pixel and label (hex).
    public var dataFingerprint: String
    /// The teacher's recipe, seed included.
    public var recipe: Recipe
    /// sha256 of the model file when `model` is one (`.onnx`): a changed file is another teacher.
    public var modelFile: String?

    enum CodingKeys: String, CodingKey {
        case format, model, options, dataset, recipe
        case modelFile = "model_file"
        case trainCount = "train_count"
        case dataFingerprint = "data_fingerprint"
    }

    public init(model: String, options: ModelOptions, dataset: String, train: ImageDataset, recipe: Recipe) {
        self.model = model
        self.options = options
        self.dataset = dataset
        self.trainCount = train.count
        self.dataFingerprint = Self.fingerprint(train)
        self.recipe = recipe
        if Zoo.isModelFile(model), let data = FileManager.default.contents(atPath: model) {
            var hash = SHA256()
            hash.update(data)
            modelFile = hash.finalize()
        }
    }

    /// The canonical JSON (sorted keys) that is hashed.
    public func canonicalJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// sha256 of the canonical JSON (hex): the cache entry's name.
    public func digest() throws -> String { SHA256.hex(Array(try canonicalJSON().utf8)) }

    /// FNV-1a over the 64-bit words of the pixels' bit patterns, then the labels (masks, boxes) and the shape
    /// (hex): of the data as loaded (limited and normalised), so it covers what a run saw.
    public static func fingerprint(_ data: ImageDataset) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let prime: UInt64 = 0x0000_0100_0000_01b3
        data.images.withUnsafeBufferPointer { pixels in
            var i = 0
            while i + 1 < pixels.count {
                let word = UInt64(pixels[i].bitPattern) | (UInt64(pixels[i + 1].bitPattern) << 32)
                h = (h ^ word) &* prime
                i += 2
            }
            if i < pixels.count { h = (h ^ UInt64(pixels[i].bitPattern)) &* prime }
        }
        for label in data.labels { h = (h ^ UInt64(bitPattern: label)) &* prime }
        switch data.targets {
        case let .masks(values)?: for v in values { h = (h ^ UInt64(v)) &* prime }
        case let .boxes(lists)?:
            for (i, boxes) in lists.enumerated() {
                for b in boxes {
                    for v in [Double(i), Double(b.label), b.x, b.y, b.width, b.height] { h = (h ^ v.bitPattern) &* prime }
                }
            }
        case nil: break
        }
        for extent in [data.channels, data.height, data.width, data.classCount] { h = (h ^ UInt64(extent)) &* prime }
        return String(h, radix: 16)
    }
}

/// Trained teachers stored as `.safetensors` checkpoints under a cache folder, named by the
/// sha256 of their `TeacherKey`: a teacher is trained once per (model, options, data, recipe,
/// seed) and loaded afterwards.
///
/// **Concurrency.** Writers never expose a partial file: a checkpoint is written to a
/// uniquely named temporary file in the cache folder and renamed into place (atomic on POSIX).
/// Processes (and threads) asking for the same key serialize on an advisory `flock` on
/// `<entry>.lock`: the first trains and writes, the others wait and then load its file, so a
/// teacher is never trained twice. Should locking be unavailable (a file system without
/// `flock`), the rule degrades to "last writer wins": each racer writes a complete checkpoint
/// for the same key and the last rename stands, which readers never see half-written.
/// Lock files are left behind (empty, harmless).
public struct TeacherCache: Sendable {
    /// The folder holding the entries.
    public let directory: String

    /// A cache in `directory` (created on first write).
    public init(directory: String) {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
    }

    /// `$LATHE_CACHE/teachers` when LATHE_CACHE is set, else `runs/cache/teachers` in the
    /// current directory.
    public static func defaultDirectory() -> String {
        if let root = ProcessInfo.processInfo.environment["LATHE_CACHE"], !root.isEmpty {
            return URL(fileURLWithPath: root).appendingPathComponent("teachers").path
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("runs/cache/teachers").path
    }

    /// A teacher from the cache or freshly trained.
    public struct Entry {
        public var model: Model
        public var key: TeacherKey
        /// sha256 of the key.
        public var digest: String
        /// The checkpoint file.
        public var path: String
        /// True when the checkpoint was already there (nothing was trained).
        public var hit: Bool
        /// The training summary: of this run on a miss, as recorded in the checkpoint on a hit.
        public var training: TrainingSummary?
    }

    /// The checkpoint path for `key`: `<model>-<sha256>.safetensors`.
    public func path(for key: TeacherKey) throws -> String {
        URL(fileURLWithPath: directory).appendingPathComponent("\(Zoo.label(key.model))-\(try key.digest()).safetensors").path
    }

    static let keyMetadata = "lathe.teacher.key"
    static let trainingMetadata = "lathe.teacher.training"

    /// The cached teacher for `key`, or nil when there is none. A file that exists but does
    /// not hold this key's teacher is an error naming it.
    public func lookup(_ key: TeacherKey) throws -> Entry? {
        let file = try path(for: key)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let (model, metadata): (Model, [String: String])
        do {
            (model, metadata) = try Checkpoint.load(file)
        } catch {
            throw DistillError.cache("\(file) exists but cannot be loaded (\(error)); delete it to retrain the teacher")
        }
        guard metadata[Self.keyMetadata] == (try key.canonicalJSON()) else {
            throw DistillError.cache("\(file) was written for another key (metadata '\(Self.keyMetadata)' differs); delete it to retrain the teacher")
        }
        let training = metadata[Self.trainingMetadata].flatMap { try? JSONDecoder().decode(TrainingSummary.self, from: Data($0.utf8)) }
        return Entry(model: model, key: key, digest: try key.digest(), path: file, hit: true, training: training)
    }

    /// The teacher for `key`: loaded when cached; otherwise built with `Zoo.make(key.model,
    /// options: key.options, seed: key.recipe.seed)`, trained on `train` with `key.recipe`, and
    /// stored. `train` must be the data the key was made from.
    public func teacher(for key: TeacherKey, train: ImageDataset, progress: ProgressReporter) throws -> Entry {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = try path(for: key)
        let lock = try FileLock(path: file + ".lock")
        defer { lock.unlock() }
        if let entry = try lookup(key) { return entry }

        progress.note("teacher \(key.model) (width \(key.options.width)) not cached: training it (\(key.recipe.epochs) epochs, seed \(key.recipe.seed))")
        let model = try Zoo.make(key.model, options: key.options, seed: key.recipe.seed)
        let summary = try Trainer(recipe: key.recipe, progress: progress).train(model, on: train)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = [
            Self.keyMetadata: try key.canonicalJSON(),
            Self.trainingMetadata: String(decoding: try encoder.encode(summary), as: UTF8.self),
            "lathe.dataset": key.dataset,
        ]
        // Checkpoint.save writes through a uniquely named temporary file and a rename.
        try Checkpoint.save(model, to: file, metadata: metadata)
        progress.note("teacher cached: \(file)")
        return Entry(model: model, key: key, digest: try key.digest(), path: file, hit: false, training: summary)
    }
}
