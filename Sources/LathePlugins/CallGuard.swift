import CLathePlugin
import Foundation

/// One argument of a plugin call that points at caller memory, by the role the kind's calling
/// convention gives it (the role names the tensor in error messages).
enum CallArgument {
    /// A read-only tensor, nil when absent.
    case input(String, UnsafeMutablePointer<DLTensor>?)
    /// A float32 tensor the method must write completely.
    case output(String, UnsafeMutablePointer<DLTensor>)
    /// A double the method must write (a loss value).
    case scalar(String, UnsafeMutablePointer<Double>)

    /// The pointer passed to the method.
    var pointer: UnsafeMutableRawPointer? {
        switch self {
        case .input(_, let view): return view.map { UnsafeMutableRawPointer($0) }
        case .output(_, let view): return UnsafeMutableRawPointer(view)
        case .scalar(_, let value): return UnsafeMutableRawPointer(value)
        }
    }
}

/// What the host guarantees around every plugin call, whoever the caller (a check, a sweep, QAT):
///
/// - Outputs are pre-filled with a signalling-NaN canary, so an element the method leaves
///   unwritten is found after the call instead of being read as whatever the memory held.
/// - Inputs are handed over as private copies and compared with the originals after the call,
///   so a method that writes into a const input fails, and the caller's tensor is never touched.
///   A `MethodInstance` may skip this on some calls (`InputVerification`): then the inputs are
///   passed in place; outputs are canary-filled and verified on every call.
enum CallGuard {
    /// A float32 signalling NaN: no arithmetic produces it (arithmetic on NaNs gives quiet NaNs).
    static let canary32: UInt32 = 0x7FA5_A5A5
    /// The float64 counterpart, for scalar outputs.
    static let canary64: UInt64 = 0x7FF4_A5A5_A5A5_A5A5

    /// Elements and bytes of a compact tensor view.
    static func extent(_ view: UnsafeMutablePointer<DLTensor>) throws -> (count: Int, bytes: Int) {
        var count = 1
        for d in 0..<Int(view.pointee.ndim) {
            guard let shape = view.pointee.shape, let extent = Int(exactly: shape[d]), extent >= 0 else {
                throw PluginError("internal error: a tensor view with an invalid shape")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw PluginError("internal error: a tensor view's element count overflows") }
            count = product
        }
        let width = (Int(view.pointee.dtype.bits) * Int(view.pointee.dtype.lanes) + 7) / 8
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow else { throw PluginError("internal error: a tensor view's byte count overflows") }
        return (count, bytes)
    }

    /// Fills the outputs with the canary, hands `body` the call's pointers (`arguments.pointers`)
    /// with every input's data replaced by a private copy, then checks that no copy changed.
    /// Returns what `body` returned. With `verifyInputs` false the inputs are passed in place,
    /// neither copied nor compared.
    static func run(_ arguments: CallArguments, method: @autoclosure () -> String, verifyInputs: Bool = true,
                    _ body: (UnsafeMutableBufferPointer<UnsafeMutableRawPointer?>) -> Int32) throws -> Int32 {
        for output in arguments.outputs where output.count > 0 {
            guard let data = output.view.pointee.data else { continue }
            (data + Int(output.view.pointee.byte_offset)).assumingMemoryBound(to: Float.self)
                .update(repeating: Float(bitPattern: canary32), count: output.count)
        }
        for scalar in arguments.scalars { scalar.pointee = Double(bitPattern: canary64) }
        guard verifyInputs, arguments.hasInputs else { return body(arguments.pointers) }
        var copies: [(role: String, view: UnsafeMutablePointer<DLTensor>, original: UnsafeMutableRawPointer, offset: Int, count: Int, bytes: Int)] = []
        var total = 0
        for argument in arguments.guarded {
            guard case .input(let role, let view?) = argument else { continue }
            let (count, bytes) = try extent(view)
            guard bytes > 0, let data = view.pointee.data else { continue }
            copies.append((role, view, data + Int(view.pointee.byte_offset), total, count, bytes))
            let padded = (bytes + 63) & ~63
            let (sum, overflow) = total.addingReportingOverflow(padded)
            guard !overflow else { throw PluginError("internal error: input copies overflow") }
            total = sum
        }
        if copies.isEmpty { return body(arguments.pointers) }
        return try withUnsafeTemporaryAllocation(byteCount: Swift.max(total, 1), alignment: 64) { block in
            guard let base = block.baseAddress else { throw PluginError("internal error: no memory for input copies") }
            for copy in copies {
                (base + copy.offset).copyMemory(from: copy.original, byteCount: copy.bytes)
                copy.view.pointee.data = base + copy.offset
                copy.view.pointee.byte_offset = 0
            }
            let status = body(arguments.pointers)
            for copy in copies {
                copy.view.pointee.data = copy.original
                guard memcmp(base + copy.offset, copy.original, copy.bytes) != 0 else { continue }
                let width = copy.bytes / Swift.max(copy.count, 1)
                var changed = 0
                for i in 0..<copy.count where memcmp(base + copy.offset + i * width, copy.original + i * width, width) != 0 {
                    changed += 1
                }
                throw PluginError("\(method()) wrote into its read-only input '\(copy.role)' (\(changed) of \(copy.count) elements changed); inputs are const: keep temporaries in host->scratch or the output")
            }
            return status
        }
    }

