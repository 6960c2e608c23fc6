import CLathePlugin
import CTorch

extension DType {
    /// The DLPack description of this element type, or nil for quantized types.
    public var dlDataType: DLDataType? {
        let code: DLDataTypeCode
        switch self {
        case .int8, .int16, .int32, .int64: code = kDLInt
        case .uint8, .bool: code = kDLUInt
        case .float16, .float32, .float64: code = kDLFloat
        case .qint8, .quint8, .qint32: return nil
        }
        return DLDataType(code: UInt8(code.rawValue), bits: UInt8(byteWidth * 8), lanes: 1)
    }
}

extension Tensor {
    /// Calls `body` with a borrowed DLPack view of this tensor's CPU storage (shape, strides and
    /// data pointer). The view is valid only inside `body`; writes through it change the tensor.
    /// Autograd does not see such writes.
    public func withDLTensor<R>(_ body: (UnsafeMutablePointer<DLTensor>) throws -> R) throws -> R {
        guard let type = dtype.dlDataType else {
            throw TensorError("dlpack", "quantized tensors (\(dtype)) have no DLPack view")
        }
        var sizes = shape.map(Int64.init)
        var steps = strides.map(Int64.init)
        return try withExtendedLifetime(self) {
            try sizes.withUnsafeMutableBufferPointer { sizePointer in
                try steps.withUnsafeMutableBufferPointer { stridePointer in
                    var view = DLTensor(
                        data: ct_data_ptr(handle),
                        device: DLDevice(device_type: kDLCPU, device_id: 0),
                        ndim: Int32(sizePointer.count),
                        dtype: type,
                        shape: sizePointer.baseAddress,
                        strides: stridePointer.baseAddress,
                        byte_offset: 0)
                    return try body(&view)
                }
            }
        }
    }
}
