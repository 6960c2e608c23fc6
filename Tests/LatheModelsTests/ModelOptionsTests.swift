import Testing
import LatheTensor
import LatheTestSupport
@testable import LatheModels

/// Options are range-checked before any layer size is computed; a skeleton has a model's
/// shapes and types without its memory.
@Suite("Model options and skeletons")
struct ModelOptionsTests {
    @Test(arguments: [
        (ModelOptions(imageSize: 1 << 32), "imageSize 4294967296"),
        (ModelOptions(imageSize: 8), "imageSize 8"),
        (ModelOptions(inputChannels: 1 << 62), "inputChannels 4611686018427387904"),
        (ModelOptions(inputChannels: 0), "inputChannels 0"),
        (ModelOptions(classCount: .max), "classCount 9223372036854775807"),
        (ModelOptions(width: .nan), "width multiplier nan"),
    ])
    func outOfRangeOptionsAreRefusedNamingTheOption(options: ModelOptions, named: String) {
        for name in Zoo.names {
            let error = #expect(throws: ModelError.self) { try Zoo.make(name, options: options) }
            #expect(error?.description.hasPrefix(named) == true, "\(name): \(String(describing: error))")
        }
    }

    @Test(arguments: Zoo.names)
    func aSkeletonHasTheModelsNamesShapesAndTypes(name: String) throws {
        let options = ModelOptions(inputChannels: 3, imageSize: 32, width: 0.5)
        let model = try Zoo.make(name, options: options, seed: 1)
        let skeleton = try Zoo.skeleton(name, options: options)
        #expect(skeleton.state.map(\.0) == model.state.map(\.0))
        #expect(skeleton.state.map(\.1.shape) == model.state.map(\.1.shape))
        #expect(skeleton.state.map(\.1.dtype) == model.state.map(\.1.dtype))
        #expect(skeleton.state.map(\.1.requiresGrad) == model.state.map(\.1.requiresGrad))
    }

    /// The largest options: an mlp of 1024 channels of 1024×1024 pixels, width 16, would hold
    /// about 5·10^12 parameters; its skeleton costs nothing.
    @Test func aSkeletonOfTheLargestOptionsAllocatesNothing() throws {
        let options = ModelOptions(inputChannels: ModelOptions.maxInputChannels, imageSize: ModelOptions.imageSizes.upperBound, width: 16)
        let (model, growth) = try PeakMemory.growth { try Zoo.skeleton("mlp", options: options) }
        #expect(model.parameterCount == 1024 * 1024 * 1024 * 4800 + 4800 + 4800 * 1600 + 1600 + 1600 * 10 + 10)
        #expect(growth < 64 << 20, "peak resident memory grew by \(growth >> 20) MB")
    }

    @Test func aCopyHasTheSameValuesAndTrainableTensors() throws {
        let model = try Zoo.make("resnet8", seed: 4)
        let twin = try model.copy()
        let x = try Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 5))
        #expect(try twin.predict(x).scalars(as: Float.self) == model.predict(x).scalars(as: Float.self))
        #expect(twin.state.map(\.1.requiresGrad) == model.state.map(\.1.requiresGrad))
    }
}
