import CLathePlugin
import LatheTensor

/// A call's pointer arguments as `PluginMethod.invoke` passes them: the fixed arguments, then
/// the learnables' inputs and outputs (all guarded by `CallGuard`), and the learnables' view
/// arrays for `lathe_call`. The pointer arrays are kept in raw memory that the call reads
/// directly: no array is copied or retained per call.
final class CallArguments {
    /// Arguments after `lathe_call*` in the entry's calling convention.
    let fixedCount: Int
    /// Every guarded argument: the fixed ones first.
    let guarded: [CallArgument]
    /// The pointers passed for the guarded arguments, in order (stable: a private copy
    /// replaces a view's data, not the view).
    let pointers: UnsafeMutableBufferPointer<UnsafeMutableRawPointer?>
    /// `lathe_call.learnables` (nil when there are none).
    let learnableInputs: UnsafeMutablePointer<UnsafePointer<DLTensor>?>?
    /// `lathe_call.learnable_outputs` (nil when there are none).
    let learnableOutputs: UnsafeMutablePointer<UnsafeMutablePointer<DLTensor>?>?
    /// The float32 outputs and their element counts (fixed by the views' shapes), and the scalar
    /// outputs: what `CallGuard` fills and checks on every call, read without touching `guarded`.
    let outputs: UnsafeMutableBufferPointer<(view: UnsafeMutablePointer<DLTensor>, count: Int)>
    let scalars: UnsafeMutableBufferPointer<UnsafeMutablePointer<Double>>
    /// Whether any input is present (a call with none has nothing to verify).
    let hasInputs: Bool

    /// [1.2] `lathe_call.input_abs_max`, `input_mean_square`, `input_gram`, [1.3] `input_abs_mean`
    /// (nil when absent) and `calibration_rows`.
    let statistics: [UnsafePointer<DLTensor>?]
    let calibrationRows: Int64

    /// `statistics` are the calibration-statistics inputs in header order (abs-max, mean square,
    /// Gram, abs-mean), guarded like the fixed inputs and passed in `lathe_call`.
    init(_ fixed: [CallArgument], learnables: [CallArgument] = [], learnableOutputs: [CallArgument] = [],
         statistics: [CallArgument] = [], calibrationRows: Int = 0) throws {
        fixedCount = fixed.count
        guarded = learnables.isEmpty && learnableOutputs.isEmpty && statistics.isEmpty
            ? fixed : fixed + learnables + learnableOutputs + statistics
        self.statistics = statistics.map { $0.pointer.map { UnsafePointer($0.assumingMemoryBound(to: DLTensor.self)) } }
        self.calibrationRows = statistics.contains { $0.pointer != nil } ? Int64(calibrationRows) : 0
        var outputs: [(view: UnsafeMutablePointer<DLTensor>, count: Int)] = []
        var scalars: [UnsafeMutablePointer<Double>] = []
        var hasInputs = false
        for argument in guarded {
            switch argument {
            case .input(_, let view): hasInputs = hasInputs || view != nil
            case .output(_, let view): outputs.append((view, try CallGuard.extent(view).count))
            case .scalar(_, let value): scalars.append(value)
            }
        }
        self.hasInputs = hasInputs
        self.outputs = .allocate(capacity: outputs.count)
        _ = self.outputs.initialize(from: outputs)
        self.scalars = .allocate(capacity: scalars.count)
        _ = self.scalars.initialize(from: scalars)
        pointers = .allocate(capacity: Swift.max(guarded.count, 1))
        for (index, argument) in guarded.enumerated() { pointers[index] = argument.pointer }
        learnableInputs = Self.copy(learnables.map { $0.pointer.map { UnsafePointer($0.assumingMemoryBound(to: DLTensor.self)) } })
        self.learnableOutputs = Self.copy(learnableOutputs.map { $0.pointer?.assumingMemoryBound(to: DLTensor.self) })
    }

    private static func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let block = UnsafeMutablePointer<T>.allocate(capacity: values.count)
        block.initialize(from: values, count: values.count)
        return block
    }

    deinit {
        outputs.deallocate()
        scalars.deallocate()
        pointers.deallocate()
        learnableInputs?.deallocate()
        learnableOutputs?.deallocate()
    }
}

/// [1.1] A quantizer call (forward or backward) prepared for one input shape: its views, its
/// guarded argument list and its call state, made once and reused while the shape stays. QAT
/// calls a layer's quantizer on a tensor of the same shape every step, and making these per
/// call costs more than the call. A call binds its tensors' storage to the views
/// (`TensorViews.bind`) and unbinds them when it returns.
///
/// Threading: used by one call at a time (a `MethodInstance` serializes its calls).
final class CallFrame {
    let entry: MethodEntry
    /// The input's shape.
    let shape: [Int]
    /// The learnables' shapes.
    let learnableShapes: [[Int]]
    let views: TensorViews
    let arguments: CallArguments
    let state: CallState

    init(entry: MethodEntry, shape: [Int], learnableShapes: [[Int]], views: TensorViews, arguments: CallArguments, state: CallState) {
        self.entry = entry
        self.shape = shape
        self.learnableShapes = learnableShapes
        self.views = views
        self.arguments = arguments
        self.state = state
    }
}

/// The quantizer frames of one method instance (or of one plain call) and the instance's
/// persistent state buffer (`host->state`), which every frame's call state shares.
final class CallFrames {
    let buffer: StateBuffer
    private var frames: [CallFrame] = []

    init(buffer: StateBuffer = StateBuffer()) { self.buffer = buffer }

    /// The frame for `entry` with these shapes: the one made last time if they match, else a
    /// new one from `make` (which replaces it).
    func frame(_ entry: MethodEntry, shape: [Int], learnableShapes: [[Int]], make: () throws -> CallFrame) rethrows -> CallFrame {
        if let index = frames.firstIndex(where: { $0.entry == entry }) {
            let frame = frames[index]
            if frame.shape == shape, frame.learnableShapes == learnableShapes { return frame }
            frames[index] = try make()
            return frames[index]
        }
        frames.append(try make())
        return frames[frames.count - 1]
    }
}
