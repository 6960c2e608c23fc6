import Dispatch
import Foundation
import LatheTensor
import Synchronization

/// The outcome of one conformance check.
public struct CheckResult: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case begin, pass, fail, skip }
    /// `plugin/method` or the plugin name for plugin-level checks.
    public var subject: String
    /// The check's name, e.g. `idempotence`.
    public var check: String
    public var status: Status
    /// What was measured or what went wrong.
    public var detail: String

    public init(subject: String, check: String, status: Status, detail: String = "") {
        self.subject = subject
        self.check = check
        self.status = status
        self.detail = detail
    }
}

/// The conformance checks `lathe plugins check` runs on each method, in a child process.
///
/// Inputs are seeded, so a report is reproducible. Every check states what it found; a method
/// that crashes, aborts or hangs during a check is reported by the parent, which saw the
/// `begin` record of the check it was in.
public struct ConformanceChecker {
    public let method: PluginMethod
    /// Receives each record as it happens (the worker writes them to stdout unbuffered).
    public var emit: (CheckResult) -> Void

    public init(method: PluginMethod, emit: @escaping (CheckResult) -> Void) {
        self.method = method
        self.emit = emit
    }

    private var subject: String { method.qualifiedID }

    /// Runs every applicable check; returns whether all passed.
    @discardableResult
    public func run() -> Bool {
        var ok = true
        func step(_ name: String, when applies: Bool = true, why: String = "", _ body: () throws -> String) {
            guard applies else {
                emit(CheckResult(subject: subject, check: name, status: .skip, detail: why))
                return
            }
            emit(CheckResult(subject: subject, check: name, status: .begin))
            do {
                emit(CheckResult(subject: subject, check: name, status: .pass, detail: try body()))
            } catch {
                ok = false
                emit(CheckResult(subject: subject, check: name, status: .fail, detail: String(describing: error)))
            }
        }
        let d = method.descriptor
        step("call with defaults") { try describe(run(method.bind(), seed: 1)) }
        step("hyperparameter range", when: !d.params.isEmpty, why: "no hyperparameters") { try hyperparameterRange() }
        step("determinism", when: d.flags.contains(.deterministic), why: "not declared deterministic") {
            let a = try run(method.bind(), seed: 2), b = try run(method.bind(), seed: 2)
            guard a.values == b.values, a.scalar == b.scalar else {
                throw PluginError("two calls on the same inputs gave different outputs (max difference \(maxDifference(a.values, b.values)))")
            }
            return "two calls, identical outputs (\(a.values.count) values)"
        }
        switch d.kind {
        case .quantizer:
            step("idempotence") { try idempotence() }
            step("levels") { try levels() }
        case .criterion:
            break
        case .loss:
            step("gradient vs finite differences") { try gradientCheck() }
        }
        step("thread safety", when: d.flags.contains(.threadSafe), why: "not declared thread-safe") { try threadSafety() }
        return ok
    }

    // MARK: Inputs and one call

    /// One call's outputs as plain numbers.
    struct Outcome {
        var values: [Float]
        var scalar: Double = 0
        var qparams: QuantParams?
    }

    /// Standard inputs for each kind, from `seed`.
    func inputs(seed: UInt64) throws -> [Tensor] {
        let g = try RandomGenerator(seed: seed)
        switch method.descriptor.kind {
        case .quantizer:
            // A conv-like weight: 8 output channels with different ranges.
            let w = try Tensor.randn([8, 4, 3, 3], generator: g)
            let ranges = try Tensor((0..<8).map { Float(0.25 + 0.25 * Double($0)) }, shape: [8, 1, 1, 1])
            return [try w * ranges]
        case .criterion:
            let w = try Tensor.randn([8, 4, 3, 3], generator: g)
            let grad = try Tensor.randn([8, 4, 3, 3], generator: g) * 0.1
            let aux = try Tensor.uniform([8], low: 0.1, high: 2, generator: g)
            return [w, grad, aux]
        case .loss:
            let batch = 6
            let (studentShape, teacherShape): ([Int], [Int])
            switch method.descriptor.lossCategory {
            case .feature: (studentShape, teacherShape) = ([batch, 4, 3, 3], [batch, 4, 3, 3])
            case .relation: (studentShape, teacherShape) = ([batch, 12], [batch, 20])
            default: (studentShape, teacherShape) = ([batch, 10], [batch, 10])
            }
            let s = try Tensor.randn(studentShape, generator: g)
            let t = try Tensor.randn(teacherShape, generator: g) * 2
            let labels = try Tensor((0..<batch).map { Int64(($0 * 7 + Int(seed)) % 10) }, shape: [batch])
            return [s, t, labels]
        }
    }

