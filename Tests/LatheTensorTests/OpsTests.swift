import Testing
@testable import LatheTensor

@Suite("Tensor operations")
struct OpsTests {
    @Test func shapesOfEveryRankAndHasShape() throws {
        for shape in [[], [3], [2, 3], [1, 2, 1, 3], [1, 1, 1, 1, 1, 1, 1, 2, 3]] {
            let t = try Tensor.zeros(shape)
            #expect(t.shape == shape)
            #expect(t.hasShape(shape))
            #expect(!t.hasShape(shape + [1]))
            #expect(shape.isEmpty || !t.hasShape(Array(shape.dropLast()) + [shape[shape.count - 1] + 1]))
            #expect(try Tensor.empty(shape).shape == shape)
        }
    }

    @Test func roundTripOfValuesAndShape() throws {
        let t = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        #expect(t.shape == [2, 3])
        #expect(t.dtype == .float32)
        #expect(try t.transposed().contiguous().scalars(as: Float.self) == [1, 4, 2, 5, 3, 6])
    }

    @Test func arithmeticAndReductions() throws {
        let t = try Tensor([1, -2, 3, -4] as [Float], shape: [2, 2])
        #expect(try (t * 2 + 1).scalars(as: Float.self) == [3, -3, 7, -7])
        #expect(try t.abs().sum().item() == 10)
        #expect(try t.sum([1]).scalars(as: Float.self) == [-1, -1])
        #expect(try t.max().item() == 3)
        #expect(try t.argmax(1).scalars(as: Int64.self) == [0, 0])
        #expect(try (1.0 - t).scalars(as: Float.self) == [0, 3, -2, 5])
    }

    @Test func topkSortAndKthValue() throws {
        let t = try Tensor([5, 1, 4, 2, 3] as [Float])
        let top = try t.topk(2)
        #expect(try top.values.scalars(as: Float.self) == [5, 4])
        #expect(try top.indices.scalars(as: Int64.self) == [0, 2])
        #expect(try t.sorted().values.scalars(as: Float.self) == [1, 2, 3, 4, 5])
        #expect(try t.kthValue(2).values.item() == 2)
        #expect(throws: TensorError.self) { try t.topk(9) }
    }

    @Test func maskingAndIndexing() throws {
        let t = try Tensor([1, 2, 3, 4] as [Float])
        let mask = try t.gt(2.5)
        #expect(try t.maskedFill(mask, 0).scalars(as: Float.self) == [1, 2, 0, 0])
        #expect(try t.maskedSelect(mask).scalars(as: Float.self) == [3, 4])
        #expect(try t.indexSelect(0, [3, 0]).scalars(as: Float.self) == [4, 1])
    }

