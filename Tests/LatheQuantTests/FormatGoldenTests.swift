import LathePlugins
import LatheTensor
import Testing

/// Goldens of the `formats` plugin, computed by hand, run through the built plugin and the host
/// (`PluginMethod.quantize`): ties to even, saturation, subnormals of the element format, the
/// E8M0 scale choice, group boundaries and the last, shorter group of a row.
@Suite("floating-point and group format goldens")
struct FormatGoldenTests {
    func run(_ id: String, _ values: [Float], shape: [Int], _ params: [String: HyperValue] = [:]) throws -> ([Float], QuantParams) {
        let method = try Checkout.method(id)
        let (out, q) = try method.quantize(try Tensor(values, shape: shape), params: try method.bind(params))
        return (try out.scalars(as: Float.self), q)
    }

    /// 2^k as a float (subnormal below 2^-126).
    func pow2(_ k: Int) -> Float { Float(sign: .plus, exponent: k, significand: 1) }

    /// INT4, groups of 4 over rows of 6: each row has a group of 4 and a last group of 2.
    @Test func intGroupScalesPerGroupInFp16() throws {
        let (out, q) = try run("formats/int_group", [
            0.875, -0.3125, 0.1875, 0.0625, /* | */ 1.4, -0.2,
            0, 0, 0, 0, /* | */ -3, 1,
        ], shape: [2, 6], ["bits": .int(4), "group_size": .int(4)])
        // Row 0, group 0: s = 0.875 / 7 = 0.125 (exact in fp16); codes 7, -2.5 -> -2 and 1.5 -> 2
        // (ties to even), 0.5 -> 0.
        // Row 0, group 1 (2 elements): 1.4 / 7 = 0.2 rounds to fp16 0.199951171875 (0x1.998p-3);
        // codes round(7.0017) = 7 and round(-1.0002) = -1.
        // Row 1: an all-zero group (scale 1), then s = 3/7 -> fp16 0.428466796875 (1755 * 2^-12);
        // -3 / s = -7.0017 clamps to -7, 1 / s = 2.33 -> 2.
        let s01: Float = 0.199951171875, s11: Float = 0.428466796875
        #expect(out == [0.875, -0.25, 0.25, 0, 7 * s01, -s01, 0, 0, 0, 0, -7 * s11, 2 * s11])
        #expect(q.scheme == .symmetric && q.bits == 4 && q.qmin == -7 && q.qmax == 7 && q.axis == 0)
        #expect(q.groupSize == 4 && q.scaleFormat == .fp16 && q.elementFormat == .int)
        #expect(q.scales == [0.125, s01, 1, s11])
        // 12 four-bit codes and four fp16 scales: 6 + 8 bytes, 4 + 64/12 bits per weight.
        #expect(q.storageBytes(elements: 12) == 14)
        #expect(q.effectiveBits(elements: 12) == 4 + 64.0 / 12)
    }

    @Test func intGroupWithFp32ScalesKeepsTheQuotient() throws {
        let (out, q) = try run("formats/int_group", [0.3, -0.1, 0.05], shape: [1, 3],
                               ["bits": .int(2), "group_size": .int(32), "scale_format": .choice("fp32")])
        // qmax 1: s = 0.3; codes 1, round(-0.333) = 0, 0.
        #expect(out == [0.3, 0, 0] && q.scales == [0.3] && q.scaleFormat == .fp32 && q.qmax == 1)
    }

