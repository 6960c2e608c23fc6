import Foundation
@testable import LatheSweep
import LatheTestSupport
import Testing

/// The `scontrol show job -o` parser on lines captured from a real Slurm 22.05.8
/// (`Tests/Fixtures/slurm/scontrol-show-job.txt`), and the Slurm option checks.
@Suite("Slurm records and options")
struct SlurmRecordTests {
    /// The captured records of one section (`## name: …` in the fixture).
    static func section(_ name: String) throws -> [SlurmJobRecord] {
        let text = try String(contentsOf: SourceTree.root.appendingPathComponent("Tests/Fixtures/slurm/scontrol-show-job.txt"), encoding: .utf8)
        var lines: [String] = []
        var inside = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("## ") {
                inside = line.hasPrefix("## \(name):")
            } else if inside {
                lines.append(String(line))
            }
        }
        #expect(!lines.isEmpty, "no section \(name) in the fixture")
        return try SlurmJobRecord.parse(lines.joined(separator: "\n"))
    }

    static func byTask(_ records: [SlurmJobRecord]) -> [Int: SlurmJobRecord] {
        var out: [Int: SlurmJobRecord] = [:]
        for r in records { for t in r.tasks { out[t] = r } }
        return out
    }

    @Test func pendingTasksShareOneRecordWithARangeAndAThrottle() throws {
        let records = try Self.section("array-initial")
        #expect(records.count == 2)
        let pending = try #require(records.first { $0.state == "PENDING" })
        #expect(pending.fields["ArrayTaskId"] == "1-9%2")
        #expect(pending.tasks == Array(1...9))
        #expect(pending.jobID == "26" && pending.arrayJobID == "26")
        let running = try #require(records.first { $0.state == "RUNNING" })
        #expect(running.tasks == [0] && running.jobID == "28" && running.arrayJobID == "26")
        #expect(!pending.isFinal && !running.isFinal)
    }

    @Test func finalStatesOfAnArrayAreKeyedByArrayTaskNotJobID() throws {
        let tasks = Self.byTask(try Self.section("array-final"))
        #expect(tasks.keys.sorted() == Array(0...9))
        #expect(tasks[0].map { [$0.state, $0.reason, $0.exitCode] } == ["COMPLETED", "None", "0:0"])
        #expect(tasks[1].map { [$0.state, $0.reason, $0.exitCode] } == ["FAILED", "NonZeroExitCode", "3:0"])
        #expect(tasks[2].map { [$0.state, $0.exitCode] } == ["CANCELLED", "0:15"])
        #expect(tasks[2]?.failureDescription == "slurm: CANCELLED, exit code 0:15")
        #expect((3...9).allSatisfy { tasks[$0]?.state == "COMPLETED" })
        // The array's own job id (26) is its last task's.
        #expect(tasks[9]?.jobID == "26" && tasks[0]?.jobID == "28")
        #expect(tasks.values.allSatisfy { $0.arrayJobID == "26" && $0.tasks.count == 1 })
        #expect((0...9).allSatisfy { tasks[$0]?.isFinal == true })
        #expect(tasks[0]?.runSeconds.map { $0 >= 0 && $0 < 60 } == true)
    }

    @Test func aDependencyThatCanNeverBeMetIsRecognised() throws {
        let waiting = try #require(try Self.section("dependent-initial").first)
        #expect(waiting.state == "PENDING" && waiting.reason == "Dependency" && !waiting.dependencyNeverSatisfied)
        #expect(waiting.tasks == Array(4...9))
        #expect(waiting.fields["Dependency"] == "afterok:26_*(unfulfilled)")
        let never = try #require(try Self.section("dependent-never").first)
        #expect(never.dependencyNeverSatisfied && !never.isFinal && never.tasks == Array(4...9))
        let cancelled = try #require(try Self.section("dependent-cancelled").first)
        #expect(cancelled.state == "CANCELLED" && cancelled.isFinal && !cancelled.dependencyNeverSatisfied)
        #expect(cancelled.tasks == Array(4...9))
    }

    @Test func timeLimitAndNodeFailureCarrySlurmsReason() throws {
        let timeout = try #require(try Self.section("timeout").first)
        #expect(timeout.isFinal && timeout.arrayJobID == nil && timeout.tasks.isEmpty)
        #expect(timeout.failureDescription == "slurm: TIMEOUT (TimeLimit), exit code 0:15")
        // Rounded up to a minute, killed at slurmctld's next 30 s check.
        #expect(timeout.fields["TimeLimit"] == "00:01:00")
        #expect(timeout.runSeconds.map { $0 >= 60 && $0 <= 100 } == true, "\(String(describing: timeout.runSeconds))")
        let node = try #require(try Self.section("node-fail").first)
        #expect(node.failureDescription == "slurm: NODE_FAIL (NodeDown), exit code 0:15" && node.isFinal)
    }

    @Test func taskListsAndMalformedLines() throws {
        #expect(SlurmJobRecord.parseTaskIDs("7") == [7])
        #expect(SlurmJobRecord.parseTaskIDs("4-9%2") == [4, 5, 6, 7, 8, 9])
        #expect(SlurmJobRecord.parseTaskIDs("1,3,5-7") == [1, 3, 5, 6, 7])
        #expect(SlurmJobRecord.parseTaskIDs("0-15:4") == [0, 4, 8, 12])
        for bad in ["", "x", "9-4", "1-", "-3", "1:2:3", "0-3:0"] { #expect(SlurmJobRecord.parseTaskIDs(bad) == nil, "\(bad)") }
        #expect(throws: SweepError.self) { try SlurmJobRecord.parse("JobId=5 ArrayJobId=5 ArrayTaskId=a-b JobState=PENDING") }
        #expect(throws: SweepError.self) { try SlurmJobRecord.parse("ArrayJobId=5 ArrayTaskId=1 Reason=None") }
        // A value with spaces stays whole; TRES keeps its own '='.
        let fields = SlurmJobRecord.keyValues("JobId=3 Comment=two words JobState=RUNNING TRES=cpu=1,mem=2G")
        #expect(fields == ["JobId": "3", "Comment": "two words", "JobState": "RUNNING", "TRES": "cpu=1,mem=2G"])
    }

    @Test func timeLimitsInEverySlurmForm() throws {
        let cases: [(String, Int)] = [("5", 300), ("1:30", 90), ("01:02:03", 3723), ("2-0", 172_800), ("1-2:03", 93_780), ("1-02:03:04", 93_784)]
        for (value, seconds) in cases { #expect(try SlurmOptions.seconds(ofTime: value) == seconds, "\(value)") }
        for bad in ["", "0", "00:00:00", "1:2:3:4", "a", "1-2-3", "-5", "5m", "UNLIMITED", "1-"] {
            #expect(throws: SweepError.self, "\(bad)") { try SlurmOptions.seconds(ofTime: bad) }
        }
        #expect(SlurmOptions.time(coveringSeconds: 900) == "15")
        #expect(SlurmOptions.time(coveringSeconds: 61) == "2")
        #expect(SlurmOptions.time(coveringSeconds: 5) == "1")
        var options = SlurmOptions()
        options.arrayLimit = 0
        #expect(throws: SweepError.self) { try options.validate() }
        options.arrayLimit = 2
        options.memory = "4 GB"
        #expect(throws: SweepError.self) { try options.validate() }
        options.memory = "4G"
        options.extraArguments = ["qos=short"]
        #expect(throws: SweepError.self) { try options.validate() }
        options.extraArguments = ["--qos=short"]
        try options.validate()
    }

    @Test func theBatchScriptIsValidBashAndPinsWhatItRuns() throws {
        var options = SlurmOptions()
        options.partition = "lathe"
        options.memory = "2G"
        let script = SlurmScript(pins: [(String(repeating: "a", count: 64), "/opt/lathe/bin/lathe")], executable: "/opt/lathe/bin/lathe",
                                 out: "/shared/runs/it's", sweepName: "s", threads: 2, time: "15", options: options)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-sbatch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sweep.sbatch")
        try Data(script.text.utf8).write(to: file)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/bash")
        check.arguments = ["-n", file.path]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0)
        for line in ["#SBATCH --time=15", "#SBATCH --cpus-per-task=2", "#SBATCH --partition=lathe", "#SBATCH --mem=2G", "#SBATCH --requeue",
                     "\(String(repeating: "a", count: 64))  /opt/lathe/bin/lathe", "out='/shared/runs/it'\\''s'"] {
            #expect(script.text.contains(line + "\n"), "\(line)")
        }
    }
}
