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

    /// The engine's one-call step (fused loop for plain float32 momentum SGD, ATen operations for
    /// Nesterov) against the rule applied in Swift, over several parameters and steps; a
    /// parameter without a gradient must not move.
    @Test(arguments: [(0.0, false), (5e-4, false), (0.01, true), (0.0, true)])
    func engineStepMatchesTheRuleOverSeveralParameters(weightDecay: Double, nesterov: Bool) throws {
        let generator = try RandomGenerator(seed: 5)
        let shapes = [[6, 1, 5, 5], [6], [120, 400], [10]]
        let params = try shapes.map { try Tensor.randn($0, generator: generator).requiringGrad() }
        let frozen = try Tensor.randn([3], generator: generator).requiringGrad()
        let frozenBefore = try frozen.scalars(as: Float.self)
        var expected = try params.map { try $0.scalars(as: Double.self) }
        var buffers: [[Double]?] = Array(repeating: nil, count: params.count)
        let (lr, mu) = (0.05, 0.9)
        let sgd = SGD(parameters: params + [frozen], learningRate: lr, momentum: mu, weightDecay: weightDecay, nesterov: nesterov)
        for step in 0..<3 {
            try sgd.zeroGrad()
            // loss = Σ (step+1)·p³/3 → gradient (step+1)·p²
            var loss = try Tensor.scalar(0)
            for p in params { loss = try loss + (p * p * p).sum() * (Double(step + 1) / 3) }
            try loss.backward()
            for i in params.indices {
                let p = expected[i]
                let g = p.map { Double(step + 1) * $0 * $0 }
                let d = zip(g, p).map { $0 + weightDecay * $1 }
                let b = buffers[i].map { zip($0, d).map { mu * $0 + $1 } } ?? d
                buffers[i] = b
                let direction = nesterov ? zip(d, b).map { $0 + mu * $1 } : b
                expected[i] = zip(p, direction).map { $0 - lr * $1 }
            }
            try sgd.step()
        }
        for (p, e) in zip(params, expected) {
            let got = try p.scalars(as: Float.self)
            let worst = zip(got, e).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst < 2e-5, "largest relative error \(worst)")
        }
        #expect(try frozen.scalars(as: Float.self) == frozenBefore)
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

/// Optimizer state (checkpoint and resume): a restored optimizer takes the steps the original
/// would have taken.
@Suite("Optimizer state")
struct OptimizerStateTests {
    private func quadraticStep(_ optimizer: any Optimizer) throws {
        try optimizer.zeroGrad()
        for p in optimizer.parameters { try (p * p * p).sum().backward() }
        try optimizer.step()
    }

    @Test func aRestoredOptimizerContinuesExactly() throws {
        let makers: [(String, ([Tensor]) -> any Optimizer)] = [
            ("sgd", { SGD(parameters: $0, learningRate: 0.05, momentum: 0.9, nesterov: true) }),
            ("adam", { Adam(parameters: $0, learningRate: 0.01, weightDecay: 0.1) }),
            ("adamw", { AdamW(parameters: $0, learningRate: 0.01, weightDecay: 0.1) }),
        ]
        for (name, make) in makers {
            let a = [try Tensor([1, -2, 0.5] as [Float]).requiringGrad(), try Tensor([0.25, 0.75] as [Float], shape: [1, 2]).requiringGrad()]
            let original = make(a)
            for _ in 0..<3 { try quadraticStep(original) }
            let b = try a.map { try $0.detached().clone().requiringGrad() }
            let restored = make(b)
            try restored.restore(try original.state())
            for _ in 0..<2 {
                try quadraticStep(original)
                try quadraticStep(restored)
            }
            for (x, y) in zip(a, b) { #expect(try x.scalars(as: Float.self) == y.scalars(as: Float.self), "\(name)") }
            // Without the state, the same steps go elsewhere (the state is not inert).
            let c = try b.map { try $0.detached().clone().requiringGrad() }
            let fresh = make(c)
            try quadraticStep(fresh)
            try quadraticStep(restored)
            #expect(try c[0].scalars(as: Float.self) != b[0].scalars(as: Float.self), "\(name)")
        }
    }

    @Test func aStateThatDoesNotFitIsRefusedNamingTheTensor() throws {
        let p = try Tensor([1, 2] as [Float]).requiringGrad()
        let adam = Adam(parameters: [p])
        func message(_ state: OptimizerState) -> String {
            do { try adam.restore(state) } catch { return String(describing: error) }
            return "no error"
        }
        #expect(message(OptimizerState(steps: 1, tensors: ["m.0": try Tensor.zeros([3]), "v.0": try Tensor.zeros([3])]))
            .contains(".0' is float32 [3]; parameter 0 is float32 [2]"))
        #expect(message(OptimizerState(steps: 1, tensors: ["m.1": try Tensor.zeros([2])])).contains("tensor 'm.1': expected <m|v>.<parameter index below 1>"))
        #expect(message(OptimizerState(steps: 1, tensors: ["m.0": try Tensor.zeros([2])])).contains("parameter 0 has only one of its moments"))
    }
}
