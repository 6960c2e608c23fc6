// KD.swift — the `kd` plugin: knowledge-distillation losses, written in Swift against the Lathe
// plugin SDK (lathe_plugin.h, ABI 1.0) only. Built by SwiftPM as libLatheKD.so.
//
// Methods
//   kd/hinton   Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015:
//               alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y),
//               each averaged over the batch.
//
// Nothing here may trap across the C boundary: every input is checked (no force-unwraps, no
// unchecked arithmetic on input-derived sizes) and failures go through `report_error`.

import CLathePlugin

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Status codes and constants as the C types the ABI uses

private let statusOK = Int32(LATHE_OK.rawValue)
private let statusInvalidArgument = Int32(LATHE_INVALID_ARGUMENT.rawValue)
private let statusUnsupported = Int32(LATHE_UNSUPPORTED.rawValue)

/// Whether the host table has `field` within the size it declared (later fields are absent, as
/// the header's versioning rule says; C plugins use LATHE_HOST_HAS).
private func hostHas<T>(_ host: UnsafePointer<lathe_host>, _ field: KeyPath<lathe_host, T>) -> Bool {
    guard let offset = MemoryLayout<lathe_host>.offset(of: field) else { return false }
    return Int(host.pointee.head.size) >= offset + MemoryLayout<T>.size
}

/// A `lathe_head` for a struct of type `T` as this plugin was compiled (the C `LATHE_HEAD`).
private func head<T>(_: T.Type) -> lathe_head {
    lathe_head(abi_major: UInt16(LATHE_ABI_MAJOR), abi_minor: UInt16(LATHE_ABI_MINOR),
               size: UInt32(MemoryLayout<T>.size))
}

/// A NUL-terminated copy of `string` that lives for the rest of the process (descriptors are
/// static; the library is never unloaded).
private func permanentCString(_ string: String) -> UnsafePointer<CChar>? {
    UnsafePointer(strdup(string))
}

// MARK: - Descriptors (allocated once, never freed)

/// A float32 hyperparameter descriptor.
private func f32Param(_ name: String, doc: String, default value: Double, min: Double, max: Double) -> lathe_param {
    var param = lathe_param()
    param.head = head(lathe_param.self)
    param.name = permanentCString(name)
    param.type = Int32(LATHE_PARAM_F32.rawValue)
    param.doc = permanentCString(doc)
    param.default_value = value
    param.min_value = min
    param.max_value = max
    return param
}

/// The hyperparameters of `kd/hinton`, in argument order.
nonisolated(unsafe) private let hintonParams: UnsafeMutablePointer<lathe_param> = {
    let params = UnsafeMutablePointer<lathe_param>.allocate(capacity: 2)
    params.initialize(to: f32Param("temperature", doc: "softmax temperature T applied to both student and teacher logits",
                                   default: 4, min: 0.5, max: 20))
    (params + 1).initialize(to: f32Param("alpha", doc: "weight of the distillation term; 1 - alpha weights cross-entropy with the labels",
                                         default: 0.9, min: 0, max: 1))
    return params
}()

