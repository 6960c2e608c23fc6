import LatheTensor

/// The model zoo: architectures by name.
public enum Zoo {
    /// Every architecture name, with a one-line description.
    public static let catalog: [(name: String, summary: String)] = [
        ("mlp", "LeNet-300-100: 784-300-100-10 fully connected (LeCun 1998; Han 2015's pruning benchmark)"),
        ("lenet5", "LeNet-5: conv6-pool-conv16-pool-fc120-fc84 with ReLU and max pooling (LeCun 1998)"),
        ("convnet", "2 conv (32, 64; 3×3) + pool + FC128, the Fashion-MNIST benchmark's 2-conv net"),
        ("resnet8", "ResNet-8 for small images: 16-32-64 channels, one basic block per stage, batch norm (He 2016)"),
        ("resnet20", "ResNet-20: three basic blocks per stage (He 2016, CIFAR variant)"),
        ("mobilenet", "MobileNet-style depthwise-separable net: 32-64-128-128-256-256 channels (Howard 2017)"),
    ]

    /// Architecture names.
    public static var names: [String] { catalog.map(\.name) }

    /// A freshly initialised model; the same seed gives the same weights.
    public static func make(_ name: String, options: ModelOptions = ModelOptions(), seed: UInt64 = 0) throws -> Model {
        guard options.width > 0, options.width <= 16 else {
            throw ModelError.invalidOption("width multiplier \(options.width) is out of range (0, 16]")
        }
        guard options.inputChannels > 0, options.classCount > 1 else {
            throw ModelError.invalidOption("need at least 1 input channel and 2 classes (got \(options.inputChannels), \(options.classCount))")
        }
        guard options.imageSize >= 16 else {
            throw ModelError.invalidOption("image size \(options.imageSize) is too small; the zoo expects at least 16×16")
        }
        let generator = try RandomGenerator(seed: seed)
        let builder = ZooBuilder(options: options, generator: generator)
        switch name {
        case "mlp": return try builder.mlp()
        case "lenet5": return try builder.lenet5()
        case "convnet": return try builder.convnet()
        case "resnet8": return try builder.resnet(blocksPerStage: 1, name: name)
        case "resnet20": return try builder.resnet(blocksPerStage: 3, name: name)
        case "mobilenet": return try builder.mobilenet()
        default: throw ModelError.unknownModel(name, known: names)
        }
    }
}