    func run(_ params: BoundParams, seed: UInt64) throws -> Outcome {
        try call(params, try inputs(seed: seed))
    }

    func call(_ params: BoundParams, _ x: [Tensor]) throws -> Outcome {
        try Self.call(method, params, x)
    }

    static func call(_ method: PluginMethod, _ params: BoundParams, _ x: [Tensor]) throws -> Outcome {
        switch method.descriptor.kind {
        case .quantizer:
            let (out, q) = try method.quantize(x[0], params: params)
            return Outcome(values: try out.scalars(as: Float.self), qparams: q)
        case .criterion:
            let scores = try method.score(weight: x[0], gradient: x[1], aux: x[2], params: params)
            return Outcome(values: try scores.scalars(as: Float.self))
        case .loss:
            let (loss, grad) = try method.loss(student: x[0], teacher: x[1], labels: x[2], params: params)
            return Outcome(values: try grad.scalars(as: Float.self), scalar: loss)
        }
    }

    private func describe(_ o: Outcome) -> String {
        switch method.descriptor.kind {
        case .quantizer:
            let q = o.qparams.map { "\($0.scheme.rawValue), \($0.bits) bits, axis \($0.axis), \($0.scales.count) scale(s)" } ?? ""
            return "finite output of the input's shape; qparams: \(q)"
        case .criterion:
            return "\(o.values.count) finite scores (\(method.descriptor.granularity.rawValue))"
        case .loss:
            return "loss \(String(format: "%.6g", o.scalar)), finite gradient of the student's shape"
        }
    }

    // MARK: Checks

    private func hyperparameterRange() throws -> String {
        var calls = 0
        for spec in method.descriptor.params {
            var values: [HyperValue] = []
            switch spec.type {
            case .i32, .i64: values = [.int(Int64(spec.minValue)), .int(Int64(spec.maxValue))]
            case .f32, .f64: values = [.double(spec.minValue), .double(spec.maxValue)]
            case .bool: values = [.bool(false), .bool(true)]
            case .enum: values = spec.choices.map(HyperValue.choice)
            }
            for value in values {
                do {
                    _ = try run(method.bind([spec.name: value]), seed: 3)
                    calls += 1
                } catch {
                    throw PluginError("with \(spec.name) = \(value) (declared valid): \(error)")
                }
            }
        }
        return "\(calls) calls at each parameter's bounds and choices succeeded"
    }

    private func idempotence() throws -> String {
        let params = try method.bind()
        let x = try inputs(seed: 4)[0]
        let (q1, _) = try method.quantize(x, params: params)
        let (q2, _) = try method.quantize(q1, params: params)
        let a = try q1.scalars(as: Float.self), b = try q2.scalars(as: Float.self)
        let scale = a.reduce(Float(0)) { Swift.max($0, Swift.abs($1)) }
        let diff = maxDifference(a, b)
        guard diff <= 1e-5 * Double(Swift.max(scale, 1e-12)) else {
            throw PluginError("q(q(x)) differs from q(x) by up to \(diff) (max |q(x)| = \(scale))")
        }
        return "max |q(q(x)) - q(x)| = \(diff)"
    }