/// The `kd/hinton` method descriptor.
nonisolated(unsafe) private let hintonMethod: UnsafeMutablePointer<lathe_method> = {
    let entry: @convention(c) (
        UnsafeMutablePointer<lathe_call>?, UnsafePointer<DLTensor>?, UnsafePointer<DLTensor>?,
        UnsafePointer<DLTensor>?, UnsafeMutablePointer<Double>?, UnsafeMutablePointer<DLTensor>?,
        Float, Float
    ) -> Int32 = hintonEntry
    var method = lathe_method()
    method.head = head(lathe_method.self)
    method.id = permanentCString("hinton")
    method.title = permanentCString("Hinton knowledge distillation (soft targets)")
    method.doc = permanentCString("""
        Response-based distillation on logits [B, K]. With temperature T and weight alpha: \
        loss = alpha * T^2 * mean_b KL(softmax(t_b / T) || softmax(s_b / T)) \
        + (1 - alpha) * mean_b CE(softmax(s_b), y_b). The T^2 factor keeps the soft-target \
        gradient's magnitude independent of T. Gradient w.r.t. the student logits: \
        alpha * T * (softmax(s / T) - softmax(t / T)) / B + (1 - alpha) * (softmax(s) - onehot(y)) / B. \
        Log-softmax is computed stably (max subtracted), accumulated in double.
        """)
    method.reference = permanentCString(
        "Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural Network, NIPS Deep Learning Workshop 2015 (arXiv:1503.02531)")
    method.kind = Int32(LATHE_KIND_LOSS.rawValue)
    method.flags = UInt32(LATHE_FLAG_THREAD_SAFE) | UInt32(LATHE_FLAG_DETERMINISTIC)
    method.granularity = Int32(LATHE_GRANULARITY_NONE.rawValue)
    method.loss_category = Int32(LATHE_LOSS_RESPONSE.rawValue)
    method.params = UnsafePointer(hintonParams)
    method.param_count = 2
    method.function = unsafeBitCast(entry, to: lathe_function.self)
    let pointer = UnsafeMutablePointer<lathe_method>.allocate(capacity: 1)
    pointer.initialize(to: method)
    return pointer
}()

/// The plugin descriptor `lathe_plugin_entry` returns.
nonisolated(unsafe) private let pluginDescriptor: UnsafeMutablePointer<lathe_plugin> = {
    let initialize: @convention(c) (UnsafePointer<lathe_host>?, UnsafePointer<lathe_registrar>?) -> Int32 =
        pluginInit
    var plugin = lathe_plugin()
    plugin.head = head(lathe_plugin.self)
    plugin.name = permanentCString("kd")
    plugin.version = permanentCString("1.0.0")
    plugin.description = permanentCString("Knowledge-distillation losses (Hinton soft targets)")
    plugin.`init` = initialize
    plugin.`deinit` = nil
    let pointer = UnsafeMutablePointer<lathe_plugin>.allocate(capacity: 1)
    pointer.initialize(to: plugin)
    return pointer
}()

/// The plugin's one exported symbol (`LATHE_ENTRY_SYMBOL`).
@_cdecl("lathe_plugin_entry")
public func latheEntry() -> UnsafePointer<lathe_plugin> {
    UnsafePointer(pluginDescriptor)
}

/// Registers `kd/hinton`. [thread: main]
private func pluginInit(_ host: UnsafePointer<lathe_host>?, _ registrar: UnsafePointer<lathe_registrar>?) -> Int32 {
    guard let registrar, let register = registrar.pointee.register_method else { return statusInvalidArgument }
    let status = register(registrar, UnsafePointer(hintonMethod))
    if status != statusOK, let host, hostHas(host, \.log), let log = host.pointee.log {
        "kd: registering kd/hinton failed".withCString { log(host, 3, $0) }
    }
    return status
}

// MARK: - Tensor views

/// Why a call fails: the status and the message for `report_error`.
private struct Failure: Error {
    var status: Int32
    var message: String
}

private let float32 = DLDataType(code: UInt8(kDLFloat.rawValue), bits: 32, lanes: 1)
private let int64 = DLDataType(code: UInt8(kDLInt.rawValue), bits: 64, lanes: 1)

/// The checked shape and element pointer of a compact CPU tensor.
private struct View<Element> {
    var shape: [Int]
    var base: UnsafeMutablePointer<Element>
    var count: Int

