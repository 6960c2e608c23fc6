import LatheTensor

/// Builds the zoo's architectures with their layer names and channel groups.
struct ZooBuilder {
    let options: ModelOptions
    let initialization: Initialization

    var c: Int { options.inputChannels }
    var s: Int { options.imageSize }
    var classes: Int { options.classCount }
    func w(_ base: Int) -> Int { options.scaled(base) }

    private func conv(_ name: String, _ i: Int, _ o: Int, _ k: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true) throws -> Conv2d {
        try Conv2d(name, i, o, kernel: k, stride: stride, padding: padding, groups: groups, bias: bias, initialization: initialization)
    }
    private func fc(_ name: String, _ i: Int, _ o: Int) throws -> Linear { try Linear(name, i, o, initialization: initialization) }

    func mlp() throws -> Model {
        let h1 = w(300), h2 = w(100)
        let root = Sequential("", [
            Stateless("flatten", .flatten),
            try fc("fc1", c * s * s, h1), Stateless("relu1", .relu),
            try fc("fc2", h1, h2), Stateless("relu2", .relu),
            try fc("fc3", h2, classes),
        ])
        return Model(architecture: "mlp", options: options, root: root, channelGroups: [
            ChannelGroup(producer: "fc1", coupled: [], consumers: [.init(layer: "fc2", inputsPerChannel: 1)]),
            ChannelGroup(producer: "fc2", coupled: [], consumers: [.init(layer: "fc3", inputsPerChannel: 1)]),
        ])
    }

    func lenet5() throws -> Model {
        let c1 = w(6), c2 = w(16), f1 = w(120), f2 = w(84)
        let spatial = (s / 2 - 4) / 2
        let root = Sequential("", [
            try conv("conv1", c, c1, 5, padding: 2), Stateless("relu1", .relu), Stateless("pool1", .maxPool(kernel: 2, stride: 2)),
            try conv("conv2", c1, c2, 5), Stateless("relu2", .relu), Stateless("pool2", .maxPool(kernel: 2, stride: 2)),
            Stateless("flatten", .flatten),
            try fc("fc1", c2 * spatial * spatial, f1), Stateless("relu3", .relu),
            try fc("fc2", f1, f2), Stateless("relu4", .relu),
            try fc("fc3", f2, classes),
        ])
        return Model(architecture: "lenet5", options: options, root: root, channelGroups: [
            ChannelGroup(producer: "conv1", coupled: [], consumers: [.init(layer: "conv2", inputsPerChannel: 1)]),
            ChannelGroup(producer: "conv2", coupled: [], consumers: [.init(layer: "fc1", inputsPerChannel: spatial * spatial)]),
            ChannelGroup(producer: "fc1", coupled: [], consumers: [.init(layer: "fc2", inputsPerChannel: 1)]),
            ChannelGroup(producer: "fc2", coupled: [], consumers: [.init(layer: "fc3", inputsPerChannel: 1)]),
        ])
    }

    func convnet() throws -> Model {
        let c1 = w(32), c2 = w(64), f1 = w(128)
        let spatial = s / 4
        let root = Sequential("", [
            try conv("conv1", c, c1, 3, padding: 1), Stateless("relu1", .relu), Stateless("pool1", .maxPool(kernel: 2, stride: 2)),
            try conv("conv2", c1, c2, 3, padding: 1), Stateless("relu2", .relu), Stateless("pool2", .maxPool(kernel: 2, stride: 2)),
            Stateless("flatten", .flatten),
            try fc("fc1", c2 * spatial * spatial, f1), Stateless("relu3", .relu),
            try fc("fc2", f1, classes),
        ])
        return Model(architecture: "convnet", options: options, root: root, channelGroups: [
            ChannelGroup(producer: "conv1", coupled: [], consumers: [.init(layer: "conv2", inputsPerChannel: 1)]),
            ChannelGroup(producer: "conv2", coupled: [], consumers: [.init(layer: "fc1", inputsPerChannel: spatial * spatial)]),
            ChannelGroup(producer: "fc1", coupled: [], consumers: [.init(layer: "fc2", inputsPerChannel: 1)]),
        ])
    }