    private func levels() throws -> String {
        let params = try method.bind()
        let x = try inputs(seed: 5)[0]
        let (out, q) = try method.quantize(x, params: params)
        let values = try out.scalars(as: Float.self)
        let channels = q.axis == 0 ? x.shape[0] : 1
        let per = values.count / channels
        var most = 0
        for c in 0..<channels {
            most = Swift.max(most, Set(values[(c * per)..<((c + 1) * per)]).count)
        }
        let allowed = 1 << q.bits
        guard most <= allowed else {
            throw PluginError("\(most) distinct values in one \(channels > 1 ? "channel" : "tensor"), more than 2^\(q.bits) = \(allowed) for the reported \(q.bits) bits")
        }
        return "at most \(most) distinct values per \(channels > 1 ? "channel" : "tensor") (2^\(q.bits) = \(allowed) allowed)"
    }

    private func gradientCheck() throws -> String {
        let params = try method.bind()
        let x = try inputs(seed: 6)
        let (_, grad) = try method.loss(student: x[0], teacher: x[1], labels: x[2], params: params)
        let analytic = try grad.scalars(as: Float.self)
        var student = try x[0].scalars(as: Float.self)
        let shape = x[0].shape
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        let eps: Float = 1e-2
        var worst = 0.0
        let probes = Swift.min(24, student.count)
        for _ in 0..<probes {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let i = Int((rng >> 33) % UInt64(student.count))
            let original = student[i]
            student[i] = original + eps
            let plus = try method.loss(student: Tensor(student, shape: shape), teacher: x[1], labels: x[2], params: params).loss
            student[i] = original - eps
            let minus = try method.loss(student: Tensor(student, shape: shape), teacher: x[1], labels: x[2], params: params).loss
            student[i] = original
            let numeric = (plus - minus) / Double(2 * eps)
            let error = Swift.abs(numeric - Double(analytic[i])) / (1e-3 + Swift.abs(numeric))
            worst = Swift.max(worst, error)
        }
        guard worst <= 2e-2 else {
            throw PluginError("gradient differs from central finite differences (eps \(eps)): worst relative error \(String(format: "%.3g", worst)) over \(probes) coordinates (tolerance 0.02)")
        }
        return "worst relative error \(String(format: "%.2e", worst)) over \(probes) coordinates (eps \(eps), tolerance 0.02)"
    }

    private func threadSafety() throws -> String {
        let params = try method.bind()
        let seeds: [UInt64] = [11, 12]
        let inputsBySeed = try seeds.map { try inputs(seed: $0) }
        let references = try inputsBySeed.map { try call(params, $0) }
        let rounds = 25
        let failures = Mutex<[String]>([])
        // Tensors are only read here (each thread its own inputs); libtorch allows that.
        let shared = UncheckedBox((inputsBySeed, references.map { ($0.values, $0.scalar) }))
        let method = self.method
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let (inputs, expected) = shared.value
            for round in 0..<rounds {
                do {
                    let got = try Self.call(method, params, inputs[worker])
                    if got.values != expected[worker].0 || got.scalar != expected[worker].1 {
                        failures.withLock { $0.append("thread \(worker), call \(round): output differs from the single-threaded result") }
                        return
                    }
                } catch {
                    failures.withLock { $0.append("thread \(worker), call \(round): \(error)") }
                    return
                }
            }
        }
        let found = failures.withLock { $0 }
        guard found.isEmpty else {
            throw PluginError("declared thread-safe, but concurrent calls disagree: \(found.joined(separator: "; "))")
        }
        return "2 threads x \(rounds) concurrent calls matched the single-threaded results"
    }
}


/// Largest absolute elementwise difference (infinity if the counts differ).
func maxDifference(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) { worst = Swift.max(worst, Double(Swift.abs(x - y))) }
    return worst
}

/// Hands values that are safe to share by construction (documented at the use) across threads.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
