import LatheTensor

extension Model {
    /// The `architecture` of models built from a `GraphProgram` (imported ones).
    public static let graphArchitecture = "graph"

    /// A model running `program`, with placeholder tensors that a `load` fills (an import's
    /// initializers, a checkpoint's tensors). Its channel groups are derived from the program.
    /// - Throws: `ModelError` when the program is malformed or disagrees with `options`.
    public static func skeleton(program: GraphProgram, options: ModelOptions) throws -> Model {
        try make(program: program, options: options, architecture: graphArchitecture, initialization: .placeholder)
    }

    /// A model running `program` with tensors from `initialization` (the zoo's dense-prediction
    /// models are programs too). The output is `[N, classes]` logits, or a dense map
    /// `[N, K, h, w]` (per-pixel logits, a detection head's channels).
    static func make(program: GraphProgram, options: ModelOptions, architecture: String, initialization: Initialization) throws -> Model {
        try options.validate()
        let inputShape = program.inputShape
        let expected = [-1, options.inputChannels, options.imageSize, options.imageSize]
        guard inputShape == expected else {
            throw ModelError.invalidOption("graph '\(program.name)' reads input \(inputShape) (-1: batch); the options say \(expected)")
        }
        guard let outputShape = program.nodes.last(where: { $0.output == program.output })?.shape,
              outputShape == [-1, options.classCount] || (outputShape.count == 4 && outputShape[0] == -1 && outputShape[1] >= options.classCount) else {
            throw ModelError.invalidOption("graph '\(program.name)': output '\(program.output)' must be [batch, \(options.classCount)] logits or a [batch, ≥\(options.classCount), h, w] map")
        }
        let graph = try GraphLayer("graph", program: program, initialization: initialization)
        let model = Model(architecture: architecture, options: options, root: Sequential("", [graph]),
                          channelGroups: program.dependencies().groups)
        model.program = program
        return model
    }

    /// The shape of one sample's output (`[classes]`, or `[K, h, w]` for a dense map).
    public var outputShape: [Int] {
        guard let program, let shape = program.nodes.last(where: { $0.output == program.output })?.shape else { return [options.classCount] }
        return Array(shape.dropFirst())
    }
}