    /// Checks that the method wrote every element of its outputs and that all are finite: one
    /// pass over the prepared outputs, and the roles looked up only for a message.
    static func verifyOutputs(_ arguments: CallArguments, method: @autoclosure () -> String) throws {
        var clean = true
        for output in arguments.outputs where output.count > 0 {
            guard let values = floats(output.view, count: output.count) else { continue }
            clean = clean && allFinite(values)
        }
        for scalar in arguments.scalars { clean = clean && scalar.pointee.isFinite }
        if !clean { try verifyOutputs(arguments.guarded, method: method()) }
    }

    /// The float32 elements a view holds (`count` of them), nil when it has no data.
    private static func floats(_ view: UnsafeMutablePointer<DLTensor>, count: Int) -> UnsafeBufferPointer<Float>? {
        guard let data = view.pointee.data else { return nil }
        return UnsafeBufferPointer(start: (data + Int(view.pointee.byte_offset)).assumingMemoryBound(to: Float.self), count: count)
    }

    /// Whether every value is finite (a canary is not): no value has the exponent all ones.
    /// Eight lanes at a time and without an early exit (QAT outputs are large), with compares
    /// that the x86-64 baseline (SSE2) has, so it vectorizes on every machine.
    static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress else { return true }
        let raw = UnsafeRawPointer(base), exponent = SIMD8<UInt32>(repeating: 0x7F80_0000)
        var special = SIMDMask<SIMD8<Int32>>(repeating: false)
        var index = 0
        while index + 8 <= values.count {
            special .|= (raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<UInt32>.self) & exponent) .== exponent
            index += 8
        }
        var finite = !any(special)
        while index < values.count {
            finite = finite && base[index].isFinite
            index += 1
        }
        return finite
    }

    /// Names what is wrong with the outputs (unwritten elements, non-finite values), by role:
    /// the slow path, taken only once the fast check has found something.
    private static func verifyOutputs(_ arguments: [CallArgument], method: @autoclosure () -> String) throws {
        for argument in arguments {
            switch argument {
            case .output(let role, let view):
                let (count, _) = try extent(view)
                guard count > 0, let values = floats(view, count: count) else { continue }
                var unwritten = 0, nonFinite = 0
                for v in values {
                    if v.bitPattern == canary32 { unwritten += 1 } else if !v.isFinite { nonFinite += 1 }
                }
                if unwritten > 0 {
                    throw PluginError("\(method()) left \(unwritten) of \(count) elements of its output '\(role)' unwritten (the host fills outputs with a canary before each call; a method writes every element)")
                }
                if nonFinite > 0 {
                    throw PluginError("\(method()) returned a non-finite \(role) (NaN or infinity in \(nonFinite) of \(count) elements)")
                }
            case .scalar(let role, let value):
                if value.pointee.bitPattern == canary64 {
                    throw PluginError("\(method()) never wrote its \(role) (the host fills it with a canary before each call)")
                }
                guard value.pointee.isFinite else {
                    throw PluginError("\(method()) returned a non-finite \(role) (\(value.pointee))")
                }
            case .input:
                continue
            }
        }
    }
}
