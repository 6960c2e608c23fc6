import LatheTensor

/// The inputs a loss is checked on. Relation losses are tried on flat features of different
/// widths ([B, 12] and [B, 20]); one that refuses those but computes on attention maps — the
/// softmax rows [B, H, T, T] of a transformer block, 4 heads over 5 tokens for both (different
/// random maps for the student and the teacher; an attention-transfer loss such as
/// distill/attention-map) — is checked on maps.
enum LossLayout: Equatable {
    case features
    case attentionMaps
}

extension ConformanceChecker {
    /// `.attentionMaps` for a relation loss that fails on features at its defaults and computes
    /// on attention maps; otherwise `.features` (the checks then report what fails).
    static func layout(of method: PluginMethod) -> LossLayout {
        guard method.descriptor.kind == .loss, method.descriptor.lossCategory == .relation,
              method.descriptor.learnables.isEmpty, let params = try? method.bind() else { return .features }
        func computes(_ layout: LossLayout) -> Bool {
            guard let x = try? inputs(method, layout, seed: 1, large: false) else { return false }
            return (try? call(method, params, x)) != nil
        }
        return !computes(.features) && computes(.attentionMaps) ? .attentionMaps : .features
    }

    /// Standard inputs for each kind, from `seed`. `large` gives 8 times the channels or batch
    /// (thread safety: longer calls widen the window in which calls overlap).
    func inputs(seed: UInt64, large: Bool = false) throws -> [Tensor] {
        try Self.inputs(method, lossLayout, seed: seed, large: large)
    }

    private static func inputs(_ method: PluginMethod, _ layout: LossLayout, seed: UInt64, large: Bool) throws -> [Tensor] {
        let g = try RandomGenerator(seed: seed)
        let scale = large ? 8 : 1
        switch method.descriptor.kind {
        case .quantizer:
            // A conv-like weight: output channels with different ranges.
            let channels = 8 * scale
            let w = try Tensor.randn([channels, 4 * scale, 3, 3], generator: g)
            let ranges = try Tensor((0..<channels).map { Float(0.25 + 0.25 * Double($0 % 8)) }, shape: [channels, 1, 1, 1])
            return [try w * ranges]
        case .criterion:
            let shape = [8 * scale, 4 * scale, 3, 3]
            let w = try Tensor.randn(shape, generator: g)
            let grad = try Tensor.randn(shape, generator: g) * 0.1
            let aux = try Tensor.uniform([shape[0]], low: 0.1, high: 2, generator: g)
            return [w, grad, aux] + (try statistics(features: shape.dropFirst().reduce(1, *), generator: g))
        case .solver, .scaler, .factorizer:
            // A conv-like weight [out, in, 2, 2] and the statistics of its (unfolded) input: rows of
            // 32·scale weights, which split into the groups of every usual N:M pattern.
            let shape = [8 * scale, 8 * scale, 2, 2]
            let w = try Tensor.randn(shape, generator: g)
            return [w] + (try statistics(features: shape.dropFirst().reduce(1, *), generator: g))
        case .loss:
            let batch = 6 * scale
            let (studentShape, teacherShape) = lossShapes(method, layout, batch: batch, features: 1)
            var s = try Tensor.randn(studentShape, generator: g)
            var t = try Tensor.randn(teacherShape, generator: g) * 2
            // Rows of moderate contrast (every probability well above the finite differences' step).
            if layout == .attentionMaps { (s, t) = (try (s * 0.5).softmax(3), try t.softmax(3)) }
            let labels = try Tensor((0..<batch).map { Int64(($0 * 7 + Int(seed)) % 10) }, shape: [batch])
            return [s, t, labels]
        }
    }

    /// Calibration rows the checker's input statistics are taken over.
    static let statisticsRows = 64

    /// [1.2] The input statistics of a criterion's standard inputs (abs-max `[1, D]`, mean square
    /// `[1, D]`, Gram `[1, D, D]`, abs-mean `[1, D]`), computed from random rows whose features differ in scale (a
    /// few outlier features, as in real activations), so they are consistent with each other.
    static func statistics(features d: Int, generator g: RandomGenerator) throws -> [Tensor] {
        let scales = try Tensor((0..<d).map { Float($0 % 7 == 3 ? 8 : 0.5 + 0.1 * Double($0 % 5)) }, shape: [1, d])
        let x = try Tensor.randn([statisticsRows, d], generator: g) * scales
        let n = Double(statisticsRows)
        return [try x.abs().max([0]).reshaped([1, d]), try (x.squared().sum([0]) / n).reshaped([1, d]),
                try (x.transposed(0, 1).matmul(x) / n).reshaped([1, d, d]), try (x.abs().sum([0]) / n).reshaped([1, d])]
    }

