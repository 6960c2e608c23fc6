import Foundation
import LatheData
import LatheDetection
import LatheTensor

/// CenterNet's target encoding and box decoding ("Objects as Points", Zhou, Wang & Krähenbühl
/// 2019, and its official code `CenterNet/src/lib`): the detector's output `[N, C + 4, h, w]`
/// (stride `stride`) holds per class a centre heatmap logit, then the box width and height and
/// the centre's sub-pixel offset x, y, in output pixels.
public enum CenterNetCoding {
    /// Input pixels per output pixel (the zoo's `centernet` predicts on the stride-4 level).
    public static let stride = 4
    /// Detections kept per image when decoding (COCO's `maxDets` = 100).
    public static let maxDetections = 100

    /// The training target `[N, C + 5, h, w]` of `boxes` (one list per image): per class a
    /// Gaussian centre heatmap (peak exactly 1 at the centre's pixel, radius from the box size as
    /// `gaussian_radius` with min overlap 0.7, σ = (2r + 1) / 6; overlapping peaks keep the
    /// maximum), then at each centre pixel the width and height (output pixels), the offset of
    /// the true centre from the pixel, and a 1 in the last channel marking the centre.
    public static func encode(_ boxes: [[LabelledBox]], classes: Int, height: Int, width: Int) throws -> Tensor {
        let h = height / stride, w = width / stride, plane = h * w, channels = classes + 5
        var t = [Float](repeating: 0, count: boxes.count * channels * plane)
        let s = Double(stride)
        for (n, list) in boxes.enumerated() {
            let base = n * channels * plane
            for b in list {
                let bw = b.width / s, bh = b.height / s
                let cx = (b.x + b.width / 2) / s, cy = (b.y + b.height / 2) / s
                let px = Swift.min(w - 1, Int(cx)), py = Swift.min(h - 1, Int(cy))
                let r = Swift.max(0, Int(gaussianRadius(height: bh.rounded(.up), width: bw.rounded(.up))))
                let sigma = Double(2 * r + 1) / 6
                let heat = base + b.label * plane
                for y in Swift.max(0, py - r)...Swift.min(h - 1, py + r) {
                    for x in Swift.max(0, px - r)...Swift.min(w - 1, px + r) {
                        let dx = Double(x - px), dy = Double(y - py)
                        let g = Float(Foundation.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)))
                        t[heat + y * w + x] = Swift.max(t[heat + y * w + x], g)
                    }
                }
                let at = py * w + px
                for (k, value) in [bw, bh, cx - Double(px), cy - Double(py), 1].enumerated() {
                    t[base + (classes + k) * plane + at] = Float(value)
                }
            }
        }
        return try Tensor(t, shape: [boxes.count, channels, h, w])
    }

    /// CenterNet's `gaussian_radius` (min overlap 0.7) of a box of `height × width` output pixels.
    static func gaussianRadius(height: Double, width: Double, minOverlap m: Double = 0.7) -> Double {
        let b1 = height + width, c1 = width * height * (1 - m) / (1 + m)
        let r1 = (b1 + (b1 * b1 - 4 * c1).squareRoot()) / 2
        let b2 = 2 * (height + width), c2 = (1 - m) * width * height
        let r2 = (b2 + (b2 * b2 - 16 * c2).squareRoot()) / 2
        let a3 = 4 * m, b3 = -2 * m * (height + width), c3 = (m - 1) * width * height
        let r3 = (b3 + (b3 * b3 - 4 * a3 * c3).squareRoot()) / 2
        return Swift.min(r1, r2, r3)
    }

    /// The training loss of `output` `[N, C + 4, h, w]` against `target` (`encode`): CenterNet's
    /// penalty-reduced focal loss on the heatmaps (α = 2, β = 4, probabilities clamped to
    /// [1e-4, 1 − 1e-4] as its `_sigmoid`), plus 0.1 × L1 on the sizes and 1 × L1 on the
    /// offsets at the centres, each normalised by the number of objects.
    public static func loss(_ output: Tensor, _ target: Tensor) throws -> Tensor {
        let channels = output.shape.count == 4 ? output.shape[1] : 0
        guard channels > 4, target.shape == [output.shape[0], channels + 1] + output.shape.dropFirst(2) else {
            throw TrainingError.dataModelMismatch("the detection output \(output.shape) does not match the target \(target.shape) (expected [N, classes + 4, h, w] against [N, classes + 5, h, w])")
        }
        let classes = channels - 4
        let p = try output.narrowed(1, start: 0, length: classes).sigmoid().clamped(1e-4, 1 - 1e-4)
        let gt = try target.narrowed(1, start: 0, length: classes)
        let positive = try gt.eq(1).converted(to: .float32)
        let negative = try 1 - positive
        let objects = try Swift.max(1, target.narrowed(1, start: channels, length: 1).sum().item())
        let positiveLoss = try (p.log() * (1 - p).pow(2) * positive).sum()
        let negativeLoss = try ((1 - p).log() * p.pow(2) * (1 - gt).pow(4) * negative).sum()
        let focal = try (positiveLoss + negativeLoss) * (-1 / objects)
        let mask = try target.narrowed(1, start: channels, length: 1)
        let size = try ((output.narrowed(1, start: classes, length: 2) - target.narrowed(1, start: classes, length: 2)).abs() * mask).sum() * (0.1 / objects)
        let offset = try ((output.narrowed(1, start: classes + 2, length: 2) - target.narrowed(1, start: classes + 2, length: 2)).abs() * mask).sum() * (1 / objects)
        return try focal + size + offset
    }

    /// Boxes from `output` `[N, C + 4, h, w]`: heatmap peaks (a 3×3 max-pool keeps local maxima,
    /// CenterNet's NMS), the `maxDetections` highest per image over all classes, each with its
    /// size and offset, in input pixels, clipped to the `imageSize` square. `firstImageID` is
    /// the COCO image id of the first image; category ids are class + 1.
    public static func decode(_ output: Tensor, imageSize: Int, firstImageID: Int) throws -> [COCODetection] {
        let n = output.shape[0], classes = output.shape[1] - 4, h = output.shape[2], w = output.shape[3], plane = h * w
        let heat = try output.narrowed(1, start: 0, length: classes).sigmoid()
        let peaks = try heat * heat.maxPool2d(kernel: 3, stride: 1, padding: 1).eq(heat).converted(to: .float32)
        let k = Swift.min(maxDetections, classes * plane)
        let (scores, indices) = try peaks.reshaped([n, classes * plane]).topk(k, dim: 1)
        let s = try scores.contiguous().scalars(as: Float.self), i = try indices.contiguous().scalars(as: Int64.self)
        let geometry = try output.narrowed(1, start: classes, length: 4).contiguous().scalars(as: Float.self)
        let limit = Double(imageSize), scale = Double(stride)
        var out: [COCODetection] = []
        out.reserveCapacity(n * k)
        for image in 0..<n {
            for j in 0..<k {
                let index = Int(i[image * k + j]), at = index % plane
                let (y, x) = (at / w, at % w)
                let g = { (c: Int) in Double(geometry[(image * 4 + c) * plane + at]) }
                let cx = (Double(x) + g(2)) * scale, cy = (Double(y) + g(3)) * scale
                let bw = Swift.max(0, g(0)) * scale, bh = Swift.max(0, g(1)) * scale
                let x0 = Swift.min(limit, Swift.max(0, cx - bw / 2)), y0 = Swift.min(limit, Swift.max(0, cy - bh / 2))
                let x1 = Swift.min(limit, Swift.max(0, cx + bw / 2)), y1 = Swift.min(limit, Swift.max(0, cy + bh / 2))
                out.append(COCODetection(imageID: firstImageID + image, categoryID: index / plane + 1,
                                         box: Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0), score: Double(s[image * k + j])))
            }
        }
        return out
    }
}
