import Foundation
import LathePlugins
import LatheTensor
import Testing

/// Golden values: every first-party distillation loss (the C `distill` plugin and the Swift
/// `kd` plugin, loaded from the registry) against a reference written here with libtorch's
/// autograd ops in float64 — the loss value and the gradient from `backward()`.
@Suite("distillation loss golden values")
struct LossGoldenTests {
    /// Calls `id` on float32 `student`/`teacher`, runs `reference` on float64 leaves, and
    /// compares loss and gradient.
    func check(_ id: String, params: [String: HyperValue] = [:], student: Tensor, teacher: Tensor, labels: Tensor? = nil,
               rtol: Double = 2e-6, reference: (Tensor, Tensor, Tensor) throws -> Tensor,
               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let method = try Support.method(id)
        let y = try labels ?? Support.labels(student.shape[0])
        let (loss, gradient) = try method.loss(student: student, teacher: teacher, labels: y, params: try method.bind(params))
        let s = try Support.leaf64(student)
        let t = try teacher.converted(to: .float64)
        let expected = try reference(s, t, y)
        try expected.backward()
        let grad = try #require(s.grad, "\(id): the reference produced no gradient")
        Support.expectClose(loss, try expected.item(), "\(id) loss", sourceLocation: sourceLocation)
        try Support.expectClose(gradient, grad, rtol: rtol, "\(id) gradient", sourceLocation: sourceLocation)
    }

    // MARK: kd/hinton (Swift plugin)

    @Test(arguments: [(4.0, 0.9), (1.0, 0.5), (8.0, 1.0)])
    func hinton(temperature: Double, alpha: Double) throws {
        let s = try Support.randn([8, 10], seed: 1, scale: 3), t = try Support.randn([8, 10], seed: 2, scale: 4)
        try check("kd/hinton", params: ["temperature": .double(temperature), "alpha": .double(alpha)], student: s, teacher: t) { s, t, y in
            // The plugin declares both as f32: the reference uses the same rounded values.
            let T = Double(Float(temperature)), a = Double(Float(alpha))
            let kl = try (s / T).logSoftmax(1).klDivergence(target: try (t / T).softmax(1))
            return try kl * (a * T * T) + (try s.crossEntropy(labels: y)) * (1 - a)
        }
    }

    // MARK: distill/dkd

    /// The authors' dkd_loss (mdistiller) transcribed: TCKD from the (target, rest) split of both
    /// softmaxes, NCKD from the softmaxes with the target logit pushed down by 1000, both × T².
    /// Outside training (the host's default context) there is no warm-up factor.
    @Test(arguments: [(1.0, 8.0, 4.0), (0.5, 2.0, 1.0)])
    func dkd(alpha: Double, beta: Double, temperature: Double) throws {
        let s = try Support.randn([8, 10], seed: 21, scale: 3), t = try Support.randn([8, 10], seed: 22, scale: 4)
        let params: [String: HyperValue] = ["alpha": .double(alpha), "beta": .double(beta), "temperature": .double(temperature)]
        try check("distill/dkd", params: params, student: s, teacher: t) { s, t, y in
            // The plugin declares them as f32: the reference uses the same rounded values.
            let T = Double(Float(temperature)), a = Double(Float(alpha)), b = Double(Float(beta))
            let labels = try y.scalars(as: Int64.self)
            let mask = try Tensor((0..<80).map { labels[$0 / 10] == Int64($0 % 10) ? 1.0 : 0.0 } as [Double], shape: [8, 10])
            let ps = try (s / T).softmax(1), pt = try (t / T).softmax(1)
            let sg = try (ps * mask).sum([1]), sn = try (ps * (1.0 - mask)).sum([1])
            let tg = try (pt * mask).sum([1]), tn = try (pt * (1.0 - mask)).sum([1])
            let tckd = try (tg * (tg.log() - sg.log()) + tn * (tn.log() - sn.log())).sum() / 8
            let nckd = try (s / T - mask * 1000).logSoftmax(1).klDivergence(target: try (t / T - mask * 1000).softmax(1))
            return try (tckd * a + nckd * b) * (T * T)
        }
    }

    // MARK: distill/hint