    @Test func intGroupRefusesAScaleOutsideFp16() throws {
        let method = try Checkout.method("formats/int_group")
        #expect {
            _ = try method.quantize(try Tensor([1e6, 1], shape: [1, 2]), params: try method.bind([:]))
        } throws: { error in
            "\(error)".contains("exceeds the largest fp16 value 65504")
        }
    }

    /// INT4 g128 with fp16 scales: 4 + 16/128 = 4.125 bits per weight.
    @Test func intFourGroup128Fp16IsFourPointOneTwoFiveBits() throws {
        let values = (0..<1024).map { Float(($0 * 37) % 101) / 50 - 1 }
        let (_, q) = try run("formats/int_group", values, shape: [4, 256], ["bits": .int(4), "group_size": .int(128)])
        #expect(q.scales.count == 8)
        #expect(q.effectiveBits(elements: 1024) == 4.125)
        #expect(q.storageBytes(elements: 1024) == 512 + 16)
    }

    /// MXFP4 over rows of 34: a block of 32 and a last block of 2.
    @Test func mxfp4RoundsToE2M1UnderAPowerOfTwoScale() throws {
        var row0 = [Float](repeating: 0, count: 34)
        // Block 0: max|x| = 7 -> X = 2^(floor(log2 7) - 2) = 1. 7 and -6.5 saturate to +-6; ties to
        // even: 5 -> 4, 0.25 -> 0, 0.75 -> 1, 2.5 -> 2, 3.5 -> 4, 1.25 -> 1, 1.75 -> 2; -0.3 -> -0.5
        // (the subnormal 0.5), 0.2 -> 0.
        let block0: [Float] = [7, 5, 0.25, 0.75, 2.5, 3.5, 1.25, 1.75, -0.3, 0.2, -6.5]
        row0.replaceSubrange(0..<block0.count, with: block0)
        // Block 1: max|x| = 5/128 -> floor(log2) = -5, X = 2^-7; 5 -> 4, -1.28 -> -1.5.
        row0[32] = 0.0390625
        row0[33] = -0.01
        var row1 = [Float](repeating: 0, count: 34)
        // Block 0: max|x| = 2^-128 -> 2^-130 clamps to the E8M0 minimum 2^-127; 2^-128 / 2^-127 = 0.5
        // (E2M1's subnormal), 2^-129 -> 0.25 -> 0 (tie to even). Block 1: zeros, scale 1.
        row1[0] = pow2(-128)
        row1[1] = -pow2(-129)
        let (out, q) = try run("formats/mxfp4", row0 + row1, shape: [2, 34])
        var expected0 = [Float](repeating: 0, count: 34)
        expected0.replaceSubrange(0..<11, with: [6, 4, 0, 1, 2, 4, 1, 2, -0.5, 0, -6] as [Float])
        expected0[32] = 0.03125
        expected0[33] = -1.5 * pow2(-7)
        var expected1 = [Float](repeating: 0, count: 34)
        expected1[0] = pow2(-128)
        #expect(out == expected0 + expected1)
        #expect(q.scheme == .minifloat && q.bits == 4 && q.elementFormat == .fp4E2M1 && q.scaleFormat == .e8m0)
        #expect(q.groupSize == 32 && q.axis == 0 && q.scales == [1, pow2(-7), pow2(-127), 1])
    }

    /// MXFP8 (E4M3) in one block: saturation at 448, ties to even, E4M3's subnormals (2^-9 apart).
    @Test func mxfp8RoundsToE4M3() throws {
        // max|x| = 460 -> X = 2^(8 - 8) = 1. 460 -> 448 (saturates: 480 would be NaN's code);
        // 300 -> 288 (spacing 32); 17 -> 16 and 19 -> 20 (ties to even, spacing 2); 1.5 * 2^-9 ->
        // 2^-8 (tie), 2^-10 -> 0 (tie), -0.75 * 2^-9 -> -2^-9.
        let (out, q) = try run("formats/mxfp8", [460, 300, 17, 19, 1.5 * pow2(-9), pow2(-10), -0.75 * pow2(-9)], shape: [1, 7])
        #expect(out == [448, 288, 16, 20, pow2(-8), 0, -pow2(-9)])
        #expect(q.scales == [1] && q.bits == 8 && q.elementFormat == .fp8E4M3 && q.scaleFormat == .e8m0)
        #expect(q.effectiveBits(elements: 32) == 8.25)
    }

    @Test func mxfp4IsFourPointTwoFiveBits() throws {
        let (_, q) = try run("formats/mxfp4", (0..<128).map { Float($0) / 64 - 1 }, shape: [2, 64])
        #expect(q.scales.count == 4 && q.effectiveBits(elements: 128) == 4.25)
        #expect(q.storageBytes(elements: 128) == 64 + 4)
    }

    /// FP8 E4M3 per tensor: s = 896 / 448 = 2.
    @Test func fp8E4M3PerTensor() throws {
        // x / 2: 448, -1.5 (exact), 17.5 -> 18 (spacing 2), 2^-10 -> 0 (tie), 1.5 * 2^-9 -> 2^-8 (tie).
        let (out, q) = try run("formats/fp8", [896, -3, 35, pow2(-9), 3 * pow2(-9)], shape: [5],
                               ["format": .choice("e4m3"), "per_channel": .bool(false)])
        #expect(out == [896, -3, 36, 0, pow2(-7)])
        #expect(q.scheme == .minifloat && q.axis == -1 && q.scales == [2] && q.elementFormat == .fp8E4M3 && q.scaleFormat == .fp32)
    }

    /// FP8 E5M2 per channel: row 0 has s = 57344 / 57344 = 1, row 1 is all zeros (scale 1).
    @Test func fp8E5M2PerChannel() throws {
        // E5M2: 3.25 -> 3 and 3.75 -> 4 (ties to even, spacing 0.5); subnormals 2^-16 apart:
        // 1.5 * 2^-16 -> 2^-15 (tie), 0.5 * 2^-16 -> 0 (tie).
        let (out, q) = try run("formats/fp8", [57344, 3.25, 3.75, 1.5 * pow2(-16), 0.5 * pow2(-16), 0, 0, 0, 0, 0], shape: [2, 5],
                               ["format": .choice("e5m2")])
        #expect(out == [57344, 3, 4, pow2(-15), 0, 0, 0, 0, 0, 0])
        #expect(q.axis == 0 && q.scales == [1, 1] && q.elementFormat == .fp8E5M2 && q.bits == 8)
    }

    /// FP8 saturates the quotient at the format's largest finite value: per channel with E4M3,
    /// s = 1 / 448 (rounded), so x / s lands within an ulp of 448 and stays 448.
    @Test func fp8SaturatesNotOverflows() throws {
        let (out, q) = try run("formats/fp8", [1, -1, 0.5], shape: [1, 3])
        let s = Float(1) / 448
        #expect(q.scales == [s])
        #expect(out == [Float(Double(448) * Double(s)), -Float(Double(448) * Double(s)), Float(Double(224) * Double(s))])
    }

    /// The OCP NaN rule would give a block with a NaN a NaN scale; the host takes finite scales
    /// only, so the methods refuse non-finite input with the reason.
    @Test(arguments: ["formats/mxfp4", "formats/mxfp8", "formats/fp8", "formats/int_group"])
    func nonFiniteInputIsRefused(id: String) throws {
        let method = try Checkout.method(id)
        for bad in [Float.nan, Float.infinity] {
            #expect {
                _ = try method.quantize(try Tensor([1, bad, 2], shape: [1, 3]), params: try method.bind([:]))
            } throws: { error in
                "\(error)".contains("NaN or infinite")
            }
        }
    }
}
