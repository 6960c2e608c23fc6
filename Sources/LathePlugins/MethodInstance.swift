import Foundation
import LatheTensor

/// [1.1] One use of a method (a layer's weight quantizer, a layer's activation quantizer, a loss
/// term): owns its learnables (leaf float32 tensors that require gradients, for the model's
/// optimizer) and its persistent state buffer (`host->state`).
///
/// The learnables get their shapes from their rules and their values from the plugin's
/// `init_learnables` on the first tensor(s) the instance sees (`initialize`, or the first call).
/// Learnables are passed like any input, read-only; `verification` says which calls get private
/// copies checked unchanged afterwards. Calls of an instance are serialized (so a plugin needs
/// no lock for its state).
public final class MethodInstance: @unchecked Sendable {
    public let method: PluginMethod
    public let params: BoundParams
    /// Which calls verify that the plugin left its inputs and learnables unchanged.
    public let verification: InputVerification
    /// The learnables' current values in declaration order; empty until initialized.
    public private(set) var learnables: [Tensor] = []

    private let lock = NSLock()
    private let state = StateBuffer()
    /// The quantizer calls prepared for the shapes last seen (sharing `state`).
    private let frames: CallFrames
    private var initialized = false
    /// The input shapes and axis the instance was last prepared for (the learnables' shapes
    /// checked against their rules); a quantizer's next call with the same input shape reuses
    /// the array. Nil until the first call, and after the learnables change.
    private var checked: (shapes: [[Int]], axis: Int)?
    /// The learnables' shapes (asked of the tensors once, not on every call).
    private var shapes: [[Int]] = []
    /// A quantizer's outputs, reused when the caller has dropped the previous call's.
    private var outputSlot = OutputSlot(), gradInputSlot = OutputSlot()
    private var learnableGradSlots: [OutputSlot] = []
    /// What the hot path reads of the descriptor on every call.
    private let kind: MethodKind
    private let hasLearnables: Bool
    /// Forward, backward and loss calls made so far (numbers the calls for `verification`).
    private var calls = 0

    /// Most elements all learnables of one instance may hold together (a guard against a size
    /// hyperparameter or an input that would make them absurdly large).
    public static let maxLearnableElements = 1 << 26

    /// An instance of `method` with `params`; `verification` defaults to QAT's sampled policy.
    public init(method: PluginMethod, params: BoundParams, verification: InputVerification = .standard) {
        self.method = method
        self.params = params
        self.verification = verification
        frames = CallFrames(buffer: state)
        kind = method.descriptor.kind
        hasLearnables = !method.descriptor.learnables.isEmpty
    }

    /// The learnables' names, in declaration order.
    public var learnableNames: [String] { method.descriptor.learnables.map(\.name) }

    /// Whether the learnables have values (from `initialize`, a first call or `setLearnables`).
    /// Always true after the first call of a method without learnables.
    public var isInitialized: Bool {
        lock.lock()
        defer { lock.unlock() }
        return initialized
    }

    private var owner: String { method.qualifiedID }

    // MARK: Initialization

    /// Quantizers: shapes from the rules and `init_learnables` on `input`. Does nothing when the
    /// instance is already initialized or the method has no learnables.
    public func initialize(input: Tensor, context: CallContext) throws {
        try requireKind(.quantizer)
        try serialized { try initializeLocked([try PluginMethod.float32(input, role: "input")], context: context) }
    }

    /// Losses: likewise from the student and teacher.
    public func initialize(student: Tensor, teacher: Tensor, context: CallContext) throws {
        try requireKind(.loss)
        try serialized {
            try initializeLocked([try PluginMethod.float32(student, role: "student"), try PluginMethod.float32(teacher, role: "teacher")],
                                 context: context)
        }
    }

    private func initializeLocked(_ inputs: [Tensor], context: CallContext) throws {
        guard !initialized else { return }
        let declared = method.descriptor.learnables
        guard !declared.isEmpty else {
            initialized = true
            return
        }
        let shapes = try learnableShapes(inputs, context: context)
        let values = try shapes.map { try Tensor.empty($0) }
        try method.initializeLearnables(inputs, into: values, params: params, context: context, state: state)
        for value in values { try value.requiringGrad() }
        learnables = values
        self.shapes = shapes
        checked = nil
        initialized = true
    }

