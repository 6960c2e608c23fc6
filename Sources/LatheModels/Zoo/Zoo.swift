import Foundation
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
        ("vit-tiny", "ViT: 4×4 patches (49 tokens on 28×28), width 64, 4 pre-norm blocks of 4 heads, MLP ratio 2, class token (Dosovitskiy 2021)"),
        ("vit-small", "ViT: 4×4 patches, width 128, 6 pre-norm blocks of 4 heads, MLP ratio 2, class token (Dosovitskiy 2021)"),
        ("centernet", "Detector: 5-level conv backbone (16-24-32-64-128), FPN neck to stride 4, CenterNet head (heatmaps, size, offset) (Zhou 2019); fmnist-detect"),
        ("fpn-seg", "Segmenter: the same backbone, FPN neck down to stride 1, 1×1 per-pixel classifier (FCN / Panoptic-FPN style); fmnist-seg"),
    ]

    /// Architecture names.
    public static var names: [String] { catalog.map(\.name) }

    /// The dense-prediction architectures (a detector's maps, a segmenter's per-pixel logits):
    /// their input size must be a multiple of 16.
    public static let denseNames: Set<String> = ["centernet", "fpn-seg"]

    /// The options of the data set an architecture is made for: 96×96 canvases (10 box classes,
    /// or 11 pixel classes with the background) for the dense models, Fashion-MNIST otherwise.
    public static func defaultOptions(_ name: String) -> ModelOptions {
        switch name {
        case "centernet": ModelOptions(imageSize: 96, classCount: 10)
        case "fpn-seg": ModelOptions(imageSize: 96, classCount: 11)
        default: ModelOptions()
        }
    }

    /// The image classifiers (`[N, classes]` logits).
    public static var classifierNames: [String] { names.filter { !denseNames.contains($0) } }

    /// Whether the architecture's block count follows `ModelOptions.depth`.
    public static func acceptsDepth(_ name: String) -> Bool { name.hasPrefix("vit-") }

    /// A freshly initialised model; the same seed gives the same weights. A `name` ending in
    /// `.onnx` is a model file: imported with its own weights (the seed does not apply), and its
    /// input and classes must agree with `options`.
    public static func make(_ name: String, options: ModelOptions = ModelOptions(), seed: UInt64 = 0) throws -> Model {
        if isModelFile(name) { return try imported(name, options: options) }
        return try build(name, options: options, initialization: .uniform(RandomGenerator(seed: seed)))
    }

    /// Whether `name` names a model file rather than a zoo architecture.
    public static func isModelFile(_ name: String) -> Bool { name.lowercased().hasSuffix(".onnx") }

    /// Whether `name` is a zoo architecture or a model file (`.onnx`).
    public static func isKnown(_ name: String) -> Bool { names.contains(name) || isModelFile(name) }

    /// What a model key accepts, for schemas and messages.
    public static var modelDescription: String { "a zoo model (\(names.joined(separator: ", "))) or the path of an ONNX file (.onnx)" }

    /// Why `name` cannot be used as a model, or nil: not a zoo name, or a model file that does not exist.
    public static func problem(with name: String) -> String? {
        if names.contains(name) { return nil }
        guard isModelFile(name) else { return "'\(name)' is not \(modelDescription)" }
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: name, isDirectory: &folder), !folder.boolValue else {
            return "'\(name)' names a model file that does not exist"
        }
        return nil
    }

    /// A short label for output paths: the architecture, or a model file's base name.
    public static func label(_ name: String) -> String {
        guard isModelFile(name) else { return name }
        let base = name.split(separator: "/").last.map(String.init) ?? name
        return String(base.dropLast(".onnx".count))
    }

    /// Reads model files (`.onnx`). Set once at startup by the program that links an importer
    /// (the `lathe` executable), before any concurrent work.
    nonisolated(unsafe) public static var fileImporter: ((String) throws -> Model)?

    private static func imported(_ path: String, options: ModelOptions) throws -> Model {
        guard let fileImporter else { throw ModelError.invalidOption("model file '\(path)': this program cannot import model files") }
        let model = try fileImporter(path)
        let o = model.options
        guard o.inputChannels == options.inputChannels, o.imageSize == options.imageSize, o.classCount == options.classCount else {
            throw ModelError.invalidOption("model file '\(path)' takes \(o.inputChannels)×\(o.imageSize)×\(o.imageSize) images and has \(o.classCount) classes; the data set has \(options.inputChannels)×\(options.imageSize)×\(options.imageSize) images and \(options.classCount) classes")
        }
        guard options.width == 1, options.depth == nil else {
            throw ModelError.invalidOption("model file '\(path)': width and depth options apply to zoo architectures only")
        }
        return model
    }

    /// The architecture's layers with every tensor's shape and type but no storage (each is a
    /// broadcast view of one zero), built at no cost whatever the options: for `Model.load`
    /// to fill with every tensor (a checkpoint's), and to compare expected shapes with stored
    /// ones before anything is allocated. Not usable before that load.
    public static func skeleton(_ name: String, options: ModelOptions) throws -> Model {
        try build(name, options: options, initialization: .placeholder)
    }

    private static func build(_ name: String, options: ModelOptions, initialization: Initialization) throws -> Model {
        guard names.contains(name) else { throw ModelError.unknownModel(name, known: names) }
        try options.validate()
        if let depth = options.depth, !acceptsDepth(name) {
            throw ModelError.invalidOption("depth \(depth): only the vit-* models take a depth; \(name) has a fixed one")
        }
        let builder = ZooBuilder(options: options, initialization: initialization)
        switch name {
        case "mlp": return try builder.mlp()
        case "lenet5": return try builder.lenet5()
        case "convnet": return try builder.convnet()
        case "resnet8": return try builder.resnet(blocksPerStage: 1, name: name)
        case "resnet20": return try builder.resnet(blocksPerStage: 3, name: name)
        case "mobilenet": return try builder.mobilenet()
        case "vit-tiny": return try builder.vit(.tiny, name: name)
        case "vit-small": return try builder.vit(.small, name: name)
        case "centernet": return try builder.centernet()
        case "fpn-seg": return try builder.fpnSegmenter()
        default: throw ModelError.unknownModel(name, known: names)
        }
    }
}
