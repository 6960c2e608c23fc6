import Foundation
import LatheTensor

/// The outcome of one conformance check.
public struct CheckResult: Sendable, Codable, Equatable {
    /// `begin` opens a check (so a crash can be pinned on it); `warn` is a finding that does not
    /// fail the method.
    public enum Status: String, Sendable, Codable { case begin, pass, fail, skip, warn }
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

/// The conformance checks `lathe plugins check` runs on each method, in a child process. The
/// SDK's README (Sources/CLathePlugin/README.md, written out by `lathe plugins sdk`) lists each
/// check, what it calls and what passes; keep the two in step.
///
/// Inputs are seeded, so a report is reproducible. Every check after the first runs at the
/// defaults and at each hyperparameter's minimum, maximum and each choice. Every call goes
/// through the host's guarded call path (canary-filled outputs, inputs verified unchanged).
/// A method that crashes, aborts or hangs during a check is reported by the parent, which saw
/// the `begin` record of the check it was in.
public struct ConformanceChecker {
    public let method: PluginMethod
    /// Receives each record as it happens (the worker writes them to stdout unbuffered).
    public var emit: (CheckResult) -> Void

    /// What a loss is checked on (`LossLayout`): decided once, by a call at the defaults.
    let lossLayout: LossLayout

    public init(method: PluginMethod, emit: @escaping (CheckResult) -> Void) {
        self.method = method
        self.emit = emit
        lossLayout = Self.layout(of: method)
    }

    var subject: String { method.qualifiedID }

    /// One set of hyperparameter values the checks run at.
    struct Setting {
        /// `defaults` or `name = value`.
        var label: String
        var params: BoundParams
        /// The hyperparameter moved off its default and its value; nil for the defaults.
        var parameter: String?
        var value: HyperValue?
    }

    /// The defaults, then each hyperparameter at its minimum and maximum (numbers), false and true
    /// (bools) or each choice (enums) with the others at their defaults, leaving out settings
    /// equal to the defaults.
    func settings() throws -> [Setting] {
        let defaults = try method.bind()
        var settings = [Setting(label: "defaults", params: defaults, parameter: nil)]
        for spec in method.descriptor.params {
            let values: [HyperValue]
            switch spec.type {
            case .i32, .i64: values = [.int(Int64(spec.minValue)), .int(Int64(spec.maxValue))]
            case .f32, .f64: values = [.double(spec.minValue), .double(spec.maxValue)]
            case .bool: values = [.bool(false), .bool(true)]
            case .enum: values = spec.choices.map(HyperValue.choice)
            }
            for value in values {
                let params: BoundParams
                do {
                    params = try method.bind([spec.name: value])
                } catch {
                    throw PluginError("with \(spec.name) = \(value) (declared valid): \(error)")
                }
                if params != defaults, !settings.contains(where: { $0.params == params }) {
                    settings.append(Setting(label: "\(spec.name) = \(value)", params: params, parameter: spec.name, value: value))
                }
            }
        }
        return settings
    }

    /// Runs every applicable check; returns whether all passed (warnings do not fail).
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
        var settings: [Setting] = []
        step("call with defaults") {
            settings = try self.settings()
            return try describe(run(settings[0].params, seed: 1))
        }
        guard !settings.isEmpty else { return false }
        var unchanged: [String] = []
        step("hyperparameter range", when: !d.params.isEmpty, why: "no hyperparameters") {
            let (detail, found) = try hyperparameterRange(settings)
            unchanged = found
            return detail
        }
        for warning in unchanged {
            emit(CheckResult(subject: subject, check: "hyperparameter effect", status: .warn, detail: warning))
        }
        step("determinism", when: d.flags.contains(.deterministic), why: "not declared deterministic") {
            try atEachSetting(settings) { params in
                let a = try run(params, seed: 2), b = try run(params, seed: 2)
                guard a.values == b.values, a.scalar == b.scalar, a.qparams == b.qparams else {
                    throw PluginError("two calls on the same inputs gave different outputs (max difference \(maxDifference(a.values, b.values)))")
                }
                return "two calls, identical outputs (\(a.values.count) values)"
            }
        }
        switch d.kind {
        case .quantizer:
            step("idempotence") { try atEachSetting(settings, idempotence) }
            step("levels") { try atEachSetting(settings, levels) }
        case .criterion, .solver, .scaler, .factorizer:
            break
        case .loss:
            step("gradient vs finite differences") { try atEachSetting(settings, gradientCheck) }
        }
        runLearnableChecks(settings, step: step)
        step("edge cases") { try edgeCaseCheck(settings) }
        step("thread safety", when: d.flags.contains(.threadSafe), why: "not declared thread-safe") { try threadSafety(settings) }
        return ok
    }

