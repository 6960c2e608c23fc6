import CLathePlugin
import Foundation
import Testing
@testable import LathePlugins

/// The host's reading of `lathe_qparams`: the [1.1] group and format fields, their validation,
/// the size ledger's bits, and the Codable form.
@Suite struct QuantParamsTests {
    /// A 1.1 `lathe_qparams` with `scales` (kept alive by the caller's closure).
    static func read(scheme: lathe_qscheme = LATHE_QSCHEME_SYMMETRIC, bits: Int32 = 4, axis: Int32 = 0,
                     qmax: Int32 = 7, scales: [Float], group: Int32 = 0, element: Int32 = 0, scaleFormat: Int32 = 0,
                     shape: [Int]) throws -> QuantParams {
        var q = lathe_qparams()
        q.head = lathe_head(abi_major: 1, abi_minor: 1, size: UInt32(MemoryLayout<lathe_qparams>.size))
        q.scheme = Int32(scheme.rawValue)
        q.bits = bits
        q.axis = axis
        q.qmin = -qmax
        q.qmax = qmax
        q.count = UInt32(scales.count)
        q.group_size = group
        q.element_format = element
        q.scale_format = scaleFormat
        return try scales.withUnsafeBufferPointer { buffer in
            q.scales = scales.isEmpty ? nil : buffer.baseAddress
            return try withUnsafePointer(to: &q) { try QuantParams(reading: UnsafeRawPointer($0), shape: shape) }
        }
    }