    @Test func hint() throws {
        let s = try Support.randn([5, 4, 3, 3], seed: 3), t = try Support.randn([5, 4, 3, 3], seed: 4, scale: 2)
        try check("distill/hint", student: s, teacher: t) { s, t, _ in try s.mseLoss(t) }
    }

    @Test func hintOnVectors() throws {
        let s = try Support.randn([7, 12], seed: 5), t = try Support.randn([7, 12], seed: 6)
        try check("distill/hint", student: s, teacher: t) { s, t, _ in try s.mseLoss(t) }
    }

    // MARK: distill/attention

    /// Zagoruyko & Komodakis' attention map: sum_c |f|^p, pooled to (h, w), L2-normalised
    /// per sample (torch's F.normalize), as [B, h*w].
    static func attentionMap(_ f: Tensor, p: Double, to size: (Int, Int)? = nil) throws -> Tensor {
        var q = try f.abs().pow(p).sum([1])                                   // [B, H, W]
        if let (h, w) = size { q = try q.unsqueezed(1).adaptiveAvgPool2d(h, w).squeezed(1) }
        let flat = try q.flattened(from: 1)
        return try flat / flat.norm([1], keepDim: true).maximum(1e-12)
    }

    @Test(arguments: [2.0, 1.5, 3.0])
    func attentionSameSpatialSize(p: Double) throws {
        // Different channel counts (3 vs 8): category relation, no adapter needed.
        let s = try Support.randn([4, 3, 6, 6], seed: 7), t = try Support.randn([4, 8, 6, 6], seed: 8)
        try check("distill/attention", params: ["p": .double(p)], student: s, teacher: t) { s, t, _ in
            let d = try Self.attentionMap(s, p: p) - Self.attentionMap(t, p: p)
            return try d.squared().sum() / 4
        }
    }

    @Test func attentionPoolsTheLargerMap() throws {
        // Student 7×7 (smaller), teacher 10×10: the teacher's map is pooled to 7×7 (windows overlap).
        let s = try Support.randn([3, 2, 7, 7], seed: 9), t = try Support.randn([3, 5, 10, 10], seed: 10)
        try check("distill/attention", student: s, teacher: t) { s, t, _ in
            let d = try Self.attentionMap(s, p: 2) - Self.attentionMap(t, p: 2, to: (7, 7))
            return try d.squared().sum() / 3
        }
        // Student larger than the teacher: the gradient flows back through the student's pooling.
        let s2 = try Support.randn([3, 2, 9, 6], seed: 11), t2 = try Support.randn([3, 4, 4, 6], seed: 12)
        try check("distill/attention", student: s2, teacher: t2) { s, t, _ in
            let d = try Self.attentionMap(s, p: 2, to: (4, 6)) - Self.attentionMap(t, p: 2)
            return try d.squared().sum() / 3
        }
    }

    @Test func attentionOnVectorsIsOneChannel() throws {
        // [B, D] reads as one channel of D positions; 12 vs 20 positions pool the teacher to 12.
        let s = try Support.randn([6, 12], seed: 13), t = try Support.randn([6, 20], seed: 14)
        try check("distill/attention", student: s, teacher: t) { s, t, _ in
            let a = try Self.attentionMap(s.reshaped([6, 1, 1, 12]), p: 2)
            let b = try Self.attentionMap(t.reshaped([6, 1, 1, 20]), p: 2, to: (1, 12))
            return try (a - b).squared().sum() / 6
        }
    }

    // MARK: distill/rkd-distance and rkd-angle

    /// Pairwise distances [B, B] with a zero diagonal (sqrt kept away from 0 there so the
    /// reference gradient is finite), normalised by their mean over the B(B−1) ordered pairs.
    static func normalizedDistances(_ x: Tensor) throws -> Tensor {
        let b = x.shape[0]
        let flat = try x.flattened(from: 1)
        let diff = try flat.unsqueezed(0) - flat.unsqueezed(1)
        let eye = try Support.eye(b)
        let d = try (diff.squared().sum([2]) + eye).sqrt() * (1.0 - eye)
        let mu = try d.sum() / Double(b * (b - 1))
        return try d / mu
    }

