import CLathePlugin
import LatheTensor
import Synchronization

/// One method of a loaded plugin, callable with tensors and checked hyperparameters.
///
/// The libffi call interfaces are prepared once, when the library loads. Every call checks the
/// bound hyperparameters' count and C types against the declaration, the tensors' dtypes and
/// shapes against the kind's calling convention, and the plugin's outputs (status, reported
/// error, every element written, finite values, quantization parameters, inputs unchanged)
/// before anything is returned. Every call carries a `CallContext`.
/// Methods that do not declare `thread-safe` are serialized. A method with learnables is called
/// through a `MethodInstance`, which owns them.
public final class PluginMethod: @unchecked Sendable {
    /// The plugin's name (the method's namespace).
    public let plugin: String
    /// What the method declared.
    public let descriptor: MethodDescriptor
    /// `plugin/method`.
    public let qualifiedID: String

    private let forward: FFIEntry
    private let initializer: FFIEntry?
    private let backwardEntry: FFIEntry?
    private let serial = Mutex<Void>(())
    // Names of the call's parts in error messages, made once (a call formats none unless it fails).
    private let labels: [String]
    private let learnableInputRoles: [String]
    private let learnableOutputRoles: [String: [String]]
    // Read on every call, so kept out of `descriptor` (whose arrays a read may retain).
    private let isThreadSafe: Bool
    private let learnableCount: UInt32

    init(plugin: String, descriptor: MethodDescriptor, entries: MethodEntries) throws {
        self.plugin = plugin
        self.descriptor = descriptor
        let owner = "\(plugin)/\(descriptor.id)"
        qualifiedID = owner
        isThreadSafe = descriptor.flags.contains(.threadSafe)
        learnableCount = UInt32(descriptor.learnables.count)
        labels = [MethodEntry.forward, .initLearnables, .backward].map { $0.label(owner) }
        learnableInputRoles = descriptor.learnables.map { "learnable '\($0.name)'" }
        learnableOutputRoles = Dictionary(uniqueKeysWithValues: ["gradient", "initial value"].map { kind in
            (kind, descriptor.learnables.map { "\(kind) for learnable '\($0.name)'" })
        })
        func entry(_ function: lathe_function?, _ kind: MethodEntry) throws -> FFIEntry? {
            try function.map { try FFIEntry(function: $0, pointers: kind.pointerArguments(descriptor.kind), params: descriptor.params, owner: owner) }
        }
        forward = try FFIEntry(function: entries.function, pointers: MethodEntry.forward.pointerArguments(descriptor.kind),
                               params: descriptor.params, owner: owner)
        initializer = try entry(entries.initLearnables, .initLearnables)
        backwardEntry = try entry(entries.backward, .backward)
    }

    /// Checks `values` against the declaration and fills defaults.
    public func bind(_ values: [String: HyperValue] = [:]) throws -> BoundParams {
        try descriptor.bind(values, plugin: plugin)
    }

    // MARK: Raw call

    /// Calls `entry` with `arguments` as its fixed arguments, then `params`, under the host's
    /// guarantees (`CallGuard`: canary-filled outputs, inputs passed as copies and verified
    /// unchanged), and turns every fault into an error: a failed status, a refused value, a
    /// refused state request, a written input, an unwritten or non-finite output. `learnables`
    /// (read-only inputs) and `learnableOutputs` (initial values or gradients to write) are passed
    /// in `lathe_call`, guarded like the fixed arguments. `state` collects what the plugin
    /// reported. `state.verifyInputs` false passes the inputs in place (`InputVerification`).
    /// Every typed call goes through here.
    func invoke(_ arguments: [CallArgument], entry: MethodEntry = .forward, params: BoundParams, state: CallState,
                context: CallContext, learnables: [CallArgument] = [], learnableOutputs: [CallArgument] = [],
                statistics: [CallArgument] = [], calibrationRows: Int = 0) throws {
        try checkParams(params)
        try perform(try CallArguments(arguments, learnables: learnables, learnableOutputs: learnableOutputs,
                                      statistics: statistics, calibrationRows: calibrationRows),
                    entry: entry, params: params, state: state, context: context)
    }

