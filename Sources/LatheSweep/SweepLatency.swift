import Foundation
import LatheModels
import LathePlugins
import LatheResults
import LatheTensor
import LatheTrain

/// What the latency child (`lathe __latency`) times: saved models by id, at one thread count.
public struct LatencyJob: Codable, Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var checkpoint: String
    }
    public var entries: [Entry]
    public var threads: Int
    public var plan: LatencyPlan

    /// Loads every checkpoint (each entry its own model, even when two name the same file: the
    /// baseline's control copy) and times them together; `progress` hears a line per round.
    public func run(progress: (String) -> Void = { _ in }) throws -> [LatencySeries] {
        Engine.threads = threads
        let subjects = try entries.map { entry -> LatencySubject in
            let model = try Checkpoint.load(entry.checkpoint).model
            let o = model.options
            return LatencySubject(id: entry.id, input: [o.inputChannels, o.imageSize, o.imageSize]) { try model.predict($0) }
        }
        progress("\(subjects.count) models loaded")
        return try LatencyPhase.run(subjects, plan: plan, progress: progress)
    }
}

/// The sweep's latency phase: after the trials, every done trial's saved model (and each
/// distinct teacher) is timed in one child process with no trial running beside it, and the
/// figures are written into the trials' metrics. Each seed's baseline is timed a second time
/// as its own control: its "speedup" over itself must read 1.00.
enum SweepLatency {
    static let controlSuffix = "#control"

    /// Where a trial leaves its final model for the phase.
    static func modelPath(out: String, trial: Int64) -> String { "\(out)/models/trial-\(trial).safetensors" }

    /// Times the sweep's done trials and records the figures, logging a one-line summary.
    static func run(store: ResultsStore, sweep: Int64, out: String, options: SweepOptions, log: (String) -> Void) throws {
        let done = try store.trials(sweep: sweep).filter { $0.status == "done" }
        var entries: [LatencyJob.Entry] = []
        var timed: [ResultsStore.Trial] = []
        var teachers: [String: String] = [:]  // checkpoint → id
        var teacherOf: [Int64: String] = [:]  // trial → its teacher's checkpoint
        for trial in done {
            let path = modelPath(out: out, trial: trial.id)
            guard FileManager.default.fileExists(atPath: path) else {
                log("latency: trial \(trial.id) has no saved model (\(path)); not timed")
                continue
            }
            timed.append(trial)
            entries.append(.init(id: "trial-\(trial.id)", checkpoint: path))
            if trial.record.group == "baseline" {
                entries.append(.init(id: "trial-\(trial.id)\(controlSuffix)", checkpoint: path))
            }
            if let teacher = try store.provenance(trial: trial.id)["teacher_checkpoint"], FileManager.default.fileExists(atPath: teacher) {
                teacherOf[trial.id] = teacher
                if teachers[teacher] == nil {
                    teachers[teacher] = "teacher-\(teachers.count)"
                    entries.append(.init(id: "teacher-\(teachers.count - 1)", checkpoint: teacher))
                }
            }
        }
        guard !entries.isEmpty else { return }
        let job = LatencyJob(entries: entries, threads: options.threads, plan: options.latencyPlan)
        let logs = URL(fileURLWithPath: out).appendingPathComponent("logs")
        let resultURL = logs.appendingPathComponent("latency.result.json"), logURL = logs.appendingPathComponent("latency.log")
        log("latency: timing \(entries.count) models interleaved at \(options.threads) thread(s), nothing else running")
        let started = Date()
        let child = try ChildJob.start("__latency", job, threads: options.threads, executable: options.localExecutable,
                                       jobFile: logs.appendingPathComponent("latency.job.json"), result: resultURL, log: logURL)
        // The phase bounds its own time (budget, then a floor of rounds); the child logs a line
        // per round, so only a child silent for `stallLimit` is taken for hung and killed.
        var exit: ChildExit?
        var lastSize = -1, lastProgress = Date()
        while exit == nil {
            Thread.sleep(forTimeInterval: 0.2)
            exit = try child.poll()
            let size = (try? FileManager.default.attributesOfItem(atPath: logURL.path))?[.size] as? Int
            if let size, size != lastSize { (lastSize, lastProgress) = (size, Date()) }
            if exit == nil, Date().timeIntervalSince(lastProgress) > stallLimit(job.plan) {
                child.killGroup()
                throw SweepError("the latency phase wrote nothing for \(Int(stallLimit(job.plan))) s and was stopped (log: \(logURL.path)); the trials' other results are recorded")
            }
        }
        guard let exit else { throw SweepError("the latency phase ended without an exit status (log: \(logURL.path))") }
        let series: [LatencySeries]
        switch ChildJob.result([LatencySeries].self, exit, result: resultURL, log: logURL) {
        case .success(let value): series = value
        case .failure(let error):
            throw SweepError("the latency phase failed (\(error.message)) (log: \(logURL.path)); the trials' other results are recorded")
        }
        let figures = metrics(series: series, trials: timed, teacherOf: teacherOf, teachers: teachers)
        for (trial, values) in figures { try store.recordMetrics(trial, values) }
        let rounds = series.map(\.samples.count).max() ?? 0
        let noise = Statistics.median(series.map { $0.median.relativeHalfWidth })
        log(String(format: "latency: %d rounds in %.0f s, median noise ±%.1f %%", rounds, Date().timeIntervalSince(started), 100 * noise))
    }

    /// Seconds without a progress line after which the latency child counts as hung: one round
    /// of every model (or the loading of all of them) must fit in it.
    static func stallLimit(_ plan: LatencyPlan) -> Double { max(900, plan.budgetSeconds) }

    /// Per trial: medians, noise and speedups over the same seed's baseline (the baseline's own
    /// are over its control copy); distillation trials also get their teacher's medians.
    static func metrics(series: [LatencySeries], trials: [ResultsStore.Trial], teacherOf: [Int64: String],
                        teachers: [String: String]) -> [Int64: [String: Double]] {
        var byID: [String: [Int: LatencySeries]] = [:]
        for s in series { byID[s.id, default: [:]][s.batchSize] = s }
        let baselineOfSeed = Dictionary(trials.filter { $0.record.group == "baseline" }.map { ($0.record.seed, $0.id) },
                                        uniquingKeysWith: { a, _ in a })
        var out: [Int64: [String: Double]] = [:]
        for trial in trials {
            guard let mine = byID["trial-\(trial.id)"] else { continue }
            // A baseline's reference is its control copy; other trials', their seed's baseline.
            let referenceID: String?
            if trial.record.group == "baseline" {
                referenceID = "trial-\(trial.id)\(controlSuffix)"
            } else if let base = baselineOfSeed[trial.record.seed] {
                referenceID = "trial-\(base)"
            } else {
                referenceID = nil
            }
            var values: [String: Double] = [:]
            for (batch, s) in mine {
                let figure = Latency(s, over: referenceID.flatMap { byID[$0]?[batch] })
                values["latency_b\(batch)_ms"] = figure.medianMilliseconds
                values["latency_b\(batch)_noise"] = figure.noise
                values["speedup_b\(batch)"] = figure.speedup
                values["speedup_b\(batch)_lower"] = figure.speedupLower
                values["speedup_b\(batch)_upper"] = figure.speedupUpper
            }
            if let teacher = teacherOf[trial.id], let id = teachers[teacher] {
                for (batch, s) in byID[id] ?? [:] { values["teacher_latency_b\(batch)_ms"] = s.median.median }
            }
            out[trial.id] = values
        }
        return out
    }
}
