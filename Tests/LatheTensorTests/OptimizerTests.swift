import Testing
@testable import LatheTensor

@Suite("Optimizers and schedules")
struct OptimizerTests {
    /// Two SGD steps on f(w) = Σ w² against the PyTorch rule computed by hand.
    @Test func sgdMomentumWeightDecayMatchesTheTorchRule() throws {
        let w = try Tensor([1, -2] as [Float]).requiringGrad()
        let sgd = SGD(parameters: [w], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var expected: [Float] = [1, -2]
        var buffer: [Float] = [0, 0]
        for step in 0..<2 {
            try sgd.zeroGrad()
            try (w * w).sum().backward()
            try sgd.step()
            for i in 0..<2 {
                let g = 2 * expected[i] + 0.01 * expected[i]
                buffer[i] = step == 0 ? g : 0.9 * buffer[i] + g
                expected[i] -= 0.1 * buffer[i]
            }
        }
        let got = try w.scalars(as: Float.self)
        for i in 0..<2 { #expect(abs(got[i] - expected[i]) < 1e-6) }
    }

    @Test func adamFirstStepMovesByTheLearningRate() throws {
        // With bias correction the first Adam step is -lr·sign(g) (up to ε).
        let w = try Tensor([3, -1] as [Float]).requiringGrad()
        let adam = Adam(parameters: [w], learningRate: 0.01)
        try (w * w).sum().backward()
        try adam.step()
        let got = try w.scalars(as: Float.self)
        #expect(abs(got[0] - 2.99) < 1e-5)
        #expect(abs(got[1] - -0.99) < 1e-5)
    }

    @Test func schedules() {
        #expect(LRSchedule.cosine.rate(base: 0.1, step: 0, totalSteps: 100, stepsPerEpoch: 10) == 0.1)
        #expect(abs(LRSchedule.cosine.rate(base: 0.1, step: 50, totalSteps: 100, stepsPerEpoch: 10) - 0.05) < 1e-12)
        #expect(LRSchedule.step(stepEpochs: 3, gamma: 0.1).rate(base: 1, step: 35, totalSteps: 100, stepsPerEpoch: 10) == 0.1)
        #expect(LRSchedule.constant.rate(base: 0.2, step: 99, totalSteps: 100, stepsPerEpoch: 10) == 0.2)
    }
}