    /// Checks the bound hyperparameters' count and C types against the declaration.
    func checkParams(_ params: BoundParams) throws {
        guard params.arguments.count == descriptor.params.count else {
            throw PluginError("\(qualifiedID): \(params.arguments.count) hyperparameter values for \(descriptor.params.count) declared")
        }
        for (argument, spec) in zip(params.arguments, descriptor.params) where !Self.matches(argument, spec.type) {
            throw PluginError("\(qualifiedID): parameter '\(spec.name)' is declared \(spec.type.rawValue); got \(argument)")
        }
    }

    /// `invoke` with its arguments prepared and `params` already checked (a `CallFrame`'s).
    func perform(_ arguments: CallArguments, entry: MethodEntry, params: BoundParams, state: CallState, context: CallContext) throws {
        let function: FFIEntry
        let label: String
        switch entry {
        case .forward: (function, label) = (forward, labels[0])
        case .initLearnables:
            guard let initializer else { throw PluginError("\(qualifiedID) has no init_learnables") }
            (function, label) = (initializer, labels[1])
        case .backward:
            guard let backwardEntry else { throw PluginError("\(qualifiedID) has no backward") }
            (function, label) = (backwardEntry, labels[2])
        }
        guard arguments.fixedCount == function.leading - 1 else {
            throw PluginError("\(label): internal error: \(arguments.fixedCount) fixed arguments for a \(descriptor.kind.rawValue)")
        }
        var call = lathe_call()
        call.head = lathe_head(abi_major: UInt16(ABI.major), abi_minor: UInt16(ABI.minor),
                               size: UInt32(MemoryLayout<lathe_call>.size))
        call.host = HostTable.shared
        call.host_private = Unmanaged.passUnretained(state).toOpaque()
        call.learnable_count = learnableCount
        defer { state.releaseScratch() }
        call.learnables = arguments.learnableInputs.map { UnsafePointer($0) }
        call.learnable_outputs = arguments.learnableOutputs.map { UnsafePointer($0) }
        if !arguments.statistics.isEmpty {
            call.input_abs_max = arguments.statistics[0]
            call.input_mean_square = arguments.statistics[1]
            call.input_gram = arguments.statistics[2]
            call.input_abs_mean = arguments.statistics[3]
        }
        call.calibration_rows = arguments.calibrationRows
        let fixedCount = arguments.fixedCount
        let threadSafe = isThreadSafe
        let status = try CallGuard.run(arguments, method: label, verifyInputs: state.verifyInputs) { pointers in
            withExtendedLifetime(state) {
                context.withFields(of: &call) { call in
                    withUnsafeMutablePointer(to: &call) { callPointer in
                        let fixed = UnsafeBufferPointer(rebasing: pointers[0..<fixedCount])
                        if threadSafe { return function.call(callPointer, fixed, params) }
                        return serial.withLock { _ in function.call(callPointer, fixed, params) }
                    }
                }
            }
        }
        try check(status, state, label: label)
        try CallGuard.verifyOutputs(arguments, method: label)
    }

    private static func matches(_ argument: CArgument, _ type: ParamType) -> Bool {
        switch (argument, type) {
        case (.i32, .i32), (.i32, .enum), (.i64, .i64), (.f32, .f32), (.f64, .f64), (.bool, .bool): return true
        default: return false
        }
    }