    /// Checks `tensor` is a compact row-major CPU tensor of `type` with `rank` dimensions.
    init(_ tensor: UnsafePointer<DLTensor>?, name: String, type: DLDataType, rank: Int) throws(Failure) {
        guard let tensor else { throw Failure(status: statusInvalidArgument, message: "\(name) is NULL") }
        let t = tensor.pointee
        let typeName = type.code == UInt8(kDLInt.rawValue) ? "an int64" : "a float32"
        guard t.device.device_type == kDLCPU, t.dtype.code == type.code, t.dtype.bits == type.bits,
              t.dtype.lanes == type.lanes
        else { throw Failure(status: statusUnsupported, message: "\(name) must be \(typeName) CPU tensor") }
        guard Int(t.ndim) == rank, let shapePointer = t.shape else {
            throw Failure(status: statusInvalidArgument, message: "\(name) must have \(rank) dimension(s), got \(t.ndim)")
        }
        var shape: [Int] = []
        var count = 1
        for d in 0..<rank {
            let extent = Int(shapePointer[d])
            guard extent >= 0 else { throw Failure(status: statusInvalidArgument, message: "\(name) has a negative extent") }
            shape.append(extent)
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw Failure(status: statusUnsupported, message: "\(name) is too large") }
            count = product
        }
        if let strides = t.strides {
            var expected = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                if shape[d] > 1, Int(strides[d]) != expected {
                    throw Failure(status: statusUnsupported, message: "\(name) must be compact row-major")
                }
                expected &*= shape[d]
            }
        }
        guard let data = t.data, let offset = Int(exactly: t.byte_offset) else {
            throw Failure(status: statusInvalidArgument, message: "\(name) has no data")
        }
        self.shape = shape
        self.count = count
        self.base = (data + offset).assumingMemoryBound(to: Element.self)
    }

    /// Same, for an output tensor.
    init(_ tensor: UnsafeMutablePointer<DLTensor>?, name: String, type: DLDataType, rank: Int) throws(Failure) {
        try self.init(tensor.map { UnsafePointer($0) }, name: name, type: type, rank: rank)
    }
}

// MARK: - kd/hinton

/// The C entry of `kd/hinton` (calling convention of a distillation loss, then `temperature`
/// and `alpha`). Catches every failure and reports it once.
private func hintonEntry(
    _ call: UnsafeMutablePointer<lathe_call>?, _ student: UnsafePointer<DLTensor>?,
    _ teacher: UnsafePointer<DLTensor>?, _ labels: UnsafePointer<DLTensor>?,
    _ loss: UnsafeMutablePointer<Double>?, _ studentGrad: UnsafeMutablePointer<DLTensor>?,
    _ temperature: Float, _ alpha: Float
) -> Int32 {
    guard let call else { return statusInvalidArgument }
    do {
        try hinton(student: student, teacher: teacher, labels: labels, loss: loss,
                   studentGrad: studentGrad, temperature: temperature, alpha: alpha)
        return statusOK
    } catch {
        if let host = call.pointee.host, hostHas(host, \.report_error), let report = host.pointee.report_error {
            error.message.withCString { report(call, $0) }
        }
        return error.status
    }
}