    /// Runs `body` at each setting, defaults first; a failure names the setting. Returns the
    /// detail found at the defaults.
    func atEachSetting(_ settings: [Setting], _ body: (BoundParams) throws -> String) throws -> String {
        var detail = ""
        for setting in settings {
            do {
                let found = try body(setting.params)
                if setting.parameter == nil { detail = found }
            } catch {
                throw PluginError(setting.parameter == nil ? "at the defaults: \(error)" : "with \(setting.label): \(error)")
            }
        }
        let others = settings.count - 1
        return others > 0 ? "\(detail) (at the defaults; passed at \(others) other setting\(others == 1 ? "" : "s") too)" : detail
    }

    // MARK: One call

    /// One call's outputs as plain numbers.
    struct Outcome {
        var values: [Float]
        var scalar: Double = 0
        var qparams: QuantParams?

        func same(as other: Outcome) -> Bool {
            values == other.values && scalar == other.scalar && qparams == other.qparams
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
            let (out, q) = try quantizer(method, params)(x[0])
            return Outcome(values: try out.scalars(as: Float.self), qparams: q)
        case .criterion:
            let statistics = x.count >= 7 ? InputStatistics(absMax: x[3], meanSquare: x[4], gram: x[5], absMean: x[6], rows: statisticsRows) : nil
            let scores = try method.score(weight: x[0], gradient: x[1], aux: x[2], statistics: statistics, params: params)
            return Outcome(values: try scores.scalars(as: Float.self))
        case .solver:
            let statistics = InputStatistics(absMax: x[1], meanSquare: x[2], gram: x[3], absMean: x[4], rows: statisticsRows)
            let result = try method.solve(weight: x[0], statistics: statistics, params: params)
            return Outcome(values: try result.weight.scalars(as: Float.self) + (try result.mask?.scalars(as: Float.self) ?? []),
                           qparams: result.qparams)
        case .scaler:
            let statistics = InputStatistics(absMax: x[1], meanSquare: x[2], gram: x[3], absMean: x[4], rows: statisticsRows)
            let result = try method.scales(weight: x[0], statistics: statistics, params: params)
            return Outcome(values: try result.scales.scalars(as: Float.self))
        case .factorizer:
            let statistics = InputStatistics(absMax: x[1], meanSquare: x[2], gram: x[3], absMean: x[4], rows: statisticsRows)
            let result = try method.factorize(weight: x[0], statistics: statistics, params: params)
            return Outcome(values: try result.a.scalars(as: Float.self) + (try result.b.scalars(as: Float.self)), scalar: Double(result.rank))
        case .loss:
            guard !method.descriptor.learnables.isEmpty else {
                let (loss, grad) = try method.loss(student: x[0], teacher: x[1], labels: x[2], params: params)
                return Outcome(values: try grad.scalars(as: Float.self), scalar: loss)
            }
            let instance = MethodInstance(method: method, params: params, verification: .everyCall)
            let (loss, grad, _) = try instance.loss(student: x[0], teacher: x[1], labels: x[2], context: context(method))
            return Outcome(values: try grad.scalars(as: Float.self), scalar: loss)
        }
    }

    /// The quantizer as a function: the plain call, or for a method with learnables one fresh
    /// instance (initialized on the first input it is given) for all calls of the function.
    static func quantizer(_ method: PluginMethod, _ params: BoundParams) -> (Tensor) throws -> (Tensor, QuantParams) {
        if !method.descriptor.flags.isDisjoint(with: .inputStatistics) {
            // [1.3] A weight quantizer that reads its layer's input statistics: those of random rows (a fixed seed) of
            // the weight's width.
            return { x in
                let s = try statistics(features: x.shape.dropFirst().reduce(1, *), generator: RandomGenerator(seed: 99))
                let stats = InputStatistics(absMax: s[0], meanSquare: s[1], gram: s[2], absMean: s[3], rows: statisticsRows)
                return try method.quantize(weight: x, statistics: stats, params: params)
            }
        }
        guard !method.descriptor.learnables.isEmpty else { return { try method.quantize($0, params: params) } }
        let instance = MethodInstance(method: method, params: params, verification: .everyCall)
        return { try instance.quantize($0, context: context(method)) }
    }

