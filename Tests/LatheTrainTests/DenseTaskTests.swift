import Foundation
import LatheData
import LatheDetection
import LatheModels
import LatheTensor
import Testing
@testable import LatheTrain

/// The detection and segmentation plumbing: CenterNet's target encoding, decoding and loss,
/// and the dense evaluation, against direct computations written here.
@Suite("Dense tasks: CenterNet coding and loss, segmentation and detection evaluation")
struct DenseTaskTests {
    static let boxes: [[LabelledBox]] = [
        [LabelledBox(label: 0, x: 4, y: 6, width: 30, height: 22), LabelledBox(label: 3, x: 40, y: 41, width: 21, height: 33),
         LabelledBox(label: 3, x: 50, y: 47, width: 25, height: 25)],
        [LabelledBox(label: 9, x: 0, y: 0, width: 42, height: 42), LabelledBox(label: 5, x: 60, y: 71, width: 36, height: 25)],
    ]

    /// A detector output that believes the target: heatmap logits of the encoded heatmap, the
    /// encoded sizes and offsets.
    static func perfectOutput(_ target: Tensor, classes: Int) throws -> Tensor {
        let heat = try target.narrowed(1, start: 0, length: classes).clamped(1e-6, 1 - 1e-6)
        let logits = try heat.log() - (1 - heat).log()
        return try Tensor.cat([logits, target.narrowed(1, start: classes, length: 4)], dim: 1)
    }

    /// Encoding then decoding gives back every box (to float rounding), at the top scores, and
    /// so mAP@[.5:.95] = 1 against the same boxes as COCO ground truth.
    @Test func encodedBoxesDecodeToThemselves() throws {
        let target = try CenterNetCoding.encode(Self.boxes, classes: 10, height: 96, width: 96)
        #expect(target.shape == [2, 15, 24, 24])
        // One centre marked per box, each a heatmap peak of exactly 1.
        #expect(try target.narrowed(1, start: 14, length: 1).sum().item() == 5)
        #expect(try target.narrowed(1, start: 0, length: 10).eq(1).converted(to: .float64).sum().item() == 5)
        let output = try Self.perfectOutput(target, classes: 10)
        let detections = try CenterNetCoding.decode(output, imageSize: 96, firstImageID: 1)
        for (image, boxes) in Self.boxes.enumerated() {
            let found = detections.filter { $0.imageID == image + 1 }.sorted { $0.score > $1.score }.prefix(boxes.count)
            for b in boxes {
                let match = found.first { d in
                    d.categoryID == b.label + 1 && abs(d.box.x - b.x) < 1e-3 && abs(d.box.y - b.y) < 1e-3
                        && abs(d.box.width - b.width) < 1e-3 && abs(d.box.height - b.height) < 1e-3
                }
                #expect(match != nil, "box \(b) of image \(image) not among the top detections \(Array(found))")
            }
        }
        let data = try ImageDataset(images: [Float](repeating: 0, count: 2 * 96 * 96), targets: .boxes(Self.boxes), channels: 1, height: 96, width: 96, classCount: 10)
        let coco = COCOEvaluation(groundTruth: data.cocoGroundTruth(), detections: detections)
        #expect(abs(coco.mAP - 1) < 1e-12)
        // And a shifted size loses the high IoU thresholds but not IoU 0.5.
        let sizes = try output.narrowed(1, start: 10, length: 2) * 0.8
        let worse = try Tensor.cat([output.narrowed(1, start: 0, length: 10), sizes, output.narrowed(1, start: 12, length: 2)], dim: 1)
        let shrunk = COCOEvaluation(groundTruth: data.cocoGroundTruth(), detections: try CenterNetCoding.decode(worse, imageSize: 96, firstImageID: 1))
        #expect(abs(shrunk.mAP50 - 1) < 1e-12)
        #expect(shrunk.mAP < 0.7)
    }

