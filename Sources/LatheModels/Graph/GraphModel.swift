import LatheTensor

extension Model {
    /// The `architecture` of models built from a `GraphProgram` (imported ones).
    public static let graphArchitecture = "graph"

    /// A model running `program`, with placeholder tensors that a `load` fills (an import's
    /// initializers, a checkpoint's tensors). Its channel groups are derived from the program.
    /// - Throws: `ModelError` when the program is malformed or disagrees with `options`.
    public static func skeleton(program: GraphProgram, options: ModelOptions) throws -> Model {
        try options.validate()
        let inputShape = program.inputShape
        let expected = [-1, options.inputChannels, options.imageSize, options.imageSize]
        guard inputShape == expected else {
            throw ModelError.invalidOption("graph '\(program.name)' reads input \(inputShape) (-1: batch); the options say \(expected)")
        }
        guard let outputShape = program.nodes.last(where: { $0.output == program.output })?.shape, outputShape == [-1, options.classCount] else {
            throw ModelError.invalidOption("graph '\(program.name)': output '\(program.output)' must be [batch, \(options.classCount)] logits")
        }
        let graph = try GraphLayer("graph", program: program, initialization: .placeholder)
        let model = Model(architecture: graphArchitecture, options: options, root: Sequential("", [graph]),
                          channelGroups: program.dependencies().groups)
        model.program = program
        return model
    }
}

