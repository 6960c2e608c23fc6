import Foundation
import Testing
@testable import LathePlugins

/// [1.1] What `lathe plugins check` verifies of learnables, backward entries and state (run
/// in-process here; the CLI runs the same checker in a child process).
@Suite struct LearnableConformanceTests {
    func records(_ fixture: String, _ id: String) throws -> (ok: Bool, results: [String: CheckResult]) {
        let method = try PluginLibrary.load(path: try Fixtures.library(fixture)).method(id)
        var results: [String: CheckResult] = [:]
        let ok = ConformanceChecker(method: method) { record in
            if record.status != .begin { results[record.check] = record }
        }.run()
        return (ok, results)
    }

    func status(_ results: [String: CheckResult], _ check: String) -> CheckResult.Status? { results[check]?.status }

    @Test func aLearnedStepQuantizerPassesAndItsStraightThroughBackwardIsNotComparedWithFiniteDifferences() throws {
        let (ok, results) = try records("learn_scale", "lsq")
        #expect(ok, "\(results.values.filter { $0.status == .fail })")
        for check in ["init determinism", "backward linearity", "learnable gradients", "idempotence", "levels", "edge cases", "thread safety"] {
            #expect(status(results, check) == .pass, "\(check): \(String(describing: results[check]))")
        }
        let fd = try #require(results["backward vs finite differences"])
        #expect(fd.status == .skip && fd.detail.contains("piecewise constant") && fd.detail.contains("straight-through"), "\(fd)")
        #expect(status(results, "state checkpoint") == .skip)
    }

    @Test func aSmoothLearnableQuantizerIsComparedWithFiniteDifferences() throws {
        let (ok, results) = try records("learn_scale", "gain")
        #expect(ok, "\(results.values.filter { $0.status == .fail })")
        let fd = try #require(results["backward vs finite differences"])
        #expect(fd.status == .pass && fd.detail.contains("coordinates of the input and the learnables"), "\(fd)")
    }

    @Test func aWrongLearnableGradientFailsFiniteDifferences() throws {
        let (ok, results) = try records("learn_faults", "wrong_gain")
        #expect(!ok)
        let fd = try #require(results["backward vs finite differences"])
        #expect(fd.status == .fail && fd.detail.contains("the backward's gradient of 's' at 0 is"), "\(fd)")
        #expect(status(results, "backward linearity") == .pass)
    }

    @Test func aBackwardNotLinearInTheOutputGradientFails() throws {
        let (ok, results) = try records("learn_faults", "squared")
        #expect(!ok)
        let check = try #require(results["backward linearity"])
        #expect(check.status == .fail && check.detail.contains("the input gradient is not linear in the output gradient"), "\(check)")
    }

    @Test func aNaNLearnableGradientFailsTheChecksNamingIt() throws {
        let (ok, results) = try records("learn_faults", "nan_grad")
        #expect(!ok)
        let check = try #require(results["backward linearity"])
        #expect(check.status == .fail && check.detail.contains("learn_faults/nan_grad backward returned a non-finite gradient for learnable 's'"), "\(check)")
    }

    @Test func aStatefulLossWithLearnablesPassesIncludingFiniteDifferencesAndTheStateCheckpoint() throws {
        let (ok, results) = try records("learn_bank", "offset")
        #expect(ok, "\(results.values.filter { $0.status == .fail })")
        let gradient = try #require(results["gradient vs finite differences"])
        #expect(gradient.status == .pass && gradient.detail.contains("learnables: worst relative error"), "\(gradient)")
        let state = try #require(results["state checkpoint"])
        #expect(state.status == .pass && state.detail.contains("state of 64 bytes"), "\(state)")
        #expect(status(results, "learnable gradients") == .pass && status(results, "init determinism") == .pass)
        #expect(status(results, "backward linearity") == .skip)
    }

    @Test func aStateRequestOverTheLimitFailsTheFirstCall() throws {
        let (ok, results) = try records("learn_faults", "huge_state")
        #expect(!ok)
        let first = try #require(results["call with defaults"])
        #expect(first.status == .fail && first.detail.contains("learn_faults/huge_state: the host refused its state request: host->state: requested 1073741825 bytes"), "\(first)")
    }
}
