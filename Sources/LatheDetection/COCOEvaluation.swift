/// COCO box mAP as pycocotools' `COCOeval` computes it (Lin et al. 2014; `cocoeval.py`), for the
/// area range "all" and one `maxDetections` (default 100): per image and category, detections
/// sorted by score (stable) and cut to `maxDetections`, greedily matched to the unmatched ground
/// truth of highest IoU ≥ the threshold; per category, the precision/recall curve over all images
/// made monotone and read at 101 recall points (0, 0.01, …, 1: the first point where recall
/// reaches it, 0 beyond the curve); mAP is the mean over IoU thresholds 0.5:0.05:0.95, recall
/// points and categories that have ground truth. Crowd annotations are treated as ordinary.
public struct COCOEvaluation: Sendable {
    /// mAP@[.5:.95] (COCO's AP, `stats[0]`); -1 when no category has ground truth, as pycocotools.
    public let mAP: Double
    /// mAP at IoU 0.5 (`stats[1]`).
    public let mAP50: Double
    /// mAP at IoU 0.75 (`stats[2]`).
    public let mAP75: Double
    /// Per category id: AP@[.5:.95] (-1 when the category has no ground truth).
    public let perCategory: [Int: Double]
    /// The 10 IoU thresholds, as `np.linspace(.5, .95, 10)`.
    public static let iouThresholds: [Double] = linspace(0.5, 0.95, 10)
    /// The 101 recall points, as `np.linspace(0, 1, 101)`.
    public static let recallPoints: [Double] = linspace(0, 1, 101)

    /// Evaluates `detections` against `groundTruth` (categories and images from the ground truth;
    /// detections of other images or categories are not counted).
    public init(groundTruth: COCODataset, detections: [COCODetection], maxDetections: Int = 100) {
        let imageIDs = groundTruth.images.map(\.id).sorted()
        let categoryIDs = groundTruth.categories.map(\.id).sorted()
        struct Key: Hashable { let image: Int, category: Int }
        var gts: [Key: [Box]] = [:], dts: [Key: [COCODetection]] = [:]
        for a in groundTruth.annotations { gts[Key(image: a.imageID, category: a.categoryID), default: []].append(a.box) }
        for d in detections { dts[Key(image: d.imageID, category: d.categoryID), default: []].append(d) }
        let thresholds = Self.iouThresholds, recalls = Self.recallPoints
        var precision = [[Double]](repeating: [], count: categoryIDs.count)  // [category][threshold · recall]
        for (k, category) in categoryIDs.enumerated() {
            // Per image: the kept detections' scores and, per threshold, matched flags.
            var scores: [Double] = [], matched: [[Bool]] = Array(repeating: [], count: thresholds.count)
            var groundTruthCount = 0
            for image in imageIDs {
                let key = Key(image: image, category: category)
                let g = gts[key] ?? []
                let d = Array(Self.stableSorted(dts[key] ?? []).prefix(maxDetections))
                groundTruthCount += g.count
                if g.isEmpty && d.isEmpty { continue }
                let ious = d.map { det in g.map { det.box.iou($0) } }
                for (t, threshold) in thresholds.enumerated() {
                    var taken = [Bool](repeating: false, count: g.count)
                    for di in d.indices {
                        var best = min(threshold, 1 - 1e-10), match = -1
                        for gi in g.indices where !taken[gi] {
                            if ious[di][gi] < best { continue }
                            best = ious[di][gi]
                            match = gi
                        }
                        if match >= 0 { taken[match] = true }
                        matched[t].append(match >= 0)
                    }
                }
                scores += d.map(\.score)
            }
            guard groundTruthCount > 0 else { precision[k] = []; continue }
            let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            var curve = [Double](repeating: 0, count: thresholds.count * recalls.count)
            for t in thresholds.indices {
                var tp = 0.0, fp = 0.0
                var rc = [Double](), pr = [Double]()
                rc.reserveCapacity(order.count); pr.reserveCapacity(order.count)
                for i in order {
                    if matched[t][i] { tp += 1 } else { fp += 1 }
                    rc.append(tp / Double(groundTruthCount))
                    pr.append(tp / (fp + tp + Double.ulpOfOne))
                }
                if pr.count > 1 { for i in stride(from: pr.count - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] } }
                var j = 0
                for (r, point) in recalls.enumerated() {
                    while j < rc.count && rc[j] < point { j += 1 }
                    guard j < rc.count else { break }
                    curve[t * recalls.count + r] = pr[j]
                }
            }
            precision[k] = curve
        }
        func mean(_ values: [Double]) -> Double { values.isEmpty ? -1 : values.reduce(0, +) / Double(values.count) }
        let n = recalls.count
        let all = precision.filter { !$0.isEmpty }
        mAP = mean(all.flatMap { $0 })
        mAP50 = mean(all.flatMap { $0[0..<n] })
        mAP75 = mean(all.flatMap { $0[(5 * n)..<(6 * n)] })
        perCategory = Dictionary(uniqueKeysWithValues: zip(categoryIDs, precision.map { $0.isEmpty ? -1 : mean($0) }))
    }

    /// pycocotools sorts by `np.argsort(-score, kind='mergesort')`: descending, ties in input order.
    static func stableSorted(_ d: [COCODetection]) -> [COCODetection] {
        d.indices.sorted { d[$0].score > d[$1].score || (d[$0].score == d[$1].score && $0 < $1) }.map { d[$0] }
    }

    /// `np.linspace(start, stop, count)`: `start + i · step`, the last value exactly `stop`.
    static func linspace(_ start: Double, _ stop: Double, _ count: Int) -> [Double] {
        let step = (stop - start) / Double(count - 1)
        return (0..<count).map { $0 == count - 1 ? stop : start + Double($0) * step }
    }
}
