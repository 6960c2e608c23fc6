import Foundation
import LatheTensor

/// [1.1] Conformance checks of learnables, backward entries and state (the SDK's README lists
/// them). Learnable quantizers such as LSQ and PACT round in the forward, so their backward is a
/// straight-through estimator by definition: finite differences of the real forward (zero almost
/// everywhere, a jump at each rounding step) do not measure it. What holds for every backward, a
/// vector-Jacobian product for some Jacobian, is checked for all: linearity in the output
/// gradient, and that each learnable receives a gradient. Finite differences are compared only
/// where they mean something: for losses (smooth) and for quantizers whose forward is found
/// smooth at the probed coordinates.
extension ConformanceChecker {
    typealias Step = (_ name: String, _ applies: Bool, _ why: String, _ body: () throws -> String) -> Void

    func runLearnableChecks(_ settings: [Setting], step: Step) {
        let d = method.descriptor
        let hasLearnables = !d.learnables.isEmpty
        step("init determinism", hasLearnables && d.flags.contains(.deterministic),
             hasLearnables ? "not declared deterministic" : "no learnables") {
            try atEachSetting(settings, initDeterminism)
        }
        step("backward linearity", d.hasBackward, "no backward") { try atEachSetting(settings, backwardLinearity) }
        step("learnable gradients", hasLearnables, "no learnables") { try atEachSetting(settings, learnableGradients) }
        if d.kind == .quantizer, d.hasBackward {
            // A forward that fails here fails the check itself, with the reason.
            let smooth = try? smoothness(settings[0].params)
            let piecewise = smooth.map { $0.unchanged * 2 >= $0.probes } ?? false
            step("backward vs finite differences", !piecewise,
                 "the forward is piecewise constant (output unchanged by ±1% at \(smooth?.unchanged ?? 0) of \(smooth?.probes ?? 0) probed coordinates: rounding), so its backward is a straight-through estimator that finite differences of the forward do not measure; backward linearity and learnable gradients are checked instead") {
                try atEachSetting(settings, backwardFiniteDifferences)
            }
        }
        if d.kind != .criterion {
            let usesState = (try? requestsState(settings[0].params)) ?? false
            step("state checkpoint", usesState && d.flags.contains(.deterministic),
                 usesState ? "not declared deterministic" : "no state requested") {
                try atEachSetting(settings, stateCheckpoint)
            }
        }
    }

    // MARK: Instances

    private var context: CallContext { Self.context(method) }

    /// A fresh instance, initialized on `x` (the standard inputs of the kind).
    private func instance(_ params: BoundParams, _ x: [Tensor]) throws -> MethodInstance {
        let instance = MethodInstance(method: method, params: params, verification: .everyCall)
        if method.descriptor.kind == .loss {
            try instance.initialize(student: x[0], teacher: x[1], context: context)
        } else {
            try instance.initialize(input: x[0], context: context)
        }
        return instance
    }

    /// One call of `instance`: the output (quantizers) or the student gradient and loss (losses).
    private func outcome(_ instance: MethodInstance, _ x: [Tensor]) throws -> Outcome {
        if method.descriptor.kind == .loss {
            let (loss, grad, _) = try instance.loss(student: x[0], teacher: x[1], labels: x[2], context: context)
            return Outcome(values: try grad.scalars(as: Float.self), scalar: loss)
        }
        let (out, q) = try instance.quantize(x[0], context: context)
        return Outcome(values: try out.scalars(as: Float.self), qparams: q)
    }

    /// The learnables' gradients (and the input gradient, quantizers) for output gradient `g`.
    private func gradients(_ instance: MethodInstance, _ x: [Tensor], _ g: Tensor?) throws -> [[Float]] {
        if method.descriptor.kind == .loss {
            return try instance.loss(student: x[0], teacher: x[1], labels: x[2], context: context).learnableGrads.map { try $0.scalars(as: Float.self) }
        }
        let (dx, grads) = try instance.backward(input: x[0], gradOutput: try g ?? Tensor.randn(x[0].shape), context: context)
        return try [dx.scalars(as: Float.self)] + grads.map { try $0.scalars(as: Float.self) }
    }

