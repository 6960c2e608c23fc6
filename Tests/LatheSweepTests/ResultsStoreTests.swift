import Foundation
import LatheResults
import Testing

/// The results store's retry and lock primitives, on a real database in a temp folder.
@Suite("results store")
struct ResultsStoreTests {
    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func resetFailedRequeuesOnlyFailedTrials() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ResultsStore(path: dir.appendingPathComponent("r.db").path)
        let records = ["done", "failed", "timeout", "running", "pending"].map {
            ResultsStore.TrialRecord(key: $0, group: "g", method: $0, configJSON: "{}", seed: 0)
        }
        let id = try store.createSweep(name: "s", specPath: "s.toml", specText: "", latheVersion: "0", host: "h", workers: 1, threads: 1,
                                       trials: records)
        let trials = try store.trials(sweep: id)
        for t in trials.prefix(4) { try store.markRunning(t.id) }
        try store.finish(trials[0].id, outcome: .init(metrics: ["accuracy": 0.9]), seconds: 1)
        try store.fail(trials[1].id, error: "disk full", seconds: 1)
        try store.fail(trials[2].id, error: "timed out: killed after 5 s", seconds: 5)
        #expect(try store.resetFailed(sweep: id) == 2)
        let after = try store.trials(sweep: id)
        #expect(after.map(\.status) == ["done", "pending", "pending", "running", "pending"])
        #expect(after.map(\.error) == [nil, nil, nil, nil, nil])
        #expect(after.map(\.attempts) == [1, 1, 1, 1, 0])
        #expect(try store.metrics(trial: trials[0].id) == ["accuracy": 0.9])
        #expect(try store.resetFailed(sweep: id) == 0)
    }

    @Test func theWriterLockIsExclusiveAndReleasedWithItsHolder() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("r.db").path
        var first: WriterLock? = try WriterLock(database: db)
        #expect(try String(contentsOfFile: db + ".lock", encoding: .utf8) == "\(getpid())\n")
        #expect {
            _ = try WriterLock(database: db)
        } throws: { error in
            "\(error)".contains("results database \(db) is in use by another sweep (pid \(getpid())")
        }
        withExtendedLifetime(first) {}
        first = nil
        _ = try WriterLock(database: db)
        // A lock file that cannot be created is named with the reason.
        #expect {
            _ = try WriterLock(database: dir.appendingPathComponent("missing/r.db").path)
        } throws: { error in
            "\(error)".contains("cannot write results database") && "\(error)".contains("No such file or directory")
        }
    }
}