    @Test func rkdDistance() throws {
        let s = try Support.randn([6, 5], seed: 15), t = try Support.randn([6, 9], seed: 16, scale: 2)
        try check("distill/rkd-distance", student: s, teacher: t) { s, t, _ in
            try Support.huber(Self.normalizedDistances(s) - Self.normalizedDistances(t)).sum() / 36
        }
        // Both Huber branches: a teacher whose relative distances differ a lot.
        let far = try Tensor([0, 0, 10, 0, 0.1, 0.1, 0, 10, 0.2, 0, 0.3, 0.2] as [Float], shape: [6, 2])
        try check("distill/rkd-distance", student: s.narrowed(1, start: 0, length: 3), teacher: far) { s, t, _ in
            try Support.huber(Self.normalizedDistances(s) - Self.normalizedDistances(t)).sum() / 36
        }
    }

    @Test func rkdDistanceOnFeatureMaps() throws {
        let s = try Support.randn([5, 2, 3, 3], seed: 17), t = try Support.randn([5, 4, 2, 2], seed: 18)
        try check("distill/rkd-distance", student: s, teacher: t) { s, t, _ in
            try Support.huber(Self.normalizedDistances(s) - Self.normalizedDistances(t)).sum() / 25
        }
    }

    /// cos[a, i, k] = <n(x_i − x_a), n(x_k − x_a)> for all B³ triplets (zero vectors → 0).
    static func angles(_ x: Tensor) throws -> Tensor {
        let b = x.shape[0]
        let flat = try x.flattened(from: 1)
        let diff = try flat.unsqueezed(0) - flat.unsqueezed(1)           // [a, i] = x_i − x_a
        let norm = try (diff.squared().sum([2], keepDim: true) + Support.eye(b).unsqueezed(2)).sqrt()
        let unit = try diff / norm
        return try unit.matmul(unit.transposed(1, 2))
    }

    @Test func rkdAngle() throws {
        let s = try Support.randn([6, 4], seed: 19), t = try Support.randn([6, 7], seed: 20)
        try check("distill/rkd-angle", student: s, teacher: t) { s, t, _ in
            try Support.huber(Self.angles(s) - Self.angles(t)).sum() / 216
        }
        let s2 = try Support.randn([5, 3, 2, 2], seed: 21), t2 = try Support.randn([5, 10], seed: 22)
        try check("distill/rkd-angle", student: s2, teacher: t2) { s, t, _ in
            try Support.huber(Self.angles(s) - Self.angles(t)).sum() / 125
        }
    }

    // MARK: distill/sp

    /// Row-normalised Gram matrix (torch's F.normalize on G = F Fᵀ).
    static func similarity(_ x: Tensor) throws -> Tensor {
        let f = try x.flattened(from: 1)
        let g = try f.matmul(f.transposed(0, 1))
        return try g / g.norm([1], keepDim: true).maximum(1e-12)
    }

    @Test func similarityPreserving() throws {
        let s = try Support.randn([8, 6], seed: 23), t = try Support.randn([8, 11], seed: 24)
        try check("distill/sp", student: s, teacher: t) { s, t, _ in
            try (Self.similarity(s) - Self.similarity(t)).squared().sum() / 64
        }
        let s2 = try Support.randn([4, 3, 2, 2], seed: 25).relu(), t2 = try Support.randn([4, 6, 2, 2], seed: 26).relu()
        try check("distill/sp", student: s2, teacher: t2) { s, t, _ in
            try (Self.similarity(s) - Self.similarity(t)).squared().sum() / 16
        }
    }

    // MARK: distill/cwd