    // MARK: Checks

    private func initDeterminism(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 8)
        let a = try instance(params, x).learnables.map { try $0.scalars(as: Float.self) }
        let b = try instance(params, x).learnables.map { try $0.scalars(as: Float.self) }
        for (index, (u, v)) in zip(a, b).enumerated() where u != v {
            throw PluginError("init_learnables gave learnable '\(method.descriptor.learnables[index].name)' different values on the same input (max difference \(maxDifference(u, v)))")
        }
        return "two initializations on the same input gave identical learnables (\(a.map(\.count).reduce(0, +)) values)"
    }

    /// backward(2g) = 2 backward(g) and backward(g + h) = backward(g) + backward(h).
    private func backwardLinearity(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 9)
        let instance = try instance(params, x)
        let generator = try RandomGenerator(seed: 10)
        let g = try Tensor.randn(x[0].shape, generator: generator), h = try Tensor.randn(x[0].shape, generator: generator)
        let bg = try gradients(instance, x, g), b2g = try gradients(instance, x, try g * 2)
        let bh = try gradients(instance, x, h), bgh = try gradients(instance, x, try g + h)
        let names = ["input gradient"] + method.descriptor.learnables.map { "gradient of '\($0.name)'" }
        var worst = 0.0
        for (index, name) in names.enumerated() {
            let scaled = relativeError(b2g[index], bg[index].map { 2 * $0 })
            guard scaled <= 1e-5 else {
                throw PluginError("the \(name) is not linear in the output gradient: backward(2g) differs from 2 backward(g) by \(String(format: "%.3g", scaled)) (relative; tolerance 1e-5)")
            }
            let sum = relativeError(bgh[index], zip(bg[index], bh[index]).map { $0 + $1 })
            guard sum <= 2e-3 else {
                throw PluginError("the \(name) is not linear in the output gradient: backward(g + h) differs from backward(g) + backward(h) by \(String(format: "%.3g", sum)) (relative; tolerance 2e-3)")
            }
            worst = Swift.max(worst, sum)
        }
        return "backward(2g) = 2 backward(g), backward(g + h) = backward(g) + backward(h) (worst relative error \(String(format: "%.2e", worst)))"
    }

    private func learnableGradients(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 11)
        let instance = try instance(params, x)
        let g = try Tensor.randn(x[0].shape, generator: try RandomGenerator(seed: 12))
        var grads = try gradients(instance, x, g)
        if method.descriptor.kind == .quantizer { grads.removeFirst() }
        for (learnable, grad) in zip(method.descriptor.learnables, grads) where !grad.contains(where: { $0 != 0 }) {
            throw PluginError("learnable '\(learnable.name)' received an all-zero gradient for a random input and output gradient: it would never train")
        }
        return "each of \(grads.count) learnable(s) received a nonzero gradient"
    }

    /// How many of 24 probed input coordinates leave the whole output bitwise unchanged when moved
    /// by ±1% (a rounding forward) at `params`.
    private func smoothness(_ params: BoundParams) throws -> (unchanged: Int, probes: Int) {
        let x = try inputs(seed: 13)
        let instance = try instance(params, x)
        let reference = try outcome(instance, x).values
        var values = try x[0].scalars(as: Float.self)
        var unchanged = 0
        let coordinates = probes(values.count, 24, seed: 14)
        for i in coordinates {
            let original = values[i]
            var same = true
            for sign: Float in [1, -1] {
                values[i] = original + sign * probeStep(original)
                if try outcome(instance, [try Tensor(values, shape: x[0].shape)]).values != reference { same = false }
            }
            values[i] = original
            if same { unchanged += 1 }
        }
        return (unchanged, coordinates.count)
    }

    /// Central differences of sum(g * q(x; learnables)) w.r.t. input coordinates and learnable
    /// elements, compared with the backward (smooth forwards only).
    private func backwardFiniteDifferences(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 13)
        let instance = try instance(params, x)
        let g = try Tensor.randn(x[0].shape, generator: try RandomGenerator(seed: 15))
        let weights = try g.scalars(as: Float.self)
        let analytic = try gradients(instance, x, g)
        func objective(_ input: [Float]) throws -> Double {
            let out = try outcome(instance, [try Tensor(input, shape: x[0].shape)]).values
            return zip(out, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var values = try x[0].scalars(as: Float.self)
        var worst = 0.0, probed = 0
        func compare(_ numeric: Double, _ analytic: Float, _ what: String) throws {
            let error = Swift.abs(numeric - Double(analytic)) / (1e-3 + Swift.abs(numeric))
            guard error <= 2e-2 else {
                throw PluginError("the backward's \(what) is \(analytic); central finite differences of sum(g * q) give \(String(format: "%.6g", numeric)) (relative error \(String(format: "%.3g", error)), tolerance 0.02)")
            }
            worst = Swift.max(worst, error)
            probed += 1
        }
        for i in probes(values.count, 24, seed: 16) {
            let original = values[i], h = probeStep(original)
            values[i] = original + h
            let plus = try objective(values)
            values[i] = original - h
            let minus = try objective(values)
            values[i] = original
            try compare((plus - minus) / Double(2 * h), analytic[0][i], "input gradient at \(i)")
        }
        let learnables = try instance.learnables.map { try $0.scalars(as: Float.self) }
        for (index, learnable) in method.descriptor.learnables.enumerated() {
            var moved = learnables
            for e in probes(learnables[index].count, 8, seed: 17 + UInt64(index)) {
                let original = learnables[index][e], h = probeStep(original)
                var sides: [Double] = []
                for sign: Float in [1, -1] {
                    moved[index][e] = original + sign * h
                    try instance.setLearnables(try zip(moved, instance.learnables).map { try Tensor($0, shape: $1.shape) })
                    sides.append(try objective(values))
                }
                moved[index][e] = original
                try instance.setLearnables(try zip(learnables, instance.learnables).map { try Tensor($0, shape: $1.shape) })
                try compare((sides[0] - sides[1]) / Double(2 * h), analytic[1 + index][e], "gradient of '\(learnable.name)' at \(e)")
            }
        }
        return "worst relative error \(String(format: "%.2e", worst)) over \(probed) coordinates of the input and the learnables (step 1% of the value, tolerance 0.02)"
    }

    /// Whether a call at `params` asks for a state buffer.
    private func requestsState(_ params: BoundParams) throws -> Bool {
        let x = try inputs(seed: 18)
        let instance = try instance(params, x)
        _ = try outcome(instance, x)
        return instance.stateBytes != nil
    }

    /// An instance restored from another's learnables and state bytes continues exactly as the
    /// original: everything the method keeps between calls is in the state buffer.
    private func stateCheckpoint(_ params: BoundParams) throws -> String {
        let first = try inputs(seed: 19), second = try inputs(seed: 20)
        let original = try instance(params, first)
        _ = try outcome(original, first)
        let saved = original.stateBytes
        let learnables = try original.learnables.map { try $0.detached().clone() }
        let expected = try outcome(original, second)
        let restored = MethodInstance(method: method, params: params, verification: .everyCall)
        try restored.setLearnables(learnables)
        if let saved { try restored.setState(saved) }
        let resumed = try outcome(restored, second)
        guard resumed.same(as: expected) else {
            throw PluginError("an instance restored from the state (\(saved?.count ?? 0) bytes) and learnables saved after one call gives another second call than the original (max difference \(maxDifference(resumed.values, expected.values))): the method keeps something between calls outside host->state")
        }
        guard restored.stateBytes == original.stateBytes else {
            throw PluginError("an instance restored from saved state ends the next call with other state bytes than the original")
        }
        return "state of \(saved?.count ?? 0) bytes persisted across calls; restored into a fresh instance, the next call matched the original's"
    }

    // MARK: Helpers

    /// `count` seeded distinct-ish indices below `n`.
    private func probes(_ n: Int, _ count: Int, seed: UInt64) -> [Int] {
        guard n > 0 else { return [] }
        var rng = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<Swift.min(count, n)).map { _ in
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(n))
        }
    }

    /// The finite-difference step for a value: 1% of it, at least 1e-3.
    private func probeStep(_ value: Float) -> Float { Swift.max(Swift.abs(value) * 1e-2, 1e-3) }

    private func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = zip(a, b).reduce(0.0) { Swift.max($0, Double(Swift.abs($1.0)), Double(Swift.abs($1.1))) }
        return scale == 0 ? maxDifference(a, b) : maxDifference(a, b) / scale
    }
}