    /// CenterNet's focal loss and L1 terms, written out in Double over the scalars.
    @Test func lossEqualsDirectComputation() throws {
        let target = try CenterNetCoding.encode(Self.boxes, classes: 10, height: 96, width: 96)
        let output = try Tensor.uniform([2, 14, 24, 24], low: -4, high: 4, generator: RandomGenerator(seed: 7))
        let loss = try CenterNetCoding.loss(output, target).item()
        let o = try output.scalars(as: Float.self).map(Double.init), t = try target.scalars(as: Float.self).map(Double.init)
        let plane = 24 * 24
        var focal = 0.0, size = 0.0, offset = 0.0, objects = 0.0
        for n in 0..<2 {
            for i in 0..<plane {
                let mask = t[(n * 15 + 14) * plane + i]
                objects += mask
                for c in 0..<10 {
                    let p = min(max(1 / (1 + exp(-o[(n * 14 + c) * plane + i])), 1e-4), 1 - 1e-4)
                    let g = t[(n * 15 + c) * plane + i]
                    focal += g == 1 ? log(p) * pow(1 - p, 2) : log(1 - p) * pow(p, 2) * pow(1 - g, 4)
                }
                for k in 0..<2 { size += abs(o[(n * 14 + 10 + k) * plane + i] - t[(n * 15 + 10 + k) * plane + i]) * mask }
                for k in 2..<4 { offset += abs(o[(n * 14 + 10 + k) * plane + i] - t[(n * 15 + 10 + k) * plane + i]) * mask }
            }
        }
        let expected = -focal / objects + 0.1 * size / objects + offset / objects
        #expect(abs(loss - expected) < 1e-4 * abs(expected), "\(loss) vs \(expected)")
        #expect(throws: TrainingError.self) { try CenterNetCoding.loss(output.narrowed(1, start: 0, length: 13), target) }
    }

    /// mIoU and pixel accuracy of a per-pixel output equal the IoUs counted here.
    @Test func segmentationMetricsFromLogits() throws {
        var generator = SeededGenerator(seed: 3)
        let (n, h, w, classes) = (3, 16, 16, 4)
        func below(_ k: Int) -> Int { Int(generator.next() % UInt64(k)) }
        let truth = (0..<(n * h * w)).map { _ in UInt8(below(classes)) }
        let predicted = truth.map { below(4) == 0 ? UInt8(below(classes)) : $0 }
        let data = try ImageDataset(images: [Float](repeating: 0, count: n * h * w), targets: .masks(truth), channels: 1, height: h, width: w, classCount: classes)
        let oneHot = try Tensor(predicted.map(Int64.init), shape: [n, h, w]).oneHot(classes: classes).converted(to: .float32).permuted([0, 3, 1, 2]).contiguous()
        var batches = 0
        let scores = try Evaluation.metrics(on: data, batchSize: 2) { x in
            defer { batches += 1 }
            return try oneHot.narrowed(0, start: 2 * batches, length: x.shape[0])
        }
        var ious: [Double] = []
        for c in 0..<classes {
            let tp = zip(truth, predicted).filter { $0 == c && $1 == c }.count
            let union = zip(truth, predicted).filter { $0 == c || $1 == c }.count
            ious.append(Double(tp) / Double(union))
        }
        let accuracy = Double(zip(truth, predicted).filter { $0 == $1 }.count) / Double(truth.count)
        #expect(abs(scores.primary - ious.reduce(0, +) / Double(classes)) < 1e-12)
        #expect(abs((scores.all["pixel_accuracy"] ?? -1) - accuracy) < 1e-12)
        #expect(data.task == .segmentation && data.subset([2, 0]).targets == .masks(Array(truth[(2 * h * w)...] + truth[..<(h * w)])))
    }

    /// Targets are checked: a box outside the image or a mask value beyond the classes is refused.
    @Test func badTargetsAreRefused() {
        #expect(throws: DataError.self) {
            try ImageDataset(images: [Float](repeating: 0, count: 64), targets: .boxes([[LabelledBox(label: 0, x: 5, y: 5, width: 4, height: 1)]]),
                             channels: 1, height: 8, width: 8, classCount: 2)
        }
        #expect(throws: DataError.self) {
            try ImageDataset(images: [Float](repeating: 0, count: 64), targets: .masks([UInt8](repeating: 2, count: 64)), channels: 1, height: 8, width: 8, classCount: 2)
        }
    }
}