    /// Turns a finished call into an error if it failed. A refusal of reported quantization
    /// parameters names the host's reason, whatever status the method returned after it.
    private func check(_ status: Int32, _ state: CallState, label: String) throws {
        if let refusal = state.stateError {
            var text = "\(label): the host refused its state request: \(refusal)"
            if status != Int32(LATHE_OK.rawValue), let said = state.error { text += " (the method then failed with status \(status): \(said))" }
            throw PluginError(text)
        }
        if let refusal = state.qparamsError {
            var text = "\(label): the host refused the quantization parameters it reported: \(refusal)"
            if status != Int32(LATHE_OK.rawValue), let said = state.error { text += " (the method then failed with status \(status): \(said))" }
            throw PluginError(text)
        }
        if status != Int32(LATHE_OK.rawValue) {
            let reason = state.error ?? "no message reported"
            throw PluginError("\(label) failed (status \(status)): \(reason)", declinedStatus: status)
        }
        if let error = state.error {
            throw PluginError("\(label) returned OK but reported an error: \(error)")
        }
    }

    // MARK: Typed calls

    /// Fake-quantizes `input` (any float tensor; converted to contiguous float32) and returns the
    /// output (same shape) with the quantization parameters the plugin reported.
    public func quantize(_ input: Tensor, params: BoundParams, context: CallContext = CallContext()) throws
        -> (output: Tensor, qparams: QuantParams)
    {
        let x = try Self.float32(input, role: "input")
        let output = try Tensor.empty(x.shape)
        return (output, try quantize(x, into: output, params: params, context: context))
    }

    /// Fake-quantizes contiguous float32 `input` into a preallocated `output` of the same shape
    /// (the allocation-free path for repeated calls, e.g. in QAT). Returns the reported parameters.
    public func quantize(_ input: Tensor, into output: Tensor, params: BoundParams,
                         context: CallContext = CallContext()) throws -> QuantParams {
        try requireNoLearnables()
        try requireKind(.quantizer)
        guard input.dtype == .float32, input.isContiguous, output.dtype == .float32, output.isContiguous else {
            throw PluginError("\(qualifiedID): quantize(into:) takes contiguous float32 tensors")
        }
        let shape = input.shape
        guard output.shape == shape else {
            throw PluginError("\(qualifiedID): output shape \(output.shape) differs from input shape \(shape)")
        }
        return try quantize(input, into: output, shape: shape, params: params, context: context, learnables: [], learnableShapes: [],
                            frames: CallFrames())
    }

    /// The quantizer call with an instance's learnables and state, through `frames`' forward
    /// frame for `shape` (made with `params` the first time). `input` and `output` are
    /// contiguous float32 of `shape`, the learnables contiguous float32 of `learnableShapes`
    /// in declaration order: the caller guarantees it.
    func quantize(_ input: Tensor, into output: Tensor, shape: [Int], params: BoundParams, context: CallContext,
                  learnables: [Tensor], learnableShapes: [[Int]], frames: CallFrames, verifyInputs: Bool = true) throws -> QuantParams {
        try validate(context, rank: shape.count, batch: nil)
        let frame = try frames.frame(.forward, shape: shape, learnableShapes: learnableShapes) {
            try makeFrame(.forward, shapes: [shape, shape], learnableShapes: learnableShapes, gradients: false, params: params, frames: frames) { views in
                [.input("input", views[0]), .output("output", views[1])]
            }
        }
        let state = bind(frame, input, output, learnables: learnables, verifyInputs: verifyInputs)
        defer { frame.views.unbind() }
        guard frame.views.data(0) == nil || frame.views.data(0) != frame.views.data(1) else {
            throw PluginError("\(qualifiedID): the output must not share the input's storage")
        }
        try withExtendedLifetime((input, output, learnables)) {
            try perform(frame.arguments, entry: .forward, params: params, state: state, context: context)
        }
        guard let qparams = state.qparams else {
            throw PluginError("\(qualifiedID) did not report its quantization parameters (host->report_qparams)")
        }
        return qparams
    }

