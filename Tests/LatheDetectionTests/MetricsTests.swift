import Foundation
import LatheData
@testable import LatheDetection
import Testing

/// Lathe's mAP against pycocotools and its mIoU against numpy, on fmnist canvases with noisy
/// predictions.
@Suite("Detection and segmentation metrics against pycocotools and numpy")
struct MetricsTests {
    /// 60 small canvases made from synthetic items (no Fashion-MNIST needed).
    static func canvases(seed: UInt64) throws -> CanvasSet {
        var config = CanvasConfig()
        (config.size, config.testCount, config.seed) = (64, 60, seed)
        return try CanvasGenerator.generate(.test, config: config, source: Synthetic.items(count: 40))
    }

    /// Jittered true boxes (some with the wrong class, some missed), duplicates and false
    /// positives, with random scores and a few exact score ties.
    static func predictions(_ gt: COCODataset, seed: UInt64) -> [COCODetection] {
        var g = SeededGenerator(seed: seed)
        var out: [COCODetection] = []
        for a in gt.annotations where g.unit() > 0.15 {
            func jitter(_ v: Double, _ s: Double) -> Double { v + (g.unit() - 0.5) * s }
            let b = a.box
            let box = Box(x: max(0, jitter(b.x, 0.4 * b.width)), y: max(0, jitter(b.y, 0.4 * b.height)),
                          width: max(1, jitter(b.width, 0.4 * b.width)), height: max(1, jitter(b.height, 0.4 * b.height)))
            let category = g.unit() < 0.1 ? 1 + g.below(10) : a.categoryID
            out.append(COCODetection(imageID: a.imageID, categoryID: category, box: box, score: (g.unit() * 1000).rounded() / 1000))
            if g.unit() < 0.2 { out.append(COCODetection(imageID: a.imageID, categoryID: category, box: box, score: g.unit() * 0.5)) }
        }
        for image in gt.images where g.unit() < 0.5 {
            out.append(COCODetection(imageID: image.id, categoryID: 1 + g.below(10),
                                     box: Box(x: Double(g.below(40)), y: Double(g.below(40)), width: 5 + Double(g.below(20)), height: 5 + Double(g.below(20))),
                                     score: g.unit()))
        }
        return out
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func mapMatchesPycocotools(seed: UInt64) throws {
        let gt = try Self.canvases(seed: seed).cocoGroundTruth()
        let detections = Self.predictions(gt, seed: seed &+ 100)
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gt.write(path: "\(dir)/gt.json")
        try COCODataset.writeDetections(detections, path: "\(dir)/dt.json")
        // What Lathe evaluates is what it read back, as pycocotools reads the same files.
        let read = try COCODataset.read(path: "\(dir)/gt.json")
        #expect(read == gt)
        let lathe = COCOEvaluation(groundTruth: read, detections: try read.readDetections(path: "\(dir)/dt.json"))
        let oracle = try Oracle.run(["coco", "\(dir)/gt.json", "\(dir)/dt.json"])
        let stats = try #require(oracle["stats"]).split(separator: " ").compactMap { Double($0) }
        try #require(stats.count == 3)
        #expect(abs(lathe.mAP - stats[0]) < 1e-4, "mAP \(lathe.mAP) vs pycocotools \(stats[0])")
        #expect(abs(lathe.mAP50 - stats[1]) < 1e-4, "mAP@.5 \(lathe.mAP50) vs pycocotools \(stats[1])")
        #expect(abs(lathe.mAP75 - stats[2]) < 1e-4, "mAP@.75 \(lathe.mAP75) vs pycocotools \(stats[2])")
        // Not a degenerate case: the noise leaves mAP well inside (0, 1).
        #expect(lathe.mAP > 0.05 && lathe.mAP < 0.95 && lathe.mAP50 > lathe.mAP)
        for pair in try #require(oracle["per_category"]).split(separator: " ") {
            let parts = pair.split(separator: "=")
            let id = try #require(Int(parts[0])), ap = try #require(Double(parts[1]))
            #expect(abs((lathe.perCategory[id] ?? .nan) - ap) < 1e-4, "category \(id): \(lathe.perCategory[id] ?? .nan) vs \(ap)")
        }
        print("mAP seed \(seed): Lathe \(lathe.mAP) / \(lathe.mAP50), pycocotools \(stats[0]) / \(stats[1]); |Δ| \(abs(lathe.mAP - stats[0])) / \(abs(lathe.mAP50 - stats[1]))")
    }

