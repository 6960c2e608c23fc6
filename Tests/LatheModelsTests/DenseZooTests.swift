import Testing
import LatheTensor
@testable import LatheModels

/// The zoo's detector and segmenter: output shapes, the pyramid's taps, the derived channel
/// groups, nearest upsampling, and the input-size rule.
@Suite("Dense zoo: centernet and fpn-seg")
struct DenseZooTests {
    static let canvas = ModelOptions(inputChannels: 1, imageSize: 96, classCount: 10)

    @Test func outputsAreTheTasksMaps() throws {
        let x = try Tensor.randn([2, 1, 96, 96], generator: RandomGenerator(seed: 1))
        let detector = try Zoo.make("centernet", options: Self.canvas, seed: 1)
        #expect(try detector.predict(x).shape == [2, 14, 24, 24])
        #expect(detector.outputShape == [14, 24, 24])
        let segmenter = try Zoo.make("fpn-seg", options: ModelOptions(inputChannels: 1, imageSize: 96, classCount: 11), seed: 1)
        #expect(try segmenter.predict(x).shape == [2, 11, 96, 96])
        // The heatmap logits start at the focal-loss prior, −2.19; size and offset biases are not touched.
        let bias = try #require((detector.layer(named: "head.out") as? Conv2d)?.bias).scalars(as: Float.self)
        #expect(bias.prefix(10).allSatisfy { $0 == -2.19 } && bias.suffix(4).allSatisfy { abs($0) < 1 })
    }

    /// The pyramid levels are taps; the stride-16 backbone refuses a size it cannot halve four times.
    @Test func pyramidLevelsAreTapsAndSizesAreChecked() throws {
        let detector = try Zoo.make("centernet", options: Self.canvas)
        #expect(Set(["neck.p2", "neck.p3", "neck.lateral4", "stage2.1.relu"]).isSubset(of: Set(detector.tapNames)))
        let context = ForwardContext(training: false, taps: ["neck.p2", "neck.p3"])
        _ = try detector.forward(try Tensor.zeros([1, 1, 96, 96]), context)
        #expect(context.tapped["neck.p3"]?.shape == [1, 64, 12, 12] && context.tapped["neck.p2"]?.shape == [1, 64, 24, 24])
        let error = #expect(throws: ModelError.self) { try Zoo.make("centernet", options: ModelOptions()) }
        #expect(error?.description.contains("multiple of 16") == true)
    }

    /// Derived from the dataflow: a stage's output feeds the next stage and its lateral; the
    /// summed laterals are one channel space pruned together; the head's output is not prunable.
    @Test func channelGroupsFollowThePyramid() throws {
        let model = try Zoo.make("centernet", options: Self.canvas)
        let byProducer = Dictionary(model.channelGroups.map { ($0.producer, $0) }, uniquingKeysWith: { a, _ in a })
        let stage = try #require(byProducer["stage2.1.conv"])
        #expect(stage.coupled == ["stage2.1.bn"])
        #expect(Set(stage.consumers.map(\.layer)) == ["stage3.0.conv", "neck.lateral2"])
        let neck = try #require(model.channelGroups.first { $0.coupled.contains("neck.lateral2") || $0.producer == "neck.lateral2" })
        #expect(Set([neck.producer] + neck.coupled).isSuperset(of: ["neck.lateral2", "neck.lateral3", "neck.lateral4"]))
        #expect(neck.consumers.map(\.layer) == ["neck.smooth.conv"])
        #expect(byProducer["head.out"] == nil)
        #expect(byProducer["head.conv"]?.consumers.map(\.layer) == ["head.out"])
        // The segmenter's stride-1 skip reads the stem: pruning the stem's filters removes its inputs too.
        let segmenter = try Zoo.make("fpn-seg", options: ModelOptions(inputChannels: 1, imageSize: 96, classCount: 11))
        let stem = try #require(segmenter.channelGroups.first { $0.producer == "stem.conv" })
        #expect(Set(stem.consumers.map(\.layer)) == ["stage1.conv", "head.skip"])
        #expect(!segmenter.channelGroups.contains { $0.producer == "head.out" || $0.producer == "head.skip" })
    }

    @Test func nearestUpsamplingRepeatsPixels() throws {
        let x = try Tensor((0..<12).map(Float.init), shape: [1, 2, 2, 3])
        let y = try x.upsampledNearest(2)
        #expect(y.shape == [1, 2, 4, 6])
        let v = try y.scalars(as: Float.self)
        for c in 0..<2 {
            for i in 0..<4 {
                for j in 0..<6 { #expect(v[(c * 4 + i) * 6 + j] == Float(c * 6 + (i / 2) * 3 + j / 2)) }
            }
        }
    }
}
