import Foundation
import Testing
@testable import LatheTensor

@Suite("AdamW and learning-rate warm-up")
struct AdamWAndWarmupTests {
    /// Three AdamW steps on f(w) = Σ w³/3 (gradient w²) against torch.optim.AdamW's rule by hand:
    /// the decay shrinks the weights outside the moments.
    @Test func adamWMatchesTheTorchRule() throws {
        let w = try Tensor([1, -2, 0.5] as [Float]).requiringGrad()
        let (lr, wd, b1, b2, eps) = (0.01, 0.1, 0.9, 0.999, 1e-8)
        let adamw = AdamW(parameters: [w], learningRate: lr, weightDecay: wd)
        var expected: [Double] = [1, -2, 0.5]
        var m = [Double](repeating: 0, count: 3), v = m
        for step in 1...3 {
            try adamw.zeroGrad()
            try (w * w * w / 3).sum().backward()
            try adamw.step()
            for i in 0..<3 {
                let g = expected[i] * expected[i]
                expected[i] *= 1 - lr * wd
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let mHat = m[i] / (1 - Foundation.pow(b1, Double(step)))
                let vHat = v[i] / (1 - Foundation.pow(b2, Double(step)))
                expected[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        let got = try w.scalars(as: Float.self)
        for i in 0..<3 { #expect(abs(Double(got[i]) - expected[i]) < 1e-6, "element \(i)") }
        // Adam with the same λ as an L2 term ends elsewhere: the decay is decoupled.
        let l2 = try Tensor([1, -2, 0.5] as [Float]).requiringGrad()
        let adam = Adam(parameters: [l2], learningRate: lr, weightDecay: wd)
        for _ in 1...3 {
            try adam.zeroGrad()
            try (l2 * l2 * l2 / 3).sum().backward()
            try adam.step()
        }
        #expect(try (l2 - w).abs().max().item() > 1e-4)
    }

    /// 2 warm-up epochs of 10 steps rise linearly to the base rate, then the cosine runs over the
    /// remaining 80 steps; a warm-up longer than the run covers all of it.
    @Test func warmupRisesLinearlyThenRunsTheScheduleOnTheRest() {
        let schedule = LRSchedule.warmup(epochs: 2, then: .cosine)
        func rate(_ step: Int, total: Int = 100) -> Double { schedule.rate(base: 0.1, step: step, totalSteps: total, stepsPerEpoch: 10) }
        #expect(abs(rate(0) - 0.005) < 1e-12)
        #expect(abs(rate(9) - 0.05) < 1e-12)
        #expect(abs(rate(19) - 0.1) < 1e-12)
        #expect(abs(rate(20) - 0.1) < 1e-12)
        #expect(abs(rate(60) - 0.05) < 1e-12)
        #expect(rate(99) < 0.001)
        #expect(abs(rate(4, total: 10) - 0.05) < 1e-12)
        let step = LRSchedule.warmup(epochs: 1, then: .step(stepEpochs: 1, gamma: 0.5))
        #expect(step.rate(base: 1, step: 10, totalSteps: 40, stepsPerEpoch: 10) == 1)
        #expect(step.rate(base: 1, step: 20, totalSteps: 40, stepsPerEpoch: 10) == 0.5)
    }
}