    /// A quantizer frame for `entry`: views of tensors of `shapes` (the fixed arguments), then of
    /// the learnables (and, with `gradients`, of their gradients); `fixed` names the fixed arguments.
    private func makeFrame(_ entry: MethodEntry, shapes: [[Int]], learnableShapes: [[Int]], gradients: Bool, params: BoundParams,
                           frames: CallFrames, fixed: (TensorViews) -> [CallArgument]) throws -> CallFrame {
        try requireKind(.quantizer)
        guard descriptor.flags.isDisjoint(with: .inputStatistics) else {
            throw PluginError("\(qualifiedID) needs the input statistics of a weight's layer (\(descriptor.flags.intersection(.inputStatistics).names.joined(separator: ", "))): it quantizes weights post-training, not activations or in QAT")
        }
        try checkParams(params)
        let all = shapes + learnableShapes + (gradients ? learnableShapes : [])
        guard let float32 = DType.float32.dlDataType else { throw PluginError("internal error: float32 has no DLPack type") }
        let views = TensorViews(shapes: all, types: Array(repeating: float32, count: all.count))
        let count = learnableShapes.count
        let arguments = try CallArguments(
            fixed(views), learnables: try learnableArguments(views, from: shapes.count, count: count, output: nil),
            learnableOutputs: gradients ? try learnableArguments(views, from: shapes.count + count, count: count, output: "gradient") : [])
        let state = CallState(stateBuffer: frames.buffer)
        state.inputShape = shapes[0]
        return CallFrame(entry: entry, shape: shapes[0], learnableShapes: learnableShapes, views: views, arguments: arguments, state: state)
    }

    /// Binds `fixed`, then `learnables`, then `gradients` to `frame`'s views in order and readies
    /// its call state for a new call.
    private func bind(_ frame: CallFrame, _ fixed: Tensor..., learnables: [Tensor], gradients: [Tensor] = [], verifyInputs: Bool) -> CallState {
        for (index, tensor) in fixed.enumerated() { frame.views.bind(index, tensor) }
        for (index, tensor) in learnables.enumerated() { frame.views.bind(fixed.count + index, tensor) }
        for (index, tensor) in gradients.enumerated() { frame.views.bind(fixed.count + learnables.count + index, tensor) }
        frame.state.reset()
        frame.state.verifyInputs = verifyInputs
        return frame.state
    }

    /// Importance scores of `weight`: its shape (element granularity) or `[shape[0]]` (output channel).
    public func score(weight: Tensor, gradient: Tensor? = nil, aux: Tensor? = nil, statistics: InputStatistics? = nil,
                      params: BoundParams, context: CallContext = CallContext()) throws -> Tensor {
        try requireKind(.criterion)
        let w = try Self.float32(weight, role: "weight")
        guard w.rank >= 1 else { throw PluginError("\(qualifiedID): the weight must have at least one dimension") }
        try validate(context, rank: w.rank, batch: nil)
        let flags = descriptor.flags
        let g: Tensor? = try flags.contains(.needsGradient) ? Self.float32(try required(gradient, "gradient"), role: "gradient") : nil
        if let g, g.shape != w.shape {
            throw PluginError("\(qualifiedID): gradient shape \(g.shape) differs from weight shape \(w.shape)")
        }
        let a: Tensor? = try flags.contains(.needsAux) ? Self.float32(try required(aux, "aux"), role: "aux") : nil
        if let a, a.count != w.shape[0] {
            throw PluginError("\(qualifiedID): aux has \(a.count) values; expected one per output channel (\(w.shape[0]))")
        }
        let stats = try InputStatistics.operands(statistics, for: w.shape, flags: flags, owner: qualifiedID)
        let scores = try Tensor.empty(descriptor.granularity == .outputChannel ? [w.shape[0]] : w.shape)
        // Absent tensors pass NULL.
        let (views, optional) = try TensorViews.with([w, scores], optional: [g, a] + stats, method: qualifiedID)
        try withExtendedLifetime(views) {
            try invoke([.input("weight", views[0]), .input("gradient", optional[0]), .input("aux", optional[1]), .output("scores", views[1])],
                       params: params, state: CallState(), context: context,
                       statistics: InputStatistics.arguments(Array(optional[2...])), calibrationRows: statistics?.rows ?? 0)
        }
        return scores
    }

