import CFFI
import CLathePlugin

/// The entry functions a method registered: the 1.0 function and the [1.1] optional ones.
struct MethodEntries {
    var function: lathe_function
    var initLearnables: lathe_function?
    var backward: lathe_function?
}

/// Which of a method's entry functions a call goes to.
enum MethodEntry {
    case forward, initLearnables, backward

    /// Pointer arguments after `lathe_call*` in this entry's calling convention.
    func pointerArguments(_ kind: MethodKind) -> Int {
        switch self {
        case .forward: return kind.fixedPointerArguments
        case .initLearnables: return kind == .loss ? 2 : 1  // student, teacher | input
        case .backward: return 3                            // input, grad_output, grad_input
        }
    }

    /// How errors name the call: the method, and the entry when it is not the forward function.
    func label(_ method: String) -> String {
        switch self {
        case .forward: return method
        case .initLearnables: return "\(method) init_learnables"
        case .backward: return "\(method) backward"
        }
    }
}

/// One entry function with its libffi call interface (`lathe_call*`, the pointer arguments,
/// then the hyperparameters), prepared once and owned for the life of the process.
final class FFIEntry: @unchecked Sendable {
    let function: lathe_function
    let cif: UnsafeMutablePointer<ffi_cif>
    let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    /// `lathe_call*` plus the pointer arguments.
    let leading: Int
    let argumentCount: Int

    init(function: lathe_function, pointers: Int, params: [ParamSpec], owner: String) throws {
        self.function = function
        leading = 1 + pointers
        argumentCount = leading + params.count
        argumentTypes = .allocate(capacity: argumentCount)
        for index in 0..<leading { argumentTypes[index] = lathe_ffi_pointer() }
        for (offset, param) in params.enumerated() {
            argumentTypes[leading + offset] = Self.ffiType(param.type)
        }
        cif = .allocate(capacity: 1)
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(argumentCount), lathe_ffi_sint32(), argumentTypes)
        guard status == FFI_OK else {
            throw PluginError("\(owner): libffi could not prepare the call interface (status \(status.rawValue))")
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

    /// Calls the function with `call`, `pointers` and `params` (already checked against the
    /// declaration); returns its status.
    func call(_ call: UnsafeMutablePointer<lathe_call>, _ pointers: UnsafeBufferPointer<UnsafeMutableRawPointer?>, _ params: BoundParams) -> Int32 {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: argumentCount) { slots in
            withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: argumentCount) { values in
                let base = UnsafeMutableRawPointer(slots.baseAddress ?? UnsafeMutablePointer<UInt64>.allocate(capacity: 0))
                func slot(_ i: Int) -> UnsafeMutableRawPointer { base + i * 8 }
                slot(0).storeBytes(of: UnsafeMutableRawPointer(call), as: UnsafeMutableRawPointer.self)
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
                ffi_call(cif, function, &result, values.baseAddress)
                return Int32(truncatingIfNeeded: result)
            }
        }
    }
}
