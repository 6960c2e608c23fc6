import LatheTensor

/// Builds a `GraphProgram` node by node, tracking every value's shape (`-1`: the batch). Values
/// are named after the nodes that compute them.
struct ProgramBuilder {
    private(set) var nodes: [GraphNode] = []
    private var shapes: [String: [Int]]
    let input = "input"

    init(inputShape: [Int]) { shapes = [input: inputShape] }

    func shape(_ value: String) -> [Int] { shapes[value] ?? [] }

    private mutating func add(_ name: String, _ op: GraphOp, _ inputs: [String], _ shape: [Int]) -> String {
        nodes.append(GraphNode(name: name, op: op, inputs: inputs, output: name, shape: shape))
        shapes[name] = shape
        return name
    }

    /// A square conv with "same" padding for odd kernels.
    mutating func conv(_ layer: String, _ x: String, _ out: Int, kernel: Int, stride: Int = 1, bias: Bool) -> String {
        let s = shape(x)
        let size = { (n: Int) in (n + 2 * (kernel / 2) - kernel) / stride + 1 }
        return add(layer, .conv(layer: layer, inChannels: s[1], outChannels: out, kernel: kernel, stride: stride, padding: kernel / 2, groups: 1, bias: bias),
                   [x], [-1, out, size(s[2]), size(s[3])])
    }

    mutating func batchNorm(_ layer: String, _ x: String) -> String {
        add(layer, .batchNorm(layer: layer, channels: shape(x)[1], eps: 1e-5), [x], shape(x))
    }

    mutating func relu(_ name: String, _ x: String) -> String { add(name, .relu, [x], shape(x)) }

    mutating func sum(_ name: String, _ a: String, _ b: String) -> String { add(name, .add, [a, b], shape(a)) }

    mutating func upsample(_ name: String, _ x: String, _ scale: Int) -> String {
        let s = shape(x)
        return add(name, .upsample(scale: scale), [x], [s[0], s[1], s[2] * scale, s[3] * scale])
    }

    /// conv (no bias) + batch norm + ReLU, named `<p>.conv`, `<p>.bn`, `<p>.relu`.
    mutating func convBNReLU(_ p: String, _ x: String, _ out: Int, stride: Int = 1) -> String {
        relu("\(p).relu", batchNorm("\(p).bn", conv("\(p).conv", x, out, kernel: 3, stride: stride, bias: false)))
    }

    func program(name: String, output: String) -> GraphProgram {
        GraphProgram(name: name, input: input, inputShape: shape(input), output: output, nodes: nodes)
    }
}

/// The zoo's dense-prediction models: one backbone of five levels (strides 1, 2, 4, 8, 16), a
/// feature-pyramid neck (Lin et al. 2017: 1×1 laterals, nearest ×2 top-down, summed; the sums
/// `neck.p{i}` are the pyramid levels, tappable for feature distillation) and a task head. Built
/// as graph programs, so their channel dependencies are derived from the dataflow like an
/// imported model's (the pyramid's summed laterals prune as one group).
extension ZooBuilder {
    /// Channels of the backbone's levels 0–4 and how many 3×3 convs each level has.
    private var backboneWidths: [(channels: Int, convs: Int)] { [(w(16), 1), (w(24), 1), (w(32), 2), (w(64), 2), (w(128), 2)] }

    /// Runs the backbone; returns the output value of every level.
    private func backbone(_ b: inout ProgramBuilder) -> [String] {
        var x = b.input
        var levels: [String] = []
        for (level, spec) in backboneWidths.enumerated() {
            let p = level == 0 ? "stem" : "stage\(level)"
            for i in 0..<spec.convs {
                x = b.convBNReLU(spec.convs == 1 ? p : "\(p).\(i)", x, spec.channels, stride: level > 0 && i == 0 ? 2 : 1)
            }
            levels.append(x)
        }
        return levels
    }

    /// The top-down pyramid from level 4 to `lowest`, `width` channels; returns `neck.p{lowest}`.
    private func pyramid(_ b: inout ProgramBuilder, _ levels: [String], lowest: Int, width: Int) -> String {
        var p = b.conv("neck.lateral4", levels[4], width, kernel: 1, bias: true)
        for level in stride(from: 3, through: lowest, by: -1) {
            let lateral = b.conv("neck.lateral\(level)", levels[level], width, kernel: 1, bias: true)
            p = b.sum("neck.p\(level)", b.upsample("neck.up\(level)", p, 2), lateral)
        }
        return p
    }

    private func checkSize(_ name: String) throws {
        guard s % 16 == 0 else {
            throw ModelError.invalidOption("\(name) needs an image size that is a multiple of 16 (its backbone has stride 16); got \(s)")
        }
    }

    /// CenterNet ("Objects as Points", Zhou et al. 2019) on the pyramid's stride-4 level: per
    /// output pixel, `classes` centre-heatmap logits, then the box size (w, h) and the centre's
    /// sub-pixel offset (dx, dy), both in output pixels: `[N, classes + 4, H/4, W/4]`.
    func centernet() throws -> Model {
        try checkSize("centernet")
        var b = ProgramBuilder(inputShape: [-1, c, s, s])
        let levels = backbone(&b)
        let neck = b.convBNReLU("neck.smooth", pyramid(&b, levels, lowest: 2, width: w(64)), w(64))
        let hidden = b.relu("head.relu", b.conv("head.conv", neck, w(64), kernel: 3, bias: true))
        let out = b.conv("head.out", hidden, classes + 4, kernel: 1, bias: true)
        let model = try Model.make(program: b.program(name: "centernet", output: out), options: options, architecture: "centernet",
                                   initialization: initialization)
        // The heatmap logits start at the focal-loss prior π = 0.1 (b = −log((1 − π) / π) ≈ −2.19), as
        // CenterNet and RetinaNet do: a head that starts at p = 0.5 everywhere drowns in background loss.
        if case .uniform = initialization, let head = model.layer(named: "head.out") as? Conv2d, let bias = head.bias {
            var values = try bias.detached().scalars(as: Float.self)
            for i in 0..<classes { values[i] = -2.19 }
            try head.replace("bias", with: Tensor(values, shape: [classes + 4]).requiringGrad())
        }
        return model
    }

    /// A feature-pyramid segmenter: the detector's pyramid and smoothing conv at stride 4 give
    /// class scores there (the semantic head of Panoptic FPN, Kirillov et al. 2019), upsampled ×4
    /// and summed with class scores from the stem's stride-1 features (FCN's skip fusion of scores,
    /// Long et al. 2015), `[N, classes, H, W]` per-pixel logits (class 0: background). The deep
    /// path decides which item a pixel belongs to, the stride-1 skip where the item's edge lies:
    /// summing the pyramid's laterals down to stride 1 before one 1×1 classifier (this model
    /// until issue 17's measurement) let the shallow levels' texture vote on the class, and
    /// scored 62 % mIoU with a background IoU of 99.9 % and trousers at 76 %.
    func fpnSegmenter() throws -> Model {
        try checkSize("fpn-seg")
        var b = ProgramBuilder(inputShape: [-1, c, s, s])
        let levels = backbone(&b)
        let neck = b.convBNReLU("neck.smooth", pyramid(&b, levels, lowest: 2, width: w(64)), w(64))
        let coarse = b.upsample("head.up", b.conv("head.out", neck, classes, kernel: 1, bias: true), 4)
        let out = b.sum("head.sum", coarse, b.conv("head.skip", levels[0], classes, kernel: 1, bias: true))
        return try Model.make(program: b.program(name: "fpn-seg", output: out), options: options,
                              architecture: "fpn-seg", initialization: initialization)
    }
}