    /// The context of the checks' calls through an instance: the standard inputs are a weight
    /// (per-channel learnables on dimension 0) or a loss's [B, ...] tensors (dimension 1).
    static func context(_ method: PluginMethod) -> CallContext {
        switch method.descriptor.kind {
        case .loss: return CallContext(role: method.descriptor.lossCategory == .response ? .logits : .feature, axis: 1)
        default: return CallContext(role: .weight, axis: 0)
        }
    }

    private func describe(_ o: Outcome) -> String {
        switch method.descriptor.kind {
        case .quantizer:
            let q = o.qparams.map { "\($0.scheme.rawValue), \($0.bits) bits, axis \($0.axis), \($0.scales.count) scale(s)" } ?? ""
            return "every output element written and finite; inputs unchanged; qparams: \(q)"
        case .criterion:
            return "\(o.values.count) scores written, all finite (\(method.descriptor.granularity.rawValue)); inputs unchanged"
        case .solver:
            let what = o.qparams.map { "on its reported \($0.scheme.rawValue) \($0.bits)-bit grid" } ?? "zero where its mask is 0"
            return "W′ written, all finite and \(what); inputs unchanged"
        case .scaler:
            return "\(o.values.count) scales written, all finite and positive; inputs unchanged"
        case .factorizer:
            return "rank \(Int(o.scalar)) reported; both factors written and finite; inputs unchanged"
        case .loss:
            let on = lossLayout == .attentionMaps ? " (on attention maps [B, 4, 5, 5]: it refuses flat features)" : ""
            return "loss \(String(format: "%.6g", o.scalar)); every gradient element written and finite; inputs unchanged\(on)"
        }
    }

    // MARK: Checks

    /// Calls at every non-default setting; finds hyperparameters that changed nothing.
    private func hyperparameterRange(_ settings: [Setting]) throws -> (String, [String]) {
        let reference = try run(settings[0].params, seed: 3)
        var same: [String: [String]] = [:], differs: Set<String> = []
        for setting in settings.dropFirst() {
            let outcome: Outcome
            do {
                outcome = try run(setting.params, seed: 3)
            } catch {
                throw PluginError("with \(setting.label) (declared valid): \(error)")
            }
            guard let name = setting.parameter else { continue }
            if outcome.same(as: reference) { same[name, default: []].append(setting.label) } else { differs.insert(name) }
        }
        var unchanged: [String] = []
        for spec in method.descriptor.params {
            guard let labels = same[spec.name], !differs.contains(spec.name), !changesOutputBesideAnother(spec.name, settings) else { continue }
            unchanged.append("'\(spec.name)' changed nothing in the output: identical outputs at the defaults and at \(labels.joined(separator: ", ")), also with any other parameter off its default (is it read?)")
        }
        let calls = settings.count - 1
        return ("\(calls) call\(calls == 1 ? "" : "s") at the parameters' bounds and choices succeeded", unchanged)
    }

    /// Whether moving `name` off its default changes the output while another parameter is off
    /// its default too: a parameter read only under another's value (a percentile read only when
    /// the range estimator is the percentile) has an effect. Combinations the method declines
    /// are passed over.
    private func changesOutputBesideAnother(_ name: String, _ settings: [Setting]) -> Bool {
        let own = settings.filter { $0.parameter == name }
        for other in settings where other.parameter != nil && other.parameter != name {
            guard let base = try? run(other.params, seed: 3) else { continue }
            for mine in own {
                guard let value = mine.value else { continue }
                var values = other.params.dictionary
                values[name] = value
                guard let params = try? method.bind(values), let outcome = try? run(params, seed: 3) else { continue }
                if !outcome.same(as: base) { return true }
            }
        }
        return false
    }