    /// ResNet-(6n+2) for small images: a 3×3 stem and three stages of n basic blocks.
    /// Only each block's inner channels form prunable groups: the residual stream's channels
    /// are shared by every block of a stage.
    func resnet(blocksPerStage n: Int, name: String) throws -> Model {
        let widths = [w(16), w(32), w(64)]
        var layers: [any Layer] = [
            try conv("stem.conv", c, widths[0], 3, padding: 1, bias: false),
            try BatchNorm2d("stem.bn", widths[0]), Stateless("stem.relu", .relu),
        ]
        var groups: [ChannelGroup] = []
        var inChannels = widths[0]
        for (stage, out) in widths.enumerated() {
            for b in 0..<n {
                let stride = (stage > 0 && b == 0) ? 2 : 1
                let p = "layer\(stage + 1).\(b)"
                let body = Sequential("\(p).body", [
                    try conv("\(p).conv1", inChannels, out, 3, stride: stride, padding: 1, bias: false),
                    try BatchNorm2d("\(p).bn1", out), Stateless("\(p).relu1", .relu),
                    try conv("\(p).conv2", out, out, 3, padding: 1, bias: false),
                    try BatchNorm2d("\(p).bn2", out),
                ])
                let shortcut = (stride != 1 || inChannels != out) ? Sequential("\(p).shortcut", [
                    try conv("\(p).shortcut.conv", inChannels, out, 1, stride: stride, bias: false),
                    try BatchNorm2d("\(p).shortcut.bn", out),
                ]) : nil
                layers.append(Residual(p, body: body, shortcut: shortcut))
                groups.append(ChannelGroup(producer: "\(p).conv1", coupled: ["\(p).bn1"], consumers: [.init(layer: "\(p).conv2", inputsPerChannel: 1)]))
                inChannels = out
            }
        }
        layers += [Stateless("pool", .globalAvgPool), Stateless("flatten", .flatten), try fc("fc", inChannels, classes)]
        return Model(architecture: name, options: options, root: Sequential("", layers), channelGroups: groups)
    }

    /// Depthwise-separable blocks (3×3 depthwise + BN + ReLU6, 1×1 pointwise + BN + ReLU6).
    func mobilenet() throws -> Model {
        let plan: [(out: Int, stride: Int)] = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]
        let stem = w(32)
        var layers: [any Layer] = [
            try conv("stem.conv", c, stem, 3, padding: 1, bias: false), try BatchNorm2d("stem.bn", stem), Stateless("stem.relu", .relu6),
        ]
        var groups: [ChannelGroup] = []
        var producer = "stem.conv", producerBN = "stem.bn"
        var inChannels = stem
        for (i, step) in plan.enumerated() {
            let p = "block\(i + 1)"
            let out = w(step.out)
            layers += [
                try conv("\(p).dw", inChannels, inChannels, 3, stride: step.stride, padding: 1, groups: inChannels, bias: false),
                try BatchNorm2d("\(p).dwbn", inChannels), Stateless("\(p).dwrelu", .relu6),
                try conv("\(p).pw", inChannels, out, 1, bias: false),
                try BatchNorm2d("\(p).pwbn", out), Stateless("\(p).pwrelu", .relu6),
            ]
            groups.append(ChannelGroup(
                producer: producer, coupled: [producerBN, "\(p).dw", "\(p).dwbn"],
                consumers: [.init(layer: "\(p).pw", inputsPerChannel: 1)]))
            producer = "\(p).pw"
            producerBN = "\(p).pwbn"
            inChannels = out
        }
        layers += [Stateless("pool", .globalAvgPool), Stateless("flatten", .flatten), try fc("fc", inChannels, classes)]
        groups.append(ChannelGroup(producer: producer, coupled: [producerBN], consumers: [.init(layer: "fc", inputsPerChannel: 1)]))
        return Model(architecture: "mobilenet", options: options, root: Sequential("", layers), channelGroups: groups)
    }
}