/// Computes the Hinton distillation loss and its gradient w.r.t. the student logits.
///
///     loss = alpha * T^2 * (1/B) sum_b KL(p_t || p_s) + (1 - alpha) * (1/B) sum_b -log softmax(s_b)[y_b]
///     grad = alpha * T * (p_s - p_t) / B + (1 - alpha) * (softmax(s) - onehot(y)) / B
///
/// with p_s = softmax(s / T), p_t = softmax(t / T). Everything is accumulated in `Double`;
/// log-softmax subtracts the row maximum first, so large logits do not overflow.
private func hinton(
    student: UnsafePointer<DLTensor>?, teacher: UnsafePointer<DLTensor>?, labels: UnsafePointer<DLTensor>?,
    loss: UnsafeMutablePointer<Double>?, studentGrad: UnsafeMutablePointer<DLTensor>?,
    temperature: Float, alpha: Float
) throws(Failure) {
    guard temperature.isFinite, temperature >= 0.5, temperature <= 20 else {
        throw Failure(status: statusInvalidArgument, message: "temperature must be in 0.5...20, got \(temperature)")
    }
    guard alpha.isFinite, alpha >= 0, alpha <= 1 else {
        throw Failure(status: statusInvalidArgument, message: "alpha must be in 0...1, got \(alpha)")
    }
    let s = try View<Float>(student, name: "student", type: float32, rank: 2)
    let t = try View<Float>(teacher, name: "teacher", type: float32, rank: 2)
    let y = try View<Int64>(labels, name: "labels", type: int64, rank: 1)
    let g = try View<Float>(studentGrad, name: "student_grad", type: float32, rank: 2)
    guard let loss else { throw Failure(status: statusInvalidArgument, message: "loss is NULL") }
    let batch = s.shape[0], classes = s.shape[1]
    guard batch >= 1, classes >= 1 else {
        throw Failure(status: statusInvalidArgument, message: "student must be [B, K] with B, K >= 1, got \(s.shape)")
    }
    guard t.shape == s.shape else {
        throw Failure(status: statusInvalidArgument, message: "teacher shape \(t.shape) differs from student shape \(s.shape)")
    }
    guard y.shape == [batch] else {
        throw Failure(status: statusInvalidArgument, message: "labels must be [\(batch)], got \(y.shape)")
    }
    guard g.shape == s.shape else {
        throw Failure(status: statusInvalidArgument, message: "student_grad shape \(g.shape) differs from student shape \(s.shape)")
    }
    for b in 0..<batch {
        let label = y.base[b]
        guard label >= 0, label < Int64(classes) else {
            throw Failure(status: statusInvalidArgument, message: "labels[\(b)] = \(label) is outside 0..<\(classes)")
        }
    }
    for i in 0..<s.count where !s.base[i].isFinite || !t.base[i].isFinite {
        throw Failure(status: statusInvalidArgument, message: "student or teacher logits contain NaN or infinity (element \(i))")
    }

    let T = Double(temperature), a = Double(alpha)
    let invT = 1 / T, invB = 1 / Double(batch)
    let softScale = a * T * invB      // gradient factor of the distillation term
    let hardScale = (1 - a) * invB    // gradient factor of the cross-entropy term
    var klSum = 0.0, ceSum = 0.0
    for b in 0..<batch {
        let row = b * classes
        let sRow = s.base + row, tRow = t.base + row, gRow = g.base + row
        // Row maxima, then the three log-partition functions (student at T and at 1, teacher at T).
        var sMax = -Double.infinity, tMax = -Double.infinity
        for k in 0..<classes {
            sMax = max(sMax, Double(sRow[k]))
            tMax = max(tMax, Double(tRow[k]))
        }
        var zS = 0.0, zT = 0.0, z1 = 0.0
        for k in 0..<classes {
            let ds = Double(sRow[k]) - sMax
            zS += exp(ds * invT)
            zT += exp((Double(tRow[k]) - tMax) * invT)
            z1 += exp(ds)
        }
        let logZS = log(zS), logZT = log(zT), logZ1 = log(z1)
        let label = Int(y.base[b])
        var kl = 0.0
        for k in 0..<classes {
            let ds = Double(sRow[k]) - sMax
            let logPS = ds * invT - logZS                           // log softmax(s/T)
            let logPT = (Double(tRow[k]) - tMax) * invT - logZT     // log softmax(t/T)
            let pS = exp(logPS), pT = exp(logPT)
            kl += pT * (logPT - logPS)                              // 0 * finite = 0 where p_t underflows
            let p1 = exp(ds - logZ1)                                // softmax(s)
            let hard = p1 - (k == label ? 1 : 0)
            gRow[k] = Float(softScale * (pS - pT) + hardScale * hard)
        }
        klSum += kl
        ceSum += logZ1 - (Double(sRow[label]) - sMax)               // -log softmax(s)[y]
    }
    loss.pointee = a * T * T * klSum * invB + (1 - a) * ceSum * invB
}