    /// Loss (mean over the batch) and its gradient with respect to `student`.
    public func loss(student: Tensor, teacher: Tensor, labels: Tensor, params: BoundParams,
                     context: CallContext = CallContext()) throws -> (loss: Double, gradient: Tensor) {
        try requireNoLearnables()
        return try loss(student: student, teacher: teacher, labels: labels, params: params, context: context,
                        learnables: [], learnableGrads: [], learnableShapes: [], state: StateBuffer())
    }

    /// The loss call with an instance's learnables and state; writes the learnables' gradients
    /// into `learnableGrads` (float32, the learnables' shapes).
    func loss(student: Tensor, teacher: Tensor, labels: Tensor, params: BoundParams, context: CallContext,
              learnables: [Tensor], learnableGrads: [Tensor], learnableShapes: [[Int]], state buffer: StateBuffer,
              verifyInputs: Bool = true) throws -> (loss: Double, gradient: Tensor) {
        try requireKind(.loss)
        let (s, t, y) = try lossOperands(student: student, teacher: teacher, labels: labels)
        let shape = s.shape
        try validate(context, rank: shape.count, batch: shape[0])
        let gradient = try Tensor.empty(shape)
        var value = Double.nan
        let state = CallState(stateBuffer: buffer)
        state.verifyInputs = verifyInputs
        let views = try TensorViews([s, t, y, gradient] + learnables + learnableGrads,
                                    known: [shape, nil, nil, shape] + learnableShapes + learnableShapes, method: qualifiedID)
        try withExtendedLifetime(views) {
            try withUnsafeMutablePointer(to: &value) { lv in
                try invoke([.input("student", views[0]), .input("teacher", views[1]), .input("labels", views[2]),
                            .scalar("loss", lv), .output("student gradient", views[3])], params: params, state: state, context: context,
                           learnables: try learnableArguments(views, from: 4, count: learnables.count, output: nil),
                           learnableOutputs: try learnableArguments(views, from: 4 + learnables.count, count: learnableGrads.count, output: "gradient"))
            }
        }
        return (value, gradient)
    }

    /// Student, teacher and labels as the loss convention wants them, with their shapes checked.
    func lossOperands(student: Tensor, teacher: Tensor, labels: Tensor) throws -> (Tensor, Tensor, Tensor) {
        let s = try Self.float32(student, role: "student")
        let t = try Self.float32(teacher, role: "teacher")
        let y = labels.dtype == .int64 && labels.isContiguous ? labels : try labels.converted(to: .int64).contiguous()
        guard s.rank >= 1, t.rank >= 1, s.shape[0] == t.shape[0], y.shape == [s.shape[0]] else {
            throw PluginError("\(qualifiedID): student \(s.shape), teacher \(t.shape) and labels \(y.shape) must share the batch dimension")
        }
        if descriptor.lossCategory != .relation, s.shape != t.shape {
            throw PluginError("\(qualifiedID): a \(descriptor.lossCategory.rawValue) loss needs equal student and teacher shapes; got \(s.shape) and \(t.shape)")
        }
        return (s, t, y)
    }

    /// [1.1] `init_learnables` on `inputs` (the quantizer's input, or the loss's student and
    /// teacher: contiguous float32), writing the initial values into `values`.
    func initializeLearnables(_ inputs: [Tensor], into values: [Tensor], params: BoundParams, context: CallContext,
                              state buffer: StateBuffer) throws {
        try validate(context, rank: inputs.first?.rank ?? 0, batch: descriptor.kind == .loss ? inputs.first?.shape.first : nil)
        let roles = descriptor.kind == .loss ? ["student", "teacher"] : ["input"]
        let state = CallState(stateBuffer: buffer)
        let views = try TensorViews(inputs + values, method: qualifiedID)
        try withExtendedLifetime(views) {
            try invoke(roles.indices.map { CallArgument.input(roles[$0], views[$0]) }, entry: .initLearnables, params: params, state: state,
                       context: context, learnableOutputs: try learnableArguments(views, from: inputs.count, count: values.count, output: "initial value"))
        }
    }

