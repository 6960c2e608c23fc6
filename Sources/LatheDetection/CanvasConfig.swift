/// How `fmnist-detect` / `fmnist-seg` canvases are made. Every field is part of the cache key.
public struct CanvasConfig: Sendable, Equatable, Codable {
    /// Canvas side in pixels.
    public var size = 96
    /// Items per canvas, drawn uniformly from `minItems...maxItems` (fewer when an item finds
    /// no place that keeps every earlier item visible enough).
    public var minItems = 1, maxItems = 6
    /// Item scale relative to 28 px, uniform in `minScale...maxScale`; the item is resized to
    /// `round(28 · scale)` px square with bilinear interpolation (half-pixel centres, as
    /// PyTorch's `align_corners=False`).
    public var minScale = 0.75, maxScale = 1.5
    /// An item pixel is foreground when its grey value (0...255, after resizing) is at least
    /// this; only foreground pixels are drawn, labelled in the mask and boxed.
    public var threshold = 26
    /// Occlusion rule: an item is placed only where every earlier item keeps at least this
    /// fraction of its foreground pixels visible (up to `placementAttempts` positions, else
    /// the item is left out). Boxes are tight around the visible pixels.
    public var minVisible = 0.5
    public var placementAttempts = 20
    /// Canvases per split.
    public var trainCount = 20_000, validationCount = 2_000, testCount = 4_000
    /// Fashion-MNIST training images held out for the validation canvases (the rest make the
    /// train canvases; the test canvases use Fashion-MNIST's test images only).
    public var validationPool = 6_000
    /// Seed of the pool split and of every canvas.
    public var seed: UInt64 = 0

    /// The defaults: 96 px, 1–6 items, scale 0.75–1.5, threshold 26, 20k/2k/4k canvases, seed 0.
    public init() {}

    /// The defaults with at most `train`, `val` and `test` canvases per split (nil: the
    /// default count). Each split is one seeded stream, so these are exactly the first canvases
    /// of the default splits.
    public static func limited(train: Int? = nil, val: Int? = nil, test: Int? = nil) -> CanvasConfig {
        var config = CanvasConfig()
        if let train { config.trainCount = max(0, min(train, config.trainCount)) }
        if let val { config.validationCount = max(0, min(val, config.validationCount)) }
        if let test { config.testCount = max(0, min(test, config.testCount)) }
        return config
    }

    /// Checks ranges; `source` names the origin of the values in errors.
    public func validate(source: String = "<config>") throws {
        func check(_ ok: Bool, _ reason: String) throws { if !ok { throw DetectionError(path: source, reason: reason) } }
        try check(size >= 8 && size <= 4096, "canvas size \(size) outside 8...4096")
        try check(minItems >= 1 && maxItems >= minItems && maxItems <= 255, "items \(minItems)...\(maxItems): need 1 ≤ min ≤ max ≤ 255")
        try check(minScale > 0 && maxScale >= minScale && Int((28 * maxScale).rounded()) <= size,
                  "scale \(minScale)...\(maxScale): need 0 < min ≤ max and 28·max ≤ the canvas size \(size)")
        try check((1...255).contains(threshold), "threshold \(threshold) outside 1...255")
        try check(minVisible >= 0 && minVisible <= 1 && placementAttempts >= 1, "min visible \(minVisible) outside 0...1 or placement attempts \(placementAttempts) < 1")
        try check(trainCount >= 0 && validationCount >= 0 && testCount >= 0, "canvas counts must not be negative")
        try check(validationPool >= 1, "validation pool \(validationPool) must be at least 1")
    }

    /// A canonical text of every field, hashed into the cache key.
    var canonical: String {
        "size=\(size) items=\(minItems)-\(maxItems) scale=\(minScale)-\(maxScale) threshold=\(threshold) minVisible=\(minVisible) attempts=\(placementAttempts) "
            + "counts=\(trainCount)/\(validationCount)/\(testCount) validationPool=\(validationPool) seed=\(seed)"
    }
}

/// The three canvas splits.
public enum CanvasSplit: String, Sendable, CaseIterable {
    case train, val, test
}