    /// Student and teacher shapes of the loss's category; `features` 0 gives one element each.
    private static func lossShapes(_ method: PluginMethod, _ layout: LossLayout, batch: Int, features: Int) -> ([Int], [Int]) {
        if layout == .attentionMaps { return features > 0 ? ([batch, 4, 5, 5], [batch, 4, 5, 5]) : ([batch, 1, 1, 1], [batch, 1, 1, 1]) }
        guard features > 0 else {
            return method.descriptor.lossCategory == .feature ? ([batch, 1, 1, 1], [batch, 1, 1, 1]) : ([batch, 1], [batch, 1])
        }
        switch method.descriptor.lossCategory {
        case .feature: return ([batch, 4, 3, 3], [batch, 4, 3, 3])
        case .relation: return ([batch, 12], [batch, 20])
        default: return ([batch, 10], [batch, 10])
        }
    }

    /// An input the checker tries besides the random ones.
    struct EdgeCase {
        var name: String
        /// Whether the method may decline it (a non-OK status with a reason) instead of computing it.
        var mayDecline: Bool
        var inputs: [Tensor]
    }

    /// Values a trained, pruned or quantized network produces (an all-zero channel, zeros,
    /// constants, subnormals), which a method must compute, and the limits of the kind's shapes
    /// and of float32 (one element, ±1e30), which it may decline with a reason.
    func edgeCases() throws -> [EdgeCase] {
        let standard = try inputs(seed: 7)
        let kind = method.descriptor.kind
        // Float tensors: the quantizer's input; the criterion's weight, gradient, aux and input
        // statistics (abs-max, mean square, Gram, abs-mean); the solver's or scaler's weight and input statistics; the
        // loss's student and teacher (labels stay). The first is the primary operand.
        let floats = switch kind {
        case .quantizer: [0]
        case .criterion: [0, 1, 2, 3, 4, 5, 6]
        case .solver, .scaler, .factorizer: [0, 1, 2, 3, 4]
        case .loss: [0, 1]
        }
        // The channel: dimension 0 of weights (and aux), dimension 1 of activations.
        let channelAxis = kind == .loss ? 1 : 0
        func transformed(_ f: (_ index: Int, _ values: [Float], _ shape: [Int]) -> [Float]) throws -> [Tensor] {
            try standard.enumerated().map { index, tensor in
                guard floats.contains(index) else { return tensor }
                return try Tensor(f(index, try tensor.scalars(as: Float.self), tensor.shape), shape: tensor.shape)
            }
        }
        func zeroChannel(_ values: [Float], _ shape: [Int]) -> [Float] {
            let axis = Swift.min(channelAxis, shape.count - 1)
            let inner = shape[(axis + 1)...].reduce(1, *), extent = shape[axis]
            var result = values
            for i in result.indices where (i / inner) % extent == 1 { result[i] = 0 }
            return result
        }
        let one: [Tensor]
        switch kind {
        case .quantizer:
            one = [try Tensor([Float(0.5)], shape: [1, 1, 1, 1])]
        case .criterion:
            one = [try Tensor([Float(0.5)], shape: [1, 1, 1, 1]), try Tensor([Float(0.05)], shape: [1, 1, 1, 1]),
                   try Tensor([Float(1)], shape: [1]), try Tensor([Float(2)], shape: [1, 1]), try Tensor([Float(1.5)], shape: [1, 1]),
                   try Tensor([Float(1.5)], shape: [1, 1, 1]), try Tensor([Float(1)], shape: [1, 1])]
        case .solver, .scaler, .factorizer:
            one = [try Tensor([Float(0.5)], shape: [1, 1, 1, 1]), try Tensor([Float(2)], shape: [1, 1]), try Tensor([Float(1.5)], shape: [1, 1]),
                   try Tensor([Float(1.5)], shape: [1, 1, 1]), try Tensor([Float(1)], shape: [1, 1])]
        case .loss:
            let (s, t) = Self.lossShapes(method, lossLayout, batch: 1, features: 0)
            one = [try Tensor([Float(0.5)], shape: s), try Tensor([Float(0.25)], shape: t), try Tensor([Int64(0)], shape: [1])]
        }
        return [
            EdgeCase(name: "all-zero channel", mayDecline: false, inputs: try transformed { _, v, shape in zeroChannel(v, shape) }),
            EdgeCase(name: "zeros", mayDecline: false, inputs: try transformed { _, v, _ in v.map { _ in 0 } }),
            EdgeCase(name: "constant", mayDecline: false, inputs: try transformed { _, v, _ in v.map { _ in 0.75 } }),
            EdgeCase(name: "subnormal", mayDecline: false, inputs: try transformed { i, v, _ in i == 0 ? v.map { $0 * (Float.leastNormalMagnitude / 64) } : v }),
            EdgeCase(name: "one-element", mayDecline: true, inputs: one),
            EdgeCase(name: "±1e30", mayDecline: true, inputs: try transformed { i, v, _ in i == 0 ? v.map { $0 < 0 ? -1e30 : 1e30 } : v }),
        ]
    }
}
