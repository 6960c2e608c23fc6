import Foundation
import LatheData
import LatheModels
import LatheTensor
import Testing
@testable import LatheTrain

/// Random horizontal flips (`Recipe.horizontalFlip`): the image and its target mirror together,
/// and which samples flip is a function of seed, epoch and sample alone.
@Suite("Horizontal flip augmentation")
struct HorizontalFlipTests {
    /// Two samples of 2 channels × 3 rows × 4 columns, each value distinct, with distinct masks.
    static func tiny() throws -> ImageDataset {
        let pixels = (0..<(2 * 2 * 3 * 4)).map(Float.init)
        let masks = (0..<(2 * 3 * 4)).map { UInt8($0 % 5) }
        return try ImageDataset(images: pixels, targets: .masks(masks), channels: 2, height: 3, width: 4, classCount: 5)
    }

    /// A mirrored sample's every channel row and mask row is reversed; the other sample is untouched.
    @Test func imagesAndMasksMirrorRowByRow() throws {
        let data = try Self.tiny()
        let (plain, plainMasks) = try data.batch([0, 1], mirrored: [false, false])
        let (flipped, flippedMasks) = try data.batch([0, 1], mirrored: [false, true])
        let x = try plain.scalars(as: Float.self), fx = try flipped.scalars(as: Float.self)
        let m = try plainMasks.scalars(as: Int64.self), fm = try flippedMasks.scalars(as: Int64.self)
        #expect(Array(fx[0..<24]) == Array(x[0..<24]) && Array(fm[0..<12]) == Array(m[0..<12]))
        for row in 0..<6 {  // sample 1: 2 channels × 3 rows
            let start = 24 + row * 4
            #expect(Array(fx[start..<(start + 4)]) == Array(x[start..<(start + 4)].reversed()), "row \(row)")
        }
        for row in 0..<3 {
            let start = 12 + row * 4
            #expect(Array(fm[start..<(start + 4)]) == Array(m[start..<(start + 4)].reversed()), "mask row \(row)")
        }
        // No flags at all is the plain batch; a wrong number of flags is refused.
        #expect(try data.batch([0, 1]).images.scalars(as: Float.self) == x)
        #expect(throws: TrainingError.self) { try data.batch([0, 1], mirrored: [true]) }
    }

    /// A mirrored detection sample's target is the encoding of its boxes mirrored (x → W − x − w).
    @Test func boxesMirrorWithTheirImage() throws {
        let boxes = DenseTaskTests.boxes
        let data = try ImageDataset(images: [Float](repeating: 0, count: 2 * 96 * 96), targets: .boxes(boxes), channels: 1, height: 96, width: 96,
                                    classCount: 10)
        let (_, target) = try data.batch([0, 1], mirrored: [true, false])
        let mirrored = [boxes[0].map { LabelledBox(label: $0.label, x: 96 - $0.x - $0.width, y: $0.y, width: $0.width, height: $0.height) }, boxes[1]]
        let expected = try CenterNetCoding.encode(mirrored, classes: 10, height: 96, width: 96)
        #expect(try target.scalars(as: Float.self) == expected.scalars(as: Float.self))
        #expect(try target.scalars(as: Float.self) != CenterNetCoding.encode(boxes, classes: 10, height: 96, width: 96).scalars(as: Float.self))
    }

    /// About half of the samples flip; the same ones for the same seed and epoch whatever the
    /// batch order; others in the next epoch or under another seed.
    @Test func flipsDependOnSeedEpochAndSampleOnly() {
        let all = Array(0..<2000)
        let a = HorizontalFlip.mirrored(all, seed: 7, epoch: 0)
        let share = Double(a.filter { $0 }.count) / Double(all.count)
        #expect(share > 0.45 && share < 0.55, "\(share)")
        #expect(HorizontalFlip.mirrored(all.reversed(), seed: 7, epoch: 0) == a.reversed())
        #expect(HorizontalFlip.mirrored(all, seed: 7, epoch: 0) == a)
        let nextEpoch = HorizontalFlip.mirrored(all, seed: 7, epoch: 1), otherSeed = HorizontalFlip.mirrored(all, seed: 8, epoch: 0)
        #expect(zip(a, nextEpoch).filter { $0 != $1 }.count > 800 && zip(a, otherSeed).filter { $0 != $1 }.count > 800)
    }

    /// A recorded recipe keeps the flag; training with it on repeats itself and differs from
    /// training without it.
    @Test func theRecipeFlagChangesTrainingReproducibly() throws {
        var recipe = Recipe()
        (recipe.epochs, recipe.batchSize, recipe.optimizer, recipe.learningRate, recipe.weightDecay, recipe.seed) = (2, 8, .adam, 0.005, 0, 3)
        recipe.horizontalFlip = true
        let reread = try JSONDecoder().decode(Recipe.self, from: JSONEncoder().encode(recipe))
        #expect(reread == recipe)
        let data = try DenseTrainingTests.squares(.segmentation)
        func trained(_ r: Recipe) throws -> [Float] {
            Engine.threads = 1
            let model = try Zoo.make("fpn-seg", options: ModelOptions(imageSize: 32, classCount: data.classCount, width: 0.5), seed: 3)
            _ = try Trainer(recipe: r).train(model, on: data)
            return try model.parameters.flatMap { try $0.scalars(as: Float.self) }
        }
        var plain = recipe
        plain.horizontalFlip = false
        let first = try trained(recipe)
        #expect(try trained(recipe) == first)
        #expect(try trained(plain) != first)
    }
}