/// A loss evaluated for finite differences: every evaluation is a fresh instance holding the
/// same learnables (those `init_learnables` gave on the standard inputs), so a state the method
/// updates on each call (a memory bank, a counter) is the same (fresh) at every evaluation.
struct LossEvaluator {
    let method: PluginMethod
    let params: BoundParams
    let inputs: [Tensor]
    let learnables: [Tensor]

    init(method: PluginMethod, params: BoundParams, inputs: [Tensor]) throws {
        self.method = method
        self.params = params
        self.inputs = inputs
        let instance = MethodInstance(method: method, params: params, verification: .everyCall)
        try instance.initialize(student: inputs[0], teacher: inputs[1], context: ConformanceChecker.context(method))
        learnables = try instance.learnables.map { try $0.detached().clone() }
    }

    private func call(_ student: Tensor, _ values: [Tensor]) throws -> (loss: Double, studentGrad: Tensor, learnableGrads: [Tensor]) {
        let instance = MethodInstance(method: method, params: params, verification: .everyCall)
        try instance.setLearnables(values)
        return try instance.loss(student: student, teacher: inputs[1], labels: inputs[2], context: ConformanceChecker.context(method))
    }

    func value(student: Tensor) throws -> Double { try call(student, learnables).loss }

    func gradients(student: Tensor) throws -> (student: [Float], learnables: [[Float]]) {
        let (_, grad, grads) = try call(student, learnables)
        return (try grad.scalars(as: Float.self), try grads.map { try $0.scalars(as: Float.self) })
    }