    /// The shape each learnable's rule gives for `inputs` (the quantizer's input, or the loss's
    /// student and teacher); an error names the learnable when a shape cannot be formed.
    func learnableShapes(_ inputs: [Tensor], context: CallContext) throws -> [[Int]] {
        var total = 0
        return try method.descriptor.learnables.map { learnable in
            let label = "\(owner): learnable '\(learnable.name)' (\(learnable.rule.rawValue))"
            let shape = try Self.shape(of: learnable, inputs.map(\.shape), axis: context.axis, size: try sizeValue(learnable, label: label), label: label)
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                count = overflow ? Int.max : product
            }
            let (sum, overflow) = total.addingReportingOverflow(count)
            total = overflow ? Int.max : sum
            guard total <= Self.maxLearnableElements else {
                throw PluginError("\(label): shape \(shape) makes the learnables hold more than \(Self.maxLearnableElements) elements")
            }
            return shape
        }
    }

    private func sizeValue(_ learnable: LearnableDescriptor, label: String) throws -> Int? {
        guard let name = learnable.sizeParam else { return nil }
        guard let value = params.values.first(where: { $0.name == name })?.value, case .int(let v) = value else {
            throw PluginError("\(label): size_param '\(name)' has no integer value")
        }
        guard v > 0, let size = Int(exactly: v), size <= Self.maxLearnableElements else {
            throw PluginError("\(label): size_param '\(name)' = \(v); expected 1...\(Self.maxLearnableElements)")
        }
        return size
    }

    private static func shape(of learnable: LearnableDescriptor, _ shapes: [[Int]], axis: Int, size: Int?, label: String) throws -> [Int] {
        let input = shapes.first ?? []
        func perSample(_ shape: [Int], _ role: String) throws -> Int {
            guard let batch = shape.first, batch > 0 else {
                throw PluginError("\(label): needs \(role) with a non-empty batch dimension; got shape \(shape)")
            }
            return shape.dropFirst().reduce(1, *)
        }
        switch learnable.rule {
        case .scalar:
            return [1]
        case .perChannel:
            guard axis >= 0 else { return [1] }
            guard axis < input.count else {
                throw PluginError("\(label): call context axis \(axis) is not a dimension of the \(input.count)-d input \(input)")
            }
            guard input[axis] > 0 else { throw PluginError("\(label): the input has no channels on axis \(axis) (shape \(input))") }
            return [input[axis]]
        case .perGroup:
            guard let group = size else { throw PluginError("\(label): no group size") }
            let row = try perSample(input, "an input")
            guard row > 0 else { throw PluginError("\(label): the input's rows are empty (shape \(input))") }
            return [input[0], (row + group - 1) / group]
        case .vector:
            guard let extent = size else { throw PluginError("\(label): no size") }
            return [extent]
        case .studentProjection, .teacherProjection:
            guard let extent = size else { throw PluginError("\(label): no size") }
            let which = learnable.rule == .studentProjection ? 0 : 1
            guard shapes.indices.contains(which) else { throw PluginError("\(label): applies to losses only") }
            let features = try perSample(shapes[which], which == 0 ? "a student" : "a teacher")
            guard features > 0 else { throw PluginError("\(label): the \(which == 0 ? "student" : "teacher") has no elements per sample") }
            return [extent, features]
        }
    }

    /// Initializes on `inputs` if needed, then checks that the rules still give the learnables'
    /// shapes (a learnable fixed for one weight cannot serve a tensor of another shape).
    private func prepare(_ inputs: [Tensor], shapes inputShapes: [[Int]], context: CallContext) throws {
        try initializeLocked(inputs, context: context)
        if let checked, checked.axis == context.axis, checked.shapes == inputShapes { return }
        if hasLearnables {
            let expected = try learnableShapes(inputs, context: context)
            for (index, (shape, rule)) in zip(shapes, expected).enumerated() where shape != rule {
                throw PluginError("\(owner): learnable '\(learnableNames[index])' has shape \(shape), but its rule gives \(rule) for inputs \(inputShapes) (one instance serves tensors of one shape)")
            }
        }
        checked = (inputShapes, context.axis)
    }

    /// `prepare` for a quantizer's input, with no work when nothing changed since the last call.
    /// Returns the input's shape: the array of the last call when the shape is the same, so that
    /// a call makes no array and the comparisons downstream (frames) find the same storage.
    private func prepareQuantizer(_ x: Tensor, context: CallContext) throws -> [Int] {
        if let checked, checked.axis == context.axis, let shape = checked.shapes.first, x.hasShape(shape) { return shape }
        let shape = x.shape
        try prepare([x], shapes: [shape], context: context)
        return shape
    }

    // MARK: Calls

    /// Forward with the current learnable values (passed read-only).
    /// Initializes on `input` first if needed.
    public func quantize(_ input: Tensor, context: CallContext) throws -> (output: Tensor, qparams: QuantParams) {
        try requireKind(.quantizer)
        let x = try PluginMethod.float32(input, role: "input")
        return try serialized {
            let shape = try prepareQuantizer(x, context: context)
            let output = try outputSlot.tensor(shape)
            let q = try method.quantize(x, into: output, shape: shape, params: params, context: context, learnables: learnables,
                                        learnableShapes: shapes, frames: frames, verifyInputs: nextCallVerifies())
            return (output, q)
        }
    }

    /// Backward entry: dL/d(input) (the input's shape) and dL/d(learnable_i), given dL/d(output).
    /// Throws if the method has no backward.
    public func backward(input: Tensor, gradOutput: Tensor, context: CallContext) throws -> (gradInput: Tensor, learnableGrads: [Tensor]) {
        try requireKind(.quantizer)
        guard method.descriptor.hasBackward else {
            throw PluginError("\(owner) has no backward (the host uses the straight-through estimator for it)")
        }
        let x = try PluginMethod.float32(input, role: "input")
        let g = try PluginMethod.float32(gradOutput, role: "output gradient")
        return try serialized {
            let shape = try prepareQuantizer(x, context: context)
            let gradInput = try gradInputSlot.tensor(shape)
            if learnableGradSlots.count != shapes.count { learnableGradSlots = Array(repeating: OutputSlot(), count: shapes.count) }
            var grads: [Tensor] = []
            grads.reserveCapacity(shapes.count)
            for index in shapes.indices { grads.append(try learnableGradSlots[index].tensor(shapes[index])) }
            try method.backward(input: x, gradOutput: g, gradInput: gradInput, shape: shape, params: params, context: context,
                                learnables: learnables, learnableGrads: grads, learnableShapes: shapes, frames: frames,
                                verifyInputs: nextCallVerifies())
            return (gradInput, grads)
        }
    }

    /// Loss with learnables and state: the loss, its gradient w.r.t. the student and w.r.t. each
    /// learnable. Initializes on the student and teacher first if needed.
    public func loss(student: Tensor, teacher: Tensor, labels: Tensor, context: CallContext) throws
        -> (loss: Double, studentGrad: Tensor, learnableGrads: [Tensor])
    {
        try requireKind(.loss)
        let (s, t, y) = try method.lossOperands(student: student, teacher: teacher, labels: labels)
        return try serialized {
            try prepare([s, t], shapes: [s.shape, t.shape], context: context)
            let grads = try shapes.map { try Tensor.empty($0) }
            let (value, gradient) = try method.loss(student: s, teacher: t, labels: y, params: params, context: context,
                                                    learnables: learnables, learnableGrads: grads, learnableShapes: shapes, state: state,
                                                    verifyInputs: nextCallVerifies())
            return (value, gradient, grads)
        }
    }

    // MARK: Checkpoints

    /// Replaces the learnables' values (checkpoint restore): one finite float tensor per declared
    /// learnable, in declaration order, of the shapes they have (any shapes before the instance
    /// is initialized: the first call checks them against the rules). Values are copied; once
    /// initialized, the learnable tensors keep their identity (an optimizer holding them sees
    /// the new values).
    public func setLearnables(_ values: [Tensor]) throws {
        let names = learnableNames
        guard values.count == names.count else {
            throw PluginError("\(owner): \(values.count) learnable values for \(names.count) declared (\(names.joined(separator: ", ")))")
        }
        let copies = try zip(names, values).map { name, value in
            let v = try PluginMethod.float32(value, role: "learnable '\(name)'")
            guard try v.scalars(as: Float.self).allSatisfy(\.isFinite) else {
                throw PluginError("\(owner): the value of learnable '\(name)' is not finite")
            }
            return v
        }
        try serialized {
            if initialized, !learnables.isEmpty {
                for (index, (target, source)) in zip(learnables, copies).enumerated() {
                    guard target.shape == source.shape else {
                        throw PluginError("\(owner): learnable '\(names[index])' has shape \(target.shape); the value given has \(source.shape)")
                    }
                }
                for (target, source) in zip(learnables, copies) {
                    try target.withUnsafeMutableRawPointer { to in
                        try source.withUnsafeMutableRawPointer { from in
                            if let to, let from { to.copyMemory(from: from, byteCount: source.byteCount) }
                        }
                    }
                }
            } else {
                learnables = try copies.map { try $0.detached().clone().requiringGrad() }
                shapes = learnables.map(\.shape)
                checked = nil
            }
            initialized = true
        }
    }

    /// The state buffer's bytes (nil when the method never asked for one); restore with `setState`.
    public var stateBytes: [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        return state.bytes
    }

    /// Restores the state buffer's bytes (checkpoint resume): fixes its size if the method did
    /// not ask for a buffer yet, else must match it.
    public func setState(_ bytes: [UInt8]) throws {
        try serialized {
            do {
                try state.restore(bytes)
            } catch let error as PluginError {
                throw PluginError("\(owner): \(error.message)")
            }
        }
    }

    // MARK: Helpers

    /// Whether the call about to be made verifies its inputs; counts it. Called with the lock held.
    private func nextCallVerifies() -> Bool {
        defer { calls = calls == Int.max ? calls : calls + 1 }
        return verification.verifies(call: calls)
    }

    private func serialized<R>(_ body: () throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func requireKind(_ kind: MethodKind) throws {
        guard self.kind == kind else {
            throw PluginError("\(owner) is a \(self.kind.rawValue), not a \(kind.rawValue)")
        }
    }
}