    @Test func perfectAndHandComputedCases() {
        let gt = COCODataset(
            images: [COCOImage(id: 1, width: 100, height: 100, fileName: "a"), COCOImage(id: 2, width: 100, height: 100, fileName: "b")],
            annotations: [COCOAnnotation(id: 1, imageID: 1, categoryID: 1, box: Box(x: 0, y: 0, width: 10, height: 10)),
                          COCOAnnotation(id: 2, imageID: 2, categoryID: 1, box: Box(x: 50, y: 50, width: 20, height: 20))],
            categories: [COCOCategory(id: 1, name: "x"), COCOCategory(id: 2, name: "unused")])
        let perfect = gt.annotations.map { COCODetection(imageID: $0.imageID, categoryID: 1, box: $0.box, score: 0.9) }
        let p = COCOEvaluation(groundTruth: gt, detections: perfect)
        #expect(p.mAP == 1 && p.mAP50 == 1 && p.perCategory[2] == -1)
        // One hit then a false positive scored higher: precision 1/2 at recall 0.5 and 1 → AP 0.5
        // until recall 0.5 … with the false positive first, pr = [0, 0.5, 0.667] made monotone.
        let mixed = [COCODetection(imageID: 1, categoryID: 1, box: Box(x: 80, y: 80, width: 5, height: 5), score: 0.95)] + perfect
        let m = COCOEvaluation(groundTruth: gt, detections: mixed)
        // rc = [0, .5, 1], pr = [0, .5, 2/3] → monotone [2/3, 2/3, 2/3]: every recall point reads 2/3.
        #expect(abs(m.mAP50 - 2.0 / 3) < 1e-12)
    }

    @Test func meanIoUMatchesNumpy() throws {
        let set = try Self.canvases(seed: 7)
        var g = SeededGenerator(seed: 9)
        let truth = set.masks.map { g.unit() < 0.01 ? UInt8(255) : $0 }
        let predicted = set.masks.map { g.unit() < 0.2 ? UInt8(g.below(11)) : $0 }
        var metrics = SegmentationMetrics(classCount: 11)
        try metrics.add(truth: truth, predicted: predicted)
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(truth).write(to: URL(fileURLWithPath: "\(dir)/t.u8"))
        try Data(predicted).write(to: URL(fileURLWithPath: "\(dir)/p.u8"))
        let oracle = try Oracle.run(["miou", "\(dir)/t.u8", "\(dir)/p.u8", "11", "255"])
        let miou = try #require(oracle["miou"].flatMap(Double.init)), accuracy = try #require(oracle["pixel_accuracy"].flatMap(Double.init))
        #expect(abs(metrics.meanIoU - miou) < 1e-12, "mIoU \(metrics.meanIoU) vs numpy \(miou)")
        #expect(abs(metrics.pixelAccuracy - accuracy) < 1e-12)
        #expect(metrics.meanIoU > 0.3 && metrics.meanIoU < 0.95)
        #expect(throws: DetectionError.self) { try metrics.add(truth: [0, 1], predicted: [0]) }
        #expect(throws: DetectionError.self) { try metrics.add(truth: [0, 12], predicted: [0, 1]) }
    }
}

/// Synthetic 28×28 items: filled rectangles and discs of varied size and grey level, labels 0...9.
enum Synthetic {
    static func items(count: Int) throws -> ImageDataset {
        var pixels = [Float](repeating: 0, count: count * 784), labels: [Int64] = []
        var g = SeededGenerator(seed: 42)
        for i in 0..<count {
            let w = 8 + g.below(18), h = 8 + g.below(18), x0 = g.below(28 - w + 1), y0 = g.below(28 - h + 1)
            let level = Float(0.3 + 0.7 * g.unit()), disc = i % 2 == 0
            for y in y0..<(y0 + h) {
                for x in x0..<(x0 + w) {
                    let dx = (Double(x - x0) + 0.5) / Double(w) - 0.5, dy = (Double(y - y0) + 0.5) / Double(h) - 0.5
                    if !disc || dx * dx + dy * dy <= 0.25 { pixels[i * 784 + y * 28 + x] = level }
                }
            }
            labels.append(Int64(i % 10))
        }
        return try ImageDataset(images: pixels, labels: labels, channels: 1, height: 28, width: 28, classCount: 10)
    }
}