/// The zoo's detector and segmenter learn through the ordinary trainer: on canvases with one
/// bright square each, the task loss falls and the trained model beats the untrained one on
/// the task's own metric.
@Suite("Dense tasks: training the zoo's detector and segmenter")
struct DenseTrainingTests {
    /// 24 canvases of 32×32, each with one square of side 8–14 whose class is its side's parity
    /// (2 classes), as boxes or masks.
    static func squares(_ task: PredictionTask) throws -> ImageDataset {
        var generator = SeededGenerator(seed: 11)
        func below(_ k: Int) -> Int { Int(generator.next() % UInt64(k)) }
        let (n, s) = (24, 32)
        var pixels = [Float](repeating: 0, count: n * s * s), masks = [UInt8](repeating: 0, count: n * s * s)
        var boxes: [[LabelledBox]] = []
        for i in 0..<n {
            let side = 8 + below(7), x = below(s - side), y = below(s - side), label = side % 2
            for r in y..<(y + side) {
                for c in x..<(x + side) {
                    pixels[i * s * s + r * s + c] = label == 0 ? 1 : 0.5
                    masks[i * s * s + r * s + c] = UInt8(label + 1)
                }
            }
            boxes.append([LabelledBox(label: label, x: Double(x), y: Double(y), width: Double(side), height: Double(side))])
        }
        return task == .detection
            ? try ImageDataset(images: pixels, targets: .boxes(boxes), channels: 1, height: s, width: s, classCount: 2)
            : try ImageDataset(images: pixels, targets: .masks(masks), channels: 1, height: s, width: s, classCount: 3)
    }

    @Test(arguments: [("centernet", PredictionTask.detection), ("fpn-seg", PredictionTask.segmentation)])
    func lossFallsAndTheMetricRises(name: String, task: PredictionTask) throws {
        let data = try Self.squares(task)
        let model = try Zoo.make(name, options: ModelOptions(imageSize: 32, classCount: data.classCount, width: 0.5), seed: 3)
        let before = try Evaluation.metrics(model, on: data)
        var recipe = Recipe()
        (recipe.epochs, recipe.batchSize, recipe.optimizer, recipe.learningRate, recipe.weightDecay) = (25, 8, .adam, 0.005, 0)
        let summary = try Trainer(recipe: recipe).train(model, on: data)
        let after = try Evaluation.metrics(model, on: data)
        let first = try #require(summary.epochs.first?.trainLoss), last = try #require(summary.epochs.last?.trainLoss)
        #expect(last < 0.5 * first, "\(name): loss \(first) → \(last)")
        #expect(after.primary > before.primary + 0.3, "\(name): \(task.primaryMetric) \(before.primary) → \(after.primary)")
        // The other task's model is refused with what it should output.
        let wrong = try Zoo.make(name == "centernet" ? "fpn-seg" : "centernet", options: ModelOptions(imageSize: 32, classCount: data.classCount))
        let error = #expect(throws: TrainingError.self) { try Trainer(recipe: recipe).train(wrong, on: data) }
        #expect(error?.description.contains(task.rawValue) == true, "\(String(describing: error))")
    }
}

/// `fmnist-detect` / `fmnist-seg` as data sources: the installed Fashion-MNIST made into
/// canvases, a limit generating exactly the first canvases of the full set.
@Suite("Dense tasks: the canvas data sources")
struct CanvasSourceTests {
    @Test func limitsArePrefixesAndBothTasksSeeTheSameCanvases() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-canvas-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let small = try DataSource.fmnistDetect.load(directory: nil, limitTrain: 5, limitTest: 3, cacheDirectory: cache)
        let larger = try DataSource.fmnistDetect.load(directory: nil, limitTrain: 9, limitTest: 3, cacheDirectory: cache)
        let masks = try DataSource.fmnistSeg.load(directory: nil, limitTrain: 5, limitTest: 3, cacheDirectory: cache)
        #expect(small.train.count == 5 && small.test.count == 3 && larger.train.count == 9)
        #expect(small.train.task == .detection && masks.train.task == .segmentation)
        #expect(small.train.classCount == 10 && masks.train.classCount == 11 && small.train.height == 96)
        #expect(larger.train.prefix(5).images == small.train.images)
        #expect(larger.train.prefix(5).targets == small.train.targets)
        #expect(masks.train.images == small.train.images)
        // Every box lies on its mask: the box's class fills some pixel inside it.
        guard case let .boxes(boxes)? = small.train.targets, case let .masks(m)? = masks.train.targets else {
            Issue.record("expected boxes and masks")
            return
        }
        for (i, list) in boxes.enumerated() {
            #expect(!list.isEmpty)
            for b in list {
                let inside = (Int(b.y)..<Int(b.y + b.height)).contains { r in
                    (Int(b.x)..<Int(b.x + b.width)).contains { c in Int(m[i * 96 * 96 + r * 96 + c]) == b.label + 1 }
                }
                #expect(inside, "canvas \(i): box \(b) has no pixel of its class")
            }
        }
    }
}
