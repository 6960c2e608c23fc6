import CFFI
import CLathePlugin
import LatheTensor
import Synchronization

/// One method of a loaded plugin, callable with tensors and checked hyperparameters.
///
/// The libffi call interface is prepared once, when the library loads. Every call checks the
/// bound hyperparameters' count and C types against the declaration, the tensors' dtypes and
/// shapes against the kind's calling convention, and the plugin's outputs (status, reported
/// error, every element written, finite values, quantization parameters, inputs unchanged)
/// before anything is returned.
/// Methods that do not declare `thread-safe` are serialized.
public final class PluginMethod: @unchecked Sendable {
    /// The plugin's name (the method's namespace).
    public let plugin: String
    /// What the method declared.
    public let descriptor: MethodDescriptor
    /// `plugin/method`.
    public var qualifiedID: String { "\(plugin)/\(descriptor.id)" }

    private let function: lathe_function
    // Owned for the life of the process, like the library itself.
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    private let argumentCount: Int
    private let leading: Int
    private let serial = Mutex<Void>(())

    init(plugin: String, descriptor: MethodDescriptor, function: lathe_function) throws {
        self.plugin = plugin
        self.descriptor = descriptor
        self.function = function
        leading = 1 + descriptor.kind.fixedPointerArguments
        argumentCount = leading + descriptor.params.count
        argumentTypes = .allocate(capacity: argumentCount)
        for index in 0..<leading { argumentTypes[index] = lathe_ffi_pointer() }
        for (offset, param) in descriptor.params.enumerated() {
            argumentTypes[leading + offset] = Self.ffiType(param.type)
        }
        cif = .allocate(capacity: 1)
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(argumentCount), lathe_ffi_sint32(), argumentTypes)
        guard status == FFI_OK else {
            throw PluginError("\(plugin)/\(descriptor.id): libffi could not prepare the call interface (status \(status.rawValue))")
        }
    }

    private static func ffiType(_ type: ParamType) -> UnsafeMutablePointer<ffi_type> {
        switch type {
        case .i32, .enum: return lathe_ffi_sint32()
        case .i64: return lathe_ffi_sint64()
        case .f32: return lathe_ffi_float()
        case .f64: return lathe_ffi_double()
        case .bool: return lathe_ffi_uint8()
        }
    }

    /// Checks `values` against the declaration and fills defaults.
    public func bind(_ values: [String: HyperValue] = [:]) throws -> BoundParams {
        try descriptor.bind(values, plugin: plugin)
    }

    // MARK: Raw call

    /// Calls the function with `arguments` as the kind's fixed arguments, then `params`, under
    /// the host's guarantees (`CallGuard`: canary-filled outputs, inputs passed as copies and
    /// verified unchanged), and turns every fault into an error: a failed status, a refused
    /// value, a written input, an unwritten or non-finite output. `state` collects what the
    /// plugin reported. Every typed call below goes through here.
    func invoke(_ arguments: [CallArgument], params: BoundParams, state: CallState) throws {
        guard arguments.count == leading - 1 else {
            throw PluginError("\(qualifiedID): internal error: \(arguments.count) fixed arguments for a \(descriptor.kind.rawValue)")
        }
        guard params.arguments.count == descriptor.params.count else {
            throw PluginError("\(qualifiedID): \(params.arguments.count) hyperparameter values for \(descriptor.params.count) declared")
        }
        for (argument, spec) in zip(params.arguments, descriptor.params) where !Self.matches(argument, spec.type) {
            throw PluginError("\(qualifiedID): parameter '\(spec.name)' is declared \(spec.type.rawValue); got \(argument)")
        }
        var call = lathe_call()
        call.head = lathe_head(abi_major: UInt16(ABI.major), abi_minor: UInt16(ABI.minor),
                               size: UInt32(MemoryLayout<lathe_call>.size))
        call.host = HostTable.shared
        call.host_private = Unmanaged.passUnretained(state).toOpaque()
        call.step = -1
        call.epoch = -1
        call.axis = -1
        let status = try CallGuard.run(arguments, method: qualifiedID) { pointers in
            withExtendedLifetime(state) {
                withUnsafeMutablePointer(to: &call) { callPointer in
                    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: argumentCount) { slots in
                        withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: argumentCount) { values in
                            let base = UnsafeMutableRawPointer(slots.baseAddress ?? UnsafeMutablePointer<UInt64>.allocate(capacity: 0))
                            func slot(_ i: Int) -> UnsafeMutableRawPointer { base + i * 8 }
                            slot(0).storeBytes(of: UnsafeMutableRawPointer(callPointer), as: UnsafeMutableRawPointer.self)
                            for (i, pointer) in pointers.enumerated() {
                                slot(1 + i).storeBytes(of: pointer, as: UnsafeMutableRawPointer?.self)
                            }
                            for (i, argument) in params.arguments.enumerated() {
                                let s = slot(leading + i)
                                switch argument {
                                case .i32(let v): s.storeBytes(of: v, as: Int32.self)
                                case .i64(let v): s.storeBytes(of: v, as: Int64.self)
                                case .f32(let v): s.storeBytes(of: v, as: Float.self)
                                case .f64(let v): s.storeBytes(of: v, as: Double.self)
                                case .bool(let v): s.storeBytes(of: v ? 1 : 0, as: UInt8.self)
                                }
                            }
                            for i in 0..<argumentCount { values[i] = slot(i) }
                            var result: UInt64 = 0
                            let run = {
                                ffi_call(self.cif, self.function, &result, values.baseAddress)
                            }
                            if descriptor.flags.contains(.threadSafe) {
                                run()
                            } else {
                                serial.withLock { _ in run() }
                            }
                            return Int32(truncatingIfNeeded: result)
                        }
                    }
                }
            }
        }
        try check(status, state)
        try CallGuard.verifyOutputs(arguments, method: qualifiedID)
    }

    private static func matches(_ argument: CArgument, _ type: ParamType) -> Bool {
        switch (argument, type) {
        case (.i32, .i32), (.i32, .enum), (.i64, .i64), (.f32, .f32), (.f64, .f64), (.bool, .bool): return true
        default: return false
        }
    }

    /// Turns a finished call into an error if it failed. A refusal of reported quantization
    /// parameters names the host's reason, whatever status the method returned after it.
    private func check(_ status: Int32, _ state: CallState) throws {
        if let refusal = state.qparamsError {
            var text = "\(qualifiedID): the host refused the quantization parameters it reported: \(refusal)"
            if status != Int32(LATHE_OK.rawValue), let said = state.error { text += " (the method then failed with status \(status): \(said))" }
            throw PluginError(text)
        }
        if status != Int32(LATHE_OK.rawValue) {
            let reason = state.error ?? "no message reported"
            throw PluginError("\(qualifiedID) failed (status \(status)): \(reason)", declinedStatus: status)
        }
        if let error = state.error {
            throw PluginError("\(qualifiedID) returned OK but reported an error: \(error)")
        }
    }

    // MARK: Typed calls

    /// Fake-quantizes `input` (any float tensor; converted to contiguous float32) and returns the
    /// output (same shape) with the quantization parameters the plugin reported.
    public func quantize(_ input: Tensor, params: BoundParams) throws -> (output: Tensor, qparams: QuantParams) {
        let x = try Self.float32(input, role: "input")
        let output = try Tensor.empty(x.shape)
        return (output, try quantize(x, into: output, params: params))
    }

    /// Fake-quantizes contiguous float32 `input` into a preallocated `output` of the same shape
    /// (the allocation-free path for repeated calls, e.g. in QAT). Returns the reported parameters.
    public func quantize(_ input: Tensor, into output: Tensor, params: BoundParams) throws -> QuantParams {
        try requireKind(.quantizer)
        guard input.dtype == .float32, input.isContiguous, output.dtype == .float32, output.isContiguous else {
            throw PluginError("\(qualifiedID): quantize(into:) takes contiguous float32 tensors")
        }
        let shape = input.shape
        guard output.shape == shape else {
            throw PluginError("\(qualifiedID): output shape \(output.shape) differs from input shape \(shape)")
        }
        let aliased = try input.withUnsafeMutableRawPointer { x in try output.withUnsafeMutableRawPointer { $0 == x && x != nil } }
        guard !aliased else { throw PluginError("\(qualifiedID): the output must not share the input's storage") }
        let state = CallState()
        state.inputShape = shape
        try input.withDLTensor { xin in
            try output.withDLTensor { out in
                try invoke([.input("input", xin), .output("output", out)], params: params, state: state)
            }
        }
        guard let qparams = state.qparams else {
            throw PluginError("\(qualifiedID) did not report its quantization parameters (host->report_qparams)")
        }
        return qparams
    }

    /// Importance scores of `weight`: its shape (element granularity) or `[shape[0]]` (output channel).
    public func score(weight: Tensor, gradient: Tensor? = nil, aux: Tensor? = nil, params: BoundParams) throws -> Tensor {
        try requireKind(.criterion)
        let w = try Self.float32(weight, role: "weight")
        guard w.rank >= 1 else { throw PluginError("\(qualifiedID): the weight must have at least one dimension") }
        let needsGradient = descriptor.flags.contains(.needsGradient)
        let needsAux = descriptor.flags.contains(.needsAux)
        let g: Tensor? = try needsGradient ? Self.float32(try required(gradient, "gradient"), role: "gradient") : nil
        if let g, g.shape != w.shape {
            throw PluginError("\(qualifiedID): gradient shape \(g.shape) differs from weight shape \(w.shape)")
        }
        let a: Tensor? = try needsAux ? Self.float32(try required(aux, "aux"), role: "aux") : nil
        if let a, a.count != w.shape[0] {
            throw PluginError("\(qualifiedID): aux has \(a.count) values; expected one per output channel (\(w.shape[0]))")
        }
        let scores = try Tensor.empty(descriptor.granularity == .outputChannel ? [w.shape[0]] : w.shape)
        let state = CallState()
        try w.withDLTensor { wv in
            try Self.withOptionalView(g) { gv in
                try Self.withOptionalView(a) { av in
                    try scores.withDLTensor { sv in
                        try invoke([.input("weight", wv), .input("gradient", gv), .input("aux", av), .output("scores", sv)],
                                   params: params, state: state)
                    }
                }
            }
        }
        return scores
    }

    /// Loss (mean over the batch) and its gradient with respect to `student`.
    public func loss(student: Tensor, teacher: Tensor, labels: Tensor, params: BoundParams) throws -> (loss: Double, gradient: Tensor) {
        try requireKind(.loss)
        let s = try Self.float32(student, role: "student")
        let t = try Self.float32(teacher, role: "teacher")
        let y = labels.dtype == .int64 && labels.isContiguous ? labels : try labels.converted(to: .int64).contiguous()
        guard s.rank >= 1, t.rank >= 1, s.shape[0] == t.shape[0], y.shape == [s.shape[0]] else {
            throw PluginError("\(qualifiedID): student \(s.shape), teacher \(t.shape) and labels \(y.shape) must share the batch dimension")
        }
        if descriptor.lossCategory != .relation, s.shape != t.shape {
            throw PluginError("\(qualifiedID): a \(descriptor.lossCategory.rawValue) loss needs equal student and teacher shapes; got \(s.shape) and \(t.shape)")
        }
        let gradient = try Tensor.empty(s.shape)
        var value = Double.nan
        let state = CallState()
        try s.withDLTensor { sv in
            try t.withDLTensor { tv in
                try y.withDLTensor { yv in
                    try gradient.withDLTensor { gv in
                        try withUnsafeMutablePointer(to: &value) { lv in
                            try invoke([.input("student", sv), .input("teacher", tv), .input("labels", yv),
                                        .scalar("loss", lv), .output("student gradient", gv)], params: params, state: state)
                        }
                    }
                }
            }
        }
        return (value, gradient)
    }

    private func requireKind(_ kind: MethodKind) throws {
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

    private static func withOptionalView<R>(_ tensor: Tensor?, _ body: (UnsafeMutablePointer<DLTensor>?) throws -> R) throws -> R {
        guard let tensor else { return try body(nil) }
        return try tensor.withDLTensor { try body($0) }
    }
}