    @Test func softmaxRowsSumToOne() throws {
        let logits = try Tensor([1, 2, 3, 0, 0, 0] as [Float], shape: [2, 3])
        let sums = try logits.softmax(1).sum([1]).scalars(as: Float.self)
        for s in sums { #expect(abs(s - 1) < 1e-6) }
        let ce = try logits.crossEntropy(labels: Tensor([2, 0] as [Int64])).item()
        // Hand value: mean(-log softmax) = (0.40760596 + 1.09861229) / 2
        #expect(abs(ce - 0.753_109) < 1e-5)
    }

    @Test func dlpackViewDescribesTheStorage() throws {
        let t = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        let (ndim, shape, strides, bits, first) = try t.withDLTensor { v in
            (v.pointee.ndim, [v.pointee.shape[0], v.pointee.shape[1]], [v.pointee.strides[0], v.pointee.strides[1]],
             v.pointee.dtype.bits, v.pointee.data.assumingMemoryBound(to: Float.self)[4])
        }
        #expect(ndim == 2)
        #expect(shape == [2, 3])
        #expect(strides == [3, 1])
        #expect(bits == 32)
        #expect(first == 5)
    }

    @Test func seededGeneratorsAreReproducible() throws {
        let a = try Tensor.randn([16], generator: RandomGenerator(seed: 7)).scalars(as: Float.self)
        let b = try Tensor.randn([16], generator: RandomGenerator(seed: 7)).scalars(as: Float.self)
        let c = try Tensor.randn([16], generator: RandomGenerator(seed: 8)).scalars(as: Float.self)
        #expect(a == b)
        #expect(a != c)
    }
}

@Suite("Quantized engines", .serialized)
struct QuantizedEngineTests {
    /// Real int8 linear layers agree with the float computation within quantization error.
    @Test func int8LinearMatchesFloatOnEveryEngine() throws {
        let g = try RandomGenerator(seed: 11)
        let w = try Tensor.randn([16, 32], generator: g) * 0.1
        let x = try Tensor.uniform([4, 32], low: 0, high: 1, generator: g)
        let reference = try x.linear(weight: w).scalars(as: Float.self)
        #expect(!QuantizedEngine.supported.isEmpty)
        for engine in QuantizedEngine.supported {
            // Full-range codes where the engine accumulates them exactly on this CPU, 7-bit ones
            // where its kernels would saturate (x86 without VNNI): what Int8Model feeds it.
            let qmax = try engine.activationQMax()
            try engine.activate()
            let wq = try w.quantized(scale: try w.abs().max().item() / 127, zeroPoint: 0, dtype: .qint8)
            let xq = try x.quantized(scale: 1.0 / Double(qmax), zeroPoint: 0, dtype: .quint8)
            let outScale = try x.linear(weight: w).abs().max().item() / 127
            let y = try xq.quantizedLinear(PackedWeights.linear(weight: wq, bias: nil), scale: outScale, zeroPoint: 128)
            #expect(y.dtype == .quint8)
            let got = try y.dequantized().scalars(as: Float.self)
            let worst = zip(got, reference).map { abs($0 - $1) }.max() ?? .infinity
            #expect(Double(worst) < 3 * outScale, "\(engine): worst error \(worst) vs step \(outScale)")
        }
    }

    /// The probe's verdict must describe the kernels: where full-range codes are declared exact,
    /// a reduction whose every product pair would overflow 16 bits comes out right; where 7-bit
    /// codes are chosen, those come out right while full-range ones do not. Holds on every CPU.
    @Test func activationLimitMatchesWhatTheKernelsDo() throws {
        let k = 96
        let w = try Tensor.full([3, k], -1).quantized(scale: 1.0 / 128, zeroPoint: 0, dtype: .qint8)
        for engine in QuantizedEngine.supported {
            let qmax = try engine.activationQMax()
            #expect(qmax == 255 || qmax == 127)
            try engine.activate()
            let packed = try PackedWeights.linear(weight: w, bias: nil)
            func worstError(codes: Int) throws -> Float {
                let x = try Tensor.ones([2, k]).quantized(scale: 1.0 / Double(codes), zeroPoint: 0, dtype: .quint8)
                // Output codes around 128 +- 96: affine output with zero point 255 holds -k.
                let y = try x.quantizedLinear(packed, scale: Double(k) / 200, zeroPoint: 255).dequantized()
                return try y.scalars(as: Float.self).map { abs($0 + Float(k)) }.max() ?? .infinity
            }
            let step = Float(k) / 200
            #expect(try worstError(codes: qmax) <= step, "\(engine) with \(qmax)-code activations")
            if qmax == 127 {
                #expect(try worstError(codes: 255) > 4 * step, "\(engine) was judged to saturate full-range codes but did not")
            }
        }
        #expect(CPUFeatures.current.description.isEmpty == false)
    }

    @Test func prepackOfAFloatWeightIsAnError() throws {
        #expect(throws: TensorError.self) { try PackedWeights.linear(weight: Tensor.ones([2, 2]), bias: nil) }
    }
}