    /// mmrazor's ChannelWiseDivergence transcribed: per (sample, channel), the teacher's softmax
    /// over positions against the student's log-softmax, × τ² / (B C).
    @Test(arguments: [1.0, 4.0, 0.5])
    func channelWise(temperature: Double) throws {
        let s = try Support.randn([3, 4, 5, 6], seed: 29, scale: 3), t = try Support.randn([3, 4, 5, 6], seed: 30, scale: 4)
        try check("distill/cwd", params: ["temperature": .double(temperature)], student: s, teacher: t) { s, t, _ in
            let T = Double(Float(temperature))
            let q = try (t.flattened(from: 2) / T).softmax(2)
            let kl = try q * ((t.flattened(from: 2) / T).logSoftmax(2) - (s.flattened(from: 2) / T).logSoftmax(2))
            return try kl.sum() * (T * T / 12)
        }
        // A 1-D map ([B, C, L]) is a distribution over its L positions too.
        let s1 = try Support.randn([2, 3, 7], seed: 31), t1 = try Support.randn([2, 3, 7], seed: 32)
        try check("distill/cwd", params: ["temperature": .double(temperature)], student: s1, teacher: t1) { s, t, _ in
            let T = Double(Float(temperature))
            let kl = try (t / T).softmax(2) * ((t / T).logSoftmax(2) - (s / T).logSoftmax(2))
            return try kl.sum() * (T * T / 6)
        }
    }

    @Test func channelWiseRefusesVectorsAndUnequalShapes() throws {
        let cwd = try Support.method("distill/cwd")
        let vectors = #expect(throws: PluginError.self) {
            _ = try cwd.loss(student: try Support.randn([2, 5], seed: 1), teacher: try Support.randn([2, 5], seed: 2),
                             labels: try Support.labels(2), params: try cwd.bind())
        }
        #expect(vectors?.message.contains("3 to 8 dimensions") == true, "\(vectors?.message ?? "")")
        let unequal = #expect(throws: PluginError.self) {
            _ = try cwd.loss(student: try Support.randn([2, 3, 4, 4], seed: 1), teacher: try Support.randn([2, 3, 2, 2], seed: 2),
                             labels: try Support.labels(2), params: try cwd.bind())
        }
        #expect(unequal?.message.contains("[2, 3, 2, 2]") == true, "\(unequal?.message ?? "")")
    }

    // MARK: Policies shared by the distill plugin

    @Test(arguments: ["distill/hint", "distill/attention", "distill/cwd", "distill/rkd-distance", "distill/rkd-angle", "distill/sp"])
    func labelsAreIgnored(id: String) throws {
        let method = try Support.method(id)
        let s = try Support.randn([5, 4, 3, 3], seed: 27), t = try Support.randn([5, 4, 3, 3], seed: 28)
        let params = try method.bind()
        let a = try method.loss(student: s, teacher: t, labels: Support.labels(5), params: params)
        let b = try method.loss(student: s, teacher: t, labels: try Tensor([Int64](repeating: 0, count: 5), shape: [5]), params: params)
        #expect(a.loss == b.loss)
        #expect(try a.gradient.scalars(as: Float.self) == b.gradient.scalars(as: Float.self))
    }

    @Test func shapeErrorsNameTheShapes() throws {
        let attention = try Support.method("distill/attention")
        let error = #expect(throws: PluginError.self) {
            _ = try attention.loss(student: try Support.randn([2, 3, 4, 4], seed: 1), teacher: try Support.randn([2, 12], seed: 2),
                                   labels: try Support.labels(2), params: try attention.bind())
        }
        #expect(error?.message.contains("same rank") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("[2, 3, 4, 4]") == true, "\(error?.message ?? "")")
        let nan = try Tensor([Float.nan, 1, 2, 3], shape: [2, 2])
        let sp = try Support.method("distill/sp")
        let refused = #expect(throws: PluginError.self) {
            _ = try sp.loss(student: nan, teacher: try Support.randn([2, 2], seed: 3), labels: try Support.labels(2), params: try sp.bind())
        }
        #expect(refused?.message.contains("NaN") == true, "\(refused?.message ?? "")")
    }

    @Test func singleSampleBatchesGiveZeroRelationLoss() throws {
        for id in ["distill/rkd-distance", "distill/rkd-angle"] {
            let method = try Support.method(id)
            let (loss, gradient) = try method.loss(student: try Support.randn([1, 5], seed: 4), teacher: try Support.randn([1, 3], seed: 5),
                                                   labels: try Support.labels(1), params: try method.bind())
            #expect(loss == 0, "\(id)")
            #expect(try gradient.scalars(as: Float.self).allSatisfy { $0 == 0 }, "\(id)")
        }
    }
}