    private func idempotence(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 4)[0]
        let q = Self.quantizer(method, params)
        let (q1, _) = try q(x)
        let (q2, _) = try q(q1)
        let a = try q1.scalars(as: Float.self), b = try q2.scalars(as: Float.self)
        let scale = a.reduce(Float(0)) { Swift.max($0, Swift.abs($1)) }
        let diff = maxDifference(a, b)
        guard diff <= 1e-5 * Double(Swift.max(scale, 1e-12)) else {
            throw PluginError("q(q(x)) differs from q(x) by up to \(diff) (max |q(x)| = \(scale))")
        }
        return "max |q(q(x)) - q(x)| = \(diff)"
    }

    private func levels(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 5)[0]
        let (out, q) = try Self.quantizer(method, params)(x)
        let values = try out.scalars(as: Float.self)
        // One scale per group (rows split into groups of `groupSize`), per channel, or per tensor.
        let channels = q.axis == 0 ? x.shape[0] : 1
        let row = values.count / Swift.max(channels, 1)
        let groupSize = q.groupSize > 0 ? Swift.min(q.groupSize, row) : row
        let unit = q.groupSize > 0 ? "group" : channels > 1 ? "channel" : "tensor"
        var most = 0
        for c in 0..<channels {
            for start in stride(from: c * row, to: (c + 1) * row, by: Swift.max(groupSize, 1)) {
                most = Swift.max(most, Set(values[start..<Swift.min(start + groupSize, (c + 1) * row)]).count)
            }
        }
        let allowed = 1 << q.bits
        guard most <= allowed else {
            throw PluginError("\(most) distinct values in one \(unit), more than 2^\(q.bits) = \(allowed) for the reported \(q.bits) bits")
        }
        return "at most \(most) distinct values per \(unit) (2^\(q.bits) = \(allowed) allowed)"
    }

    private func gradientCheck(_ params: BoundParams) throws -> String {
        let x = try inputs(seed: 6)
        let loss = try LossEvaluator(method: method, params: params, inputs: x)
        let analytic = try loss.gradients(student: x[0])
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
            let plus = try loss.value(student: Tensor(student, shape: shape))
            student[i] = original - eps
            let minus = try loss.value(student: Tensor(student, shape: shape))
            student[i] = original
            let numeric = (plus - minus) / Double(2 * eps)
            let error = Swift.abs(numeric - Double(analytic.student[i])) / (1e-3 + Swift.abs(numeric))
            worst = Swift.max(worst, error)
        }
        guard worst <= 2e-2 else {
            throw PluginError("gradient differs from central finite differences (eps \(eps)): worst relative error \(String(format: "%.3g", worst)) over \(probes) coordinates (tolerance 0.02)")
        }
        let learnables = try loss.learnableCheck(analytic.learnables, student: x[0])
        return "worst relative error \(String(format: "%.2e", worst)) over \(probes) coordinates (eps \(eps), tolerance 0.02)\(learnables)"
    }

    /// Each edge-case input at each setting: computed (every output written and finite, qparams
    /// accepted) or, where allowed, declined by the method with a reason.
    private func edgeCaseCheck(_ settings: [Setting]) throws -> String {
        let cases = try edgeCases()
        var declined: [String: String] = [:]
        _ = try atEachSetting(settings) { params in
            for edge in cases {
                do {
                    _ = try call(params, edge.inputs)
                } catch let error as PluginError where edge.mayDecline && error.declinedStatus != nil {
                    if declined[edge.name] == nil { declined[edge.name] = error.message }
                } catch {
                    throw PluginError("on the \(edge.name) input\(edge.mayDecline ? " (which a method may compute or decline with a reason)" : " (which a method must compute)"): \(error)")
                }
            }
            return ""
        }
        let names = cases.map(\.name).joined(separator: ", ")
        let declines = declined.keys.sorted().map { "\($0) declined: \(declined[$0] ?? "")" }
        return "\(cases.count) inputs (\(names)) at \(settings.count) setting(s): "
            + (declines.isEmpty ? "all computed" : "computed, except \(declines.joined(separator: "; "))")
    }
}

/// Largest absolute elementwise difference (infinity if the counts differ).
func maxDifference(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) { worst = Swift.max(worst, Double(Swift.abs(x - y))) }
    return worst
}
