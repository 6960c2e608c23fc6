import Foundation
import LatheData
import LatheDistill
import LathePlugins
import LatheResults
import LatheTensor
import LatheTrain

/// The provenance that makes a trial re-runnable (`lathe reproduce`): the spec fragment its job
/// was built from, the data it read, and the checks that refuse a re-run under other conditions.
///
/// Keys written by every trial (beside `seed`, `threads`, `lathe_version`, `libtorch`, `abi`,
/// `host`, `baseline_checkpoint`, `baseline_cache_hit` and each used plugin's
/// `plugin.NAME.sha256` / `.version` / `.abi`):
/// - `model`, `dataset`, `limit_train`, `limit_test` (`all` when unlimited), `baseline_recipe`
///   (the baseline `Recipe` as JSON with sorted keys; the trial's seed replaces its `seed`),
///   `data_directory`, `cache_directory` (the sweep's shared baselines and teachers);
/// - `data_fingerprint`: FNV-1a 64 (`TeacherKey.fingerprint`) of the training and the test set as
///   loaded (limited, normalised), `fnv1a64:train=HEX,test=HEX`. It hashes the tensors the trial
///   saw rather than the files: cheap (one pass, no file re-read) and independent of
///   compression of the files on disk.
/// The stages, group, label and seed are the trial's row (`config_json`, `grp`, `method`, `seed`).
public enum TrialProvenance {
    /// The data fingerprint of a train/test pair (see the type's documentation).
    public static func dataFingerprint(train: ImageDataset, test: ImageDataset) -> String {
        "fnv1a64:train=\(TeacherKey.fingerprint(train)),test=\(TeacherKey.fingerprint(test))"
    }

    /// The spec fragment of `job`, as provenance keys.
    static func specFragment(of job: TrialJob) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return [
            "model": job.model, "dataset": job.dataset.rawValue,
            "limit_train": job.limitTrain.map(String.init) ?? "all", "limit_test": job.limitTest.map(String.init) ?? "all",
            "baseline_recipe": String(decoding: try encoder.encode(job.baseline), as: UTF8.self),
            "data_directory": job.dataDirectory ?? job.dataset.defaultDirectory ?? "",
            "cache_directory": job.cacheDirectory,
        ]
    }

    /// The job that re-runs `trial` from its recorded row and `provenance`, with the current
    /// registry, Lathe version and `threads`. `dataDirectory` replaces the recorded one when given.
    /// The error names a missing or unreadable key.
    public static func job(for trial: ResultsStore.Trial, provenance: [String: String], registryDirectory: String,
                           threads: Int, latheVersion: String, dataDirectory: String?) throws -> TrialJob {
        func value(_ key: String) throws -> String {
            guard let v = provenance[key] else {
                throw SweepError("trial \(trial.id) has no recorded '\(key)' (recorded by a Lathe before provenance was complete): it cannot be re-run")
            }
            return v
        }
        func limit(_ key: String) throws -> Int? {
            let text = try value(key)
            if text == "all" { return nil }
            guard let n = Int(text), n > 0 else { throw SweepError("trial \(trial.id): recorded '\(key)' = '\(text)' is not a positive integer or 'all'") }
            return n
        }
        let datasetName = try value("dataset")
        guard let dataset = DataSource(rawValue: datasetName) else {
            throw SweepError("trial \(trial.id): recorded 'dataset' = '\(datasetName)' is not a data set of this Lathe")
        }
        let baseline: Recipe
        do {
            baseline = try JSONDecoder().decode(Recipe.self, from: Data(try value("baseline_recipe").utf8))
        } catch let error as SweepError {
            throw error
        } catch {
            throw SweepError("trial \(trial.id): recorded 'baseline_recipe' cannot be read: \(error)")
        }
        let stages: [ResolvedStage]
        do {
            stages = try JSONDecoder().decode([ResolvedStage].self, from: Data(trial.record.configJSON.utf8))
        } catch {
            throw SweepError("trial \(trial.id): its config_json cannot be read as stages: \(error)")
        }
        guard let seed = UInt64(exactly: trial.record.seed) else { throw SweepError("trial \(trial.id): seed \(trial.record.seed) is negative") }
        let recordedData = try value("data_directory")
        return TrialJob(plan: TrialPlan(group: trial.record.group, label: trial.record.method, stages: stages, seed: seed),
                        model: try value("model"), dataset: dataset,
                        dataDirectory: dataDirectory ?? (recordedData.isEmpty ? nil : recordedData),
                        limitTrain: try limit("limit_train"), limitTest: try limit("limit_test"), baseline: baseline,
                        cacheDirectory: try value("cache_directory"), registryDirectory: registryDirectory,
                        threads: threads, latheVersion: latheVersion)
    }

    /// A recorded value that differs from the current one.
    public struct Difference: Sendable, Equatable, CustomStringConvertible {
        public var key: String
        public var recorded: String
        public var current: String
        public init(key: String, recorded: String, current: String) {
            self.key = key
            self.recorded = recorded
            self.current = current
        }
        public var description: String { "\(key) differs: recorded \(recorded), now \(current)" }
    }

    /// What would make a re-run of a trial with `provenance` differ, as differences by key: each
    /// recorded plugin's sha256 against `registry` (`missing` when it is not registered), the
    /// libtorch version, the thread count and the data fingerprint (skipped when nil: computing
    /// it takes a load of the data).
    public static func differences(_ provenance: [String: String], registry: Registry, dataFingerprint: String?,
                                   threads: Int) -> [Difference] {
        var current: [String: String] = ["libtorch": Engine.libtorchVersion, "threads": String(threads)]
        current["data_fingerprint"] = dataFingerprint
        for key in provenance.keys where key.hasPrefix("plugin.") && key.hasSuffix(".sha256") {
            let name = String(key.dropFirst("plugin.".count).dropLast(".sha256".count))
            current[key] = registry.manifests[name].map { $0.sha256 ?? "unpinned" } ?? "missing (not in \(registry.directory))"
        }
        return current.keys.sorted().compactMap { key in
            let recorded = provenance[key] ?? "(not recorded)"
            let now = current[key] ?? ""
            return recorded == now ? nil : Difference(key: key, recorded: recorded, current: now)
        }
    }
}