    func refused(_ reason: String, _ body: () throws -> QuantParams) {
        #expect {
            _ = try body()
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func groupsAreReadAlongTheRows() throws {
        // Rows of 3 * 3 * 3 = 27 in groups of 8: 4 groups per row (the last of 3), 2 rows.
        let q = try Self.read(scales: [Float](repeating: 0.5, count: 8), group: 8, scaleFormat: Int32(LATHE_SCALE_FP16.rawValue),
                              shape: [2, 3, 3, 3])
        #expect(q.groupSize == 8 && q.scaleFormat == .fp16 && q.elementFormat == .int && q.scales.count == 8)
    }

    @Test func groupLayoutRefusals() {
        refused("needs axis 0") { try Self.read(axis: -1, scales: [1], group: 8, shape: [2, 27]) }
        refused("3 scales for groups of 8 along the rows of [2, 27]; expected 8") {
            try Self.read(scales: [1, 1, 1], group: 8, shape: [2, 27])
        }
        refused("group_size -4 is negative") { try Self.read(scales: [1, 1], group: -4, shape: [2, 27]) }
        refused("needs axis 0") { try Self.read(scales: [1], group: 8, shape: []) }
    }

    @Test func minifloatNeedsAFloatElementFormatOfItsWidth() throws {
        let e2m1 = Int32(LATHE_ELEMENT_FP4_E2M1.rawValue), e8m0 = Int32(LATHE_SCALE_E8M0.rawValue)
        let q = try Self.read(scheme: LATHE_QSCHEME_MINIFLOAT, qmax: 0, scales: [0.25, 2], group: 32, element: e2m1,
                              scaleFormat: e8m0, shape: [2, 32])
        #expect(q.scheme == .minifloat && q.elementFormat == .fp4E2M1 && q.scaleFormat == .e8m0)
        refused("must report a floating-point element format") {
            try Self.read(scheme: LATHE_QSCHEME_MINIFLOAT, axis: -1, qmax: 0, scales: [1], shape: [4])
        }
        refused("fp4-e2m1 is 4 bits wide, but 8 bits reported") {
            try Self.read(scheme: LATHE_QSCHEME_MINIFLOAT, bits: 8, axis: -1, qmax: 0, scales: [1], element: e2m1, shape: [4])
        }
        refused("an minifloat quantizer must report scales") {
            try Self.read(scheme: LATHE_QSCHEME_MINIFLOAT, axis: -1, qmax: 0, scales: [], element: e2m1, shape: [4])
        }
        refused("a symmetric quantizer has integer elements, got element format fp8-e4m3") {
            try Self.read(bits: 8, axis: -1, qmax: 127, scales: [1], element: Int32(LATHE_ELEMENT_FP8_E4M3.rawValue), shape: [4])
        }
        refused("unknown element format 9") { try Self.read(axis: -1, scales: [1], element: 9, shape: [4]) }
        refused("unknown scale format 7") { try Self.read(axis: -1, scales: [1], scaleFormat: 7, shape: [4]) }
    }

    @Test func scalesMustBeValuesOfTheirFormat() throws {
        func one(_ s: Float, _ format: lathe_scale_format) throws -> QuantParams {
            try Self.read(axis: -1, scales: [s], scaleFormat: Int32(format.rawValue), shape: [4])
        }
        let tiny = Float(sign: .plus, exponent: -127, significand: 1)
        #expect(try one(tiny, LATHE_SCALE_E8M0).scales == [tiny])
        #expect(try one(0x1p127, LATHE_SCALE_E8M0).scaleFormat == .e8m0)
        refused("scale 0 (0.3) is not exactly a e8m0 value") { try one(0.3, LATHE_SCALE_E8M0) }
        refused("not exactly a e8m0 value") { try one(Float(sign: .plus, exponent: -128, significand: 1), LATHE_SCALE_E8M0) }
        #expect(try one(0.0999755859375, LATHE_SCALE_FP16).scaleFormat == .fp16)
        #expect(try one(65504, LATHE_SCALE_FP16).scaleFormat == .fp16)
        #expect(try one(0x1p-24, LATHE_SCALE_FP16).scaleFormat == .fp16)
        refused("not exactly a fp16 value") { try one(0.1, LATHE_SCALE_FP16) }
        refused("not exactly a fp16 value") { try one(65520, LATHE_SCALE_FP16) }
        refused("not exactly a fp16 value") { try one(0x1.8p-24, LATHE_SCALE_FP16) }
        #expect(try one(0x1.fep-3, LATHE_SCALE_BF16).scaleFormat == .bf16)
        refused("not exactly a bf16 value") { try one(0.1, LATHE_SCALE_BF16) }
        refused("scales must be finite and positive") { try one(-0.5, LATHE_SCALE_FP32) }
    }

    /// A 1.0 plugin's struct ends before the [1.1] fields: whatever follows in memory is not
    /// read; it is per tensor/channel integers with fp32 scales.
    @Test func aOnePointZeroStructReadsNoGroupsAndFp32Scales() throws {
        let scales: [Float] = [0.1]
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<lathe_qparams>.size, alignment: 8)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xFF, count: MemoryLayout<lathe_qparams>.size)
        try scales.withUnsafeBufferPointer { buffer in
            var q = lathe_qparams()
            q.head = lathe_head(abi_major: 1, abi_minor: 0, size: UInt32(ABIStruct.qparams1_0))
            q.scheme = Int32(LATHE_QSCHEME_SYMMETRIC.rawValue)
            q.bits = 8
            q.axis = -1
            q.qmin = -127
            q.qmax = 127
            q.count = 1
            q.scales = buffer.baseAddress
            raw.copyMemory(from: &q, byteCount: ABIStruct.qparams1_0)
            let read = try QuantParams(reading: UnsafeRawPointer(raw), shape: [3])
            #expect(read.groupSize == 0 && read.elementFormat == .int && read.scaleFormat == .fp32 && read.scales == [0.1])
        }
    }

    @Test func effectiveBitsCountScalesAtTheirWidth() {
        let int4g128 = QuantParams(scheme: .symmetric, bits: 4, axis: 0, qmin: -7, qmax: 7,
                                   scales: [Float](repeating: 1, count: 8), groupSize: 128, scaleFormat: .fp16)
        #expect(int4g128.effectiveBits(elements: 1024) == 4.125)
        let mxfp4 = QuantParams(scheme: .minifloat, bits: 4, axis: 0, scales: [Float](repeating: 1, count: 4), groupSize: 32,
                                elementFormat: .fp4E2M1, scaleFormat: .e8m0)
        #expect(mxfp4.effectiveBits(elements: 128) == 4.25)
        let mxfp8 = QuantParams(scheme: .minifloat, bits: 8, axis: 0, scales: [Float](repeating: 1, count: 4), groupSize: 32,
                                elementFormat: .fp8E4M3, scaleFormat: .e8m0)
        #expect(mxfp8.effectiveBits(elements: 128) == 8.25)
        #expect(mxfp8.storageBytes(elements: 128) == 128 + 4)
        // Per-channel INT4 of a [10, 100] weight with fp32 scales: 4 + 10 * 32 / 1000.
        let perChannel = QuantParams(scheme: .symmetric, bits: 4, axis: 0, qmin: -7, qmax: 7, scales: [Float](repeating: 1, count: 10))
        #expect(perChannel.effectiveBits(elements: 1000) == 4.32)
        #expect(perChannel.storageBytes(elements: 1000) == 500 + 40)
        // Affine per tensor with its zero point: 8 + (32 + 32) / 10.
        let affine = QuantParams(scheme: .affine, bits: 8, axis: -1, qmin: 0, qmax: 255, scales: [0.1], zeroPoints: [128])
        #expect(affine.effectiveBits(elements: 10) == 14.4)
    }

    @Test func codableKeepsTheNewFieldsAndReadsOldRecords() throws {
        let q = QuantParams(scheme: .minifloat, bits: 8, axis: 0, scales: [0.5], groupSize: 32, elementFormat: .fp8E5M2, scaleFormat: .e8m0)
        #expect(try JSONDecoder().decode(QuantParams.self, from: JSONEncoder().encode(q)) == q)
        let old = #"{"scheme":"symmetric","bits":4,"axis":-1,"qmin":-7,"qmax":7,"scales":[0.25],"zeroPoints":[],"codebook":[]}"#
        let decoded = try JSONDecoder().decode(QuantParams.self, from: Data(old.utf8))
        #expect(decoded == QuantParams(scheme: .symmetric, bits: 4, axis: -1, qmin: -7, qmax: 7, scales: [0.25]))
    }
}
