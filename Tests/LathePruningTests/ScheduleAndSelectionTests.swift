import Foundation
import LatheTensor
import Testing
@testable import LathePruning

@Suite("Sparsity schedules")
struct ScheduleTests {
    @Test func agpFollowsZhuAndGuptaCubic() {
        #expect(abs(SparsitySchedule.agp(initial: 0, final: 0.9, step: 5, steps: 10) - 0.7875) < 1e-12)
        #expect(SparsitySchedule.agp(initial: 0, final: 0.9, step: 0, steps: 10) == 0)
        #expect(abs(SparsitySchedule.agp(initial: 0, final: 0.9, step: 10, steps: 10) - 0.9) < 1e-12)
        #expect(abs(SparsitySchedule.agp(initial: 0.2, final: 0.8, step: 1, steps: 2) - 0.725) < 1e-12)
        // Steep first, flat at the end.
        let s = (0...10).map { SparsitySchedule.agp(initial: 0, final: 0.9, step: $0, steps: 10) }
        #expect(s[1] - s[0] > s[10] - s[9])
    }

    @Test func iterativeRemovesTheSameFractionOfWhatRemainsEachRound() {
        let s = (1...3).map { SparsitySchedule.iterative(final: 0.875, step: $0, steps: 3) }
        #expect(abs(s[0] - 0.5) < 1e-12)
        #expect(abs(s[1] - 0.75) < 1e-12)
        #expect(abs(s[2] - 0.875) < 1e-12)
    }

    @Test func configTargetsReachTheFinalSparsityAtTheLastStep() {
        var c = PruningConfig()
        c.sparsity = 0.9
        c.schedule = .agp
        c.steps = 10
        #expect(abs(SparsitySchedule.target(c, final: 0.9, step: 5) - 0.7875) < 1e-12)
        #expect(SparsitySchedule.target(c, final: 0.9, step: 10) == 0.9)
        // A per-layer override follows the same curve to its own final value.
        #expect(abs(SparsitySchedule.target(c, final: 0.45, step: 5) - 0.39375) < 1e-12)
        c.schedule = .oneShot
        #expect(c.stepCount == 1)
        #expect(SparsitySchedule.target(c, final: 0.9, step: 1) == 0.9)
    }
}

@Suite("Local and global selection")
struct SelectionTests {
    private func candidate(_ name: String, _ scores: [Float], alive: [Bool]? = nil) throws -> Selection.Candidate {
        Selection.Candidate(layer: name, scores: try Tensor(scores), alive: alive)
    }

    @Test func localPrunesEachLayerToTheTarget() throws {
        let keep = try Selection.local([candidate("a", [1, 5, 9, 13]), candidate("b", [2, 3, 4, 20])], sparsity: [0.5, 0.5])
        #expect(keep[0] == [false, false, true, true])
        #expect(keep[1] == [false, false, true, true])
    }

    @Test func globalRanksAcrossLayers() throws {
        let keep = try Selection.global([candidate("a", [1, 5, 9, 13]), candidate("b", [2, 3, 4, 20])], sparsity: 0.5)
        #expect(keep[0] == [false, true, true, true])
        #expect(keep[1] == [false, false, false, true])
    }

    @Test func perLayerSparsitiesDiffer() throws {
        let keep = try Selection.local([candidate("a", [4, 3, 2, 1]), candidate("b", [1, 2, 3, 4])], sparsity: [0.25, 0.75])
        #expect(keep[0] == [true, true, true, false])
        #expect(keep[1] == [false, false, false, true])
    }

    @Test func everyLayerKeepsAUnit() throws {
        let keep = try Selection.global([candidate("a", [1, 2]), candidate("b", [100, 200])], sparsity: 0.5)
        #expect(keep[0] == [false, true])
        #expect(keep[1] == [false, true])
        let local = try Selection.local([candidate("a", [1, 2, 3])], sparsity: [0.99])
        #expect(local[0] == [false, false, true])
    }

    @Test func prunedUnitsStayPrunedWhateverTheirNewScore() throws {
        let keep = try Selection.local([candidate("a", [9, 1, 2, 3], alive: [false, true, true, true])], sparsity: [0.5])
        #expect(keep[0] == [false, false, true, true])
    }

    @Test func tiesBreakByPosition() throws {
        let keep = try Selection.local([candidate("a", [1, 1, 1, 1])], sparsity: [0.5])
        #expect(keep[0] == [false, false, true, true])
    }
}