    /// Central differences w.r.t. up to 8 elements of each learnable (absolute step 1e-2, as for
    /// the student), compared with `analytic`; "" when there are no learnables.
    func learnableCheck(_ analytic: [[Float]], student: Tensor) throws -> String {
        guard !learnables.isEmpty else { return "" }
        var worst = 0.0, probed = 0
        let eps: Float = 1e-2
        for (index, learnable) in method.descriptor.learnables.enumerated() {
            var values = try learnables.map { try $0.scalars(as: Float.self) }
            let n = values[index].count
            for e in stride(from: 0, to: n, by: Swift.max(1, n / 8)).prefix(8) {
                let original = values[index][e]
                var sides: [Double] = []
                for sign: Float in [1, -1] {
                    values[index][e] = original + sign * eps
                    sides.append(try call(student, try zip(values, learnables).map { try Tensor($0, shape: $1.shape) }).loss)
                }
                values[index][e] = original
                let numeric = (sides[0] - sides[1]) / Double(2 * eps)
                let error = Swift.abs(numeric - Double(analytic[index][e])) / (1e-3 + Swift.abs(numeric))
                guard error <= 2e-2 else {
                    throw PluginError("the gradient of learnable '\(learnable.name)' at \(e) is \(analytic[index][e]); central finite differences (eps \(eps)) give \(String(format: "%.6g", numeric)) (relative error \(String(format: "%.3g", error)), tolerance 0.02)")
                }
                worst = Swift.max(worst, error)
                probed += 1
            }
        }
        return "; learnables: worst relative error \(String(format: "%.2e", worst)) over \(probed) elements"
    }
}