    /// [1.1] The quantizer's `backward`: writes dL/d(input) into `gradInput` and dL/d(learnable)
    /// into `learnableGrads`, given dL/d(output), through `frames`' backward frame. `input`,
    /// `gradInput` and the learnables and their gradients are as `quantize` has them (the caller
    /// guarantees it); `gradOutput` is contiguous float32, and checked to have the input's shape.
    func backward(input: Tensor, gradOutput: Tensor, gradInput: Tensor, shape: [Int], params: BoundParams, context: CallContext,
                  learnables: [Tensor], learnableGrads: [Tensor], learnableShapes: [[Int]], frames: CallFrames,
                  verifyInputs: Bool = true) throws {
        guard gradOutput.hasShape(shape) else {
            throw PluginError("\(qualifiedID) backward: the output gradient has shape \(gradOutput.shape); expected the input's \(shape)")
        }
        try validate(context, rank: shape.count, batch: nil)
        let frame = try frames.frame(.backward, shape: shape, learnableShapes: learnableShapes) {
            try makeFrame(.backward, shapes: [shape, shape, shape], learnableShapes: learnableShapes, gradients: true, params: params, frames: frames) { views in
                [.input("input", views[0]), .input("output gradient", views[1]), .output("input gradient", views[2])]
            }
        }
        let state = bind(frame, input, gradOutput, gradInput, learnables: learnables, gradients: learnableGrads, verifyInputs: verifyInputs)
        defer { frame.views.unbind() }
        try withExtendedLifetime((input, gradOutput, gradInput, learnables, learnableGrads)) {
            try perform(frame.arguments, entry: .backward, params: params, state: state, context: context)
        }
    }

    func validate(_ context: CallContext, rank: Int, batch: Int?) throws {
        try context.validate(owner: qualifiedID, batch: batch)
        guard context.axis < Swift.max(rank, 1) else {
            throw PluginError("\(qualifiedID): call context axis \(context.axis) is not a dimension of the \(rank)-d input")
        }
    }

    private func requireNoLearnables() throws {
        guard descriptor.learnables.isEmpty else {
            throw PluginError("\(qualifiedID) declares learnables (\(descriptor.learnables.map(\.name).joined(separator: ", "))): call it through a MethodInstance, which owns them")
        }
    }

    /// Views `from..<from + count` of `views` (the learnables, in declaration order) as guarded
    /// call arguments: read-only inputs when `output` is nil, else outputs named
    /// "<output> for learnable 'name'".
    private func learnableArguments(_ views: TensorViews, from: Int, count: Int, output: String?) throws -> [CallArgument] {
        guard count > 0 else { return [] }
        let roles = output.flatMap { learnableOutputRoles[$0] } ?? learnableInputRoles
        guard count == roles.count else {
            throw PluginError("\(qualifiedID): internal error: \(count) learnable tensors for \(roles.count) declared")
        }
        return roles.indices.map { i in output == nil ? .input(roles[i], views[from + i]) : .output(roles[i], views[from + i]) }
    }

    func requireKind(_ kind: MethodKind) throws {
        guard descriptor.kind == kind else {
            throw PluginError("\(qualifiedID) is a \(descriptor.kind.rawValue), not a \(kind.rawValue)")
        }
    }

    private func required(_ tensor: Tensor?, _ role: String) throws -> Tensor {
        guard let tensor else {
            throw PluginError("\(qualifiedID) declares needs-\(role == "gradient" ? "gradient" : "aux") but no \(role) tensor was given")
        }
        return tensor
    }

    static func float32(_ tensor: Tensor, role: String) throws -> Tensor {
        if tensor.dtype == .float32, tensor.isContiguous { return tensor }
        guard tensor.dtype.isFloatingPoint else {
            throw PluginError("the \(role) tensor must be floating point; got \(tensor.dtype)")
        }
        return try tensor.converted(to: .float32).contiguous()
    }
}
