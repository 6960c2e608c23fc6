import Testing
import LatheTensor
@testable import LatheModels

@Suite("Model zoo")
struct ZooTests {
    @Test(arguments: Zoo.classifierNames)
    func everyModelMapsABatchToLogits(name: String) throws {
        for options in [ModelOptions(), ModelOptions(inputChannels: 3, imageSize: 32, width: 0.5)] {
            let model = try Zoo.make(name, options: options, seed: 1)
            let x = try Tensor.randn([3, options.inputChannels, options.imageSize, options.imageSize], generator: RandomGenerator(seed: 2))
            let y = try model.forward(x, ForwardContext(training: true))
            #expect(y.shape == [3, 10])
        }
    }

    /// LeNet-5 on 28×28: conv1 28·28·6·25 + conv2 10·10·16·150 + 400·120 + 120·84 + 84·10.
    @Test func lenet5MacsEqualTheHandCount() throws {
        let profile = try Zoo.make("lenet5").profile()
        let byLayer = Dictionary(uniqueKeysWithValues: profile.map { ($0.name, $0.macs) })
        #expect(byLayer["conv1"] == 117_600)
        #expect(byLayer["conv2"] == 240_000)
        #expect(byLayer["fc1"] == 48_000)
        #expect(profile.reduce(0) { $0 + $1.macs } == 416_520)
    }

    @Test func mlpIsLeNet300100() throws {
        let model = try Zoo.make("mlp")
        #expect(model.parameterCount == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10)
    }

    @Test func widthMultiplierShrinksChannels() throws {
        let full = try Zoo.make("lenet5")
        let half = try Zoo.make("lenet5", options: ModelOptions(width: 0.5))
        #expect((half.layer(named: "conv2") as? Conv2d)?.outChannels == 8)
        #expect(half.parameterCount < full.parameterCount / 2)
    }

    @Test func sameSeedSameWeights() throws {
        let a = try Zoo.make("convnet", seed: 5).parameters.map { try $0.scalars(as: Float.self) }
        let b = try Zoo.make("convnet", seed: 5).parameters.map { try $0.scalars(as: Float.self) }
        let c = try Zoo.make("convnet", seed: 6).parameters.map { try $0.scalars(as: Float.self) }
        #expect(a == b)
        #expect(a != c)
    }

    @Test func unknownModelAndBadOptionsAreRejected() {
        #expect(throws: ModelError.unknownModel("vgg", known: Zoo.names)) { try Zoo.make("vgg") }
        #expect(throws: ModelError.self) { try Zoo.make("mlp", options: ModelOptions(width: 0)) }
    }

    @Test func featureTapsCaptureNamedLayers() throws {
        let model = try Zoo.make("resnet8")
        let context = ForwardContext(training: false, taps: ["layer2.0", "pool"])
        _ = try model.forward(Tensor.zeros([2, 1, 28, 28]), context)
        #expect(context.tapped["layer2.0"]?.shape == [2, 32, 14, 14])
        #expect(context.tapped["pool"]?.shape == [2, 64, 1, 1])
    }
}

@Suite("Channel-dependency groups")
struct ChannelGroupTests {
    /// Every group names real layers whose channel counts agree, so that structured pruning can
    /// shrink them together.
    @Test(arguments: Zoo.names)
    func groupsAreConsistent(name: String) throws {
        let model = try Zoo.make(name, options: ModelOptions(imageSize: Zoo.denseNames.contains(name) ? 32 : 28))
        #expect(!model.channelGroups.isEmpty)
        for group in model.channelGroups {
            let producer = try #require(model.layer(named: group.producer))
            let rows = try #require(producer.ownParameters.first { $0.0 == "weight" }?.1.shape[0])
            // A channel owns `rowsPerUnit` rows of the producer (one, or an attention head's Q, K and V rows).
            let channels = try #require(group.channels(rows: rows), "\(group.producer)")
            for name in group.coupled {
                let layer = try #require(model.layer(named: name), "\(name)")
                #expect(layer.ownParameters.first { $0.0 == "weight" }?.1.shape[0] == rows, "\(name)")
            }
            for consumer in group.consumers {
                let layer = try #require(model.layer(named: consumer.layer))
                let weight = try #require(layer.ownParameters.first { $0.0 == "weight" }?.1)
                #expect(weight.shape[1] == channels * consumer.inputsPerChannel, "\(consumer.layer)")
            }
        }
    }
}

@Suite("State loading")
struct StateTests {
    @Test func loadCopiesWeightsAndChecksShapes() throws {
        let a = try Zoo.make("resnet8", seed: 1)
        let b = try Zoo.make("resnet8", seed: 2)
        try b.load(Dictionary(uniqueKeysWithValues: a.state))
        let x = try Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 3))
        #expect(try a.predict(x).scalars(as: Float.self) == b.predict(x).scalars(as: Float.self))

        var wrong = Dictionary(uniqueKeysWithValues: a.state)
        wrong["fc.weight"] = try Tensor.zeros([10, 3])
        #expect(throws: ModelError.shapeMismatch("fc.weight", expected: [10, 64], found: [10, 3])) { try b.load(wrong) }
        wrong["fc.weight"] = nil
        #expect(throws: ModelError.missingTensor("fc.weight")) { try b.load(wrong) }
    }
}
