import LatheData

/// Makes canvases from Fashion-MNIST items (see `CanvasConfig` for every rule).
public enum CanvasGenerator {
    /// The Fashion-MNIST indices each split draws items from: train and val split Fashion-MNIST's
    /// training images (a seeded shuffle; the last `validationPool` go to val), test uses all of
    /// Fashion-MNIST's test images. No test image can reach a train or val canvas.
    public static func pool(_ split: CanvasSplit, config: CanvasConfig, sourceCount: Int) throws -> [Int] {
        if split == .test { return Array(0..<sourceCount) }
        guard config.validationPool < sourceCount else {
            throw DetectionError(path: "<config>", reason: "validation pool \(config.validationPool) leaves no training images of \(sourceCount)")
        }
        var order = Array(0..<sourceCount)
        var generator = SeededGenerator(seed: config.seed ^ 0x706F_6F6C)
        generator.shuffle(&order)
        let cut = sourceCount - config.validationPool
        return split == .train ? Array(order[..<cut]) : Array(order[cut...])
    }

    /// The canvases of `split`, made from `source` (Fashion-MNIST's training images for train
    /// and val, its test images for test; 28×28, one channel, values in [0, 1]).
    public static func generate(_ split: CanvasSplit, config: CanvasConfig, source: ImageDataset) throws -> CanvasSet {
        try config.validate()
        guard source.channels == 1, source.count > 0 else {
            throw DetectionError(path: "<memory>", reason: "source images must be one-channel and at least one; found \(source.channels) channels, \(source.count) images")
        }
        let pool = try pool(split, config: config, sourceCount: source.count)
        let count = switch split { case .train: config.trainCount; case .val: config.validationCount; case .test: config.testCount }
        let size = config.size, plane = size * size
        var images = [UInt8](repeating: 0, count: count * plane)
        var masks = [UInt8](repeating: 0, count: count * plane)
        var objects: [CanvasObject] = []
        let splitSalt: UInt64 = switch split { case .train: 1; case .val: 2; case .test: 3 }
        var generator = SeededGenerator(seed: config.seed &* 0x9E37_79B9_7F4A_7C15 &+ splitSalt)
        for c in 0..<count {
            var canvas = Canvas(size: size)
            let wanted = config.minItems + generator.below(config.maxItems - config.minItems + 1)
            for _ in 0..<wanted {
                let index = pool[generator.below(pool.count)]
                let scale = config.minScale + (config.maxScale - config.minScale) * generator.unit()
                let side = max(1, Int((28 * scale).rounded()))
                let item = Item(resizing: source, index: index, side: side, threshold: config.threshold)
                guard item.foreground > 0 else { continue }
                for _ in 0..<config.placementAttempts {
                    let x = generator.below(size - side + 1), y = generator.below(size - side + 1)
                    if canvas.place(item, x: x, y: y, label: UInt8(source.labels[index] + 1), source: index, minVisible: config.minVisible) { break }
                }
            }
            canvas.write(into: &images, masks: &masks, objects: &objects, canvasIndex: c)
        }
        return try CanvasSet(size: size, images: images, masks: masks, objects: objects)
    }
}

/// One resized item: grey values and which of them are foreground.
struct Item {
    let side: Int
    let values: [UInt8]
    let isForeground: [Bool]
    let foreground: Int

    /// Bilinear resize of image `index` of `source` to `side`×`side`, half-pixel centres.
    init(resizing source: ImageDataset, index: Int, side: Int, threshold: Int) {
        let h = source.height, w = source.width, base = index * source.imageSize
        var values = [UInt8](repeating: 0, count: side * side)
        let sy = Double(h) / Double(side), sx = Double(w) / Double(side)
        for oy in 0..<side {
            let fy = min(max((Double(oy) + 0.5) * sy - 0.5, 0), Double(h - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, h - 1), ty = fy - Double(y0)
            for ox in 0..<side {
                let fx = min(max((Double(ox) + 0.5) * sx - 0.5, 0), Double(w - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, w - 1), tx = fx - Double(x0)
                func p(_ yy: Int, _ xx: Int) -> Double { Double(source.images[base + yy * w + xx]) }
                let top = p(y0, x0) * (1 - tx) + p(y0, x1) * tx, bottom = p(y1, x0) * (1 - tx) + p(y1, x1) * tx
                values[oy * side + ox] = UInt8(min(max((top * (1 - ty) + bottom * ty) * 255, 0), 255).rounded())
            }
        }
        self.side = side
        self.values = values
        isForeground = values.map { Int($0) >= threshold }
        foreground = isForeground.reduce(0) { $0 + ($1 ? 1 : 0) }
    }
}

/// A canvas being drawn: grey values, the instance seen at each pixel, and each instance's
/// foreground size, so that occlusion can be checked before an item is committed.
struct Canvas {
    let size: Int
    var grey: [UInt8]
    var instance: [UInt8]
    var visible: [Int] = []
    var total: [Int] = []
    var labels: [UInt8] = []
    var sources: [Int] = []

    init(size: Int) {
        self.size = size
        grey = [UInt8](repeating: 0, count: size * size)
        instance = [UInt8](repeating: 0, count: size * size)
    }

    /// Draws `item` at (`x`, `y`) unless that leaves an earlier item with less than
    /// `minVisible` of its foreground visible; returns whether it was drawn.
    mutating func place(_ item: Item, x: Int, y: Int, label: UInt8, source: Int, minVisible: Double) -> Bool {
        guard visible.count < 255 else { return false }
        var lost = [Int](repeating: 0, count: visible.count)
        for r in 0..<item.side {
            for c in 0..<item.side where item.isForeground[r * item.side + c] {
                let k = Int(instance[(y + r) * size + x + c])
                if k > 0 { lost[k - 1] += 1 }
            }
        }
        for k in visible.indices where Double(visible[k] - lost[k]) < minVisible * Double(total[k]) { return false }
        let id = UInt8(visible.count + 1)
        for r in 0..<item.side {
            for c in 0..<item.side where item.isForeground[r * item.side + c] {
                let at = (y + r) * size + x + c
                grey[at] = item.values[r * item.side + c]
                instance[at] = id
            }
        }
        for k in visible.indices { visible[k] -= lost[k] }
        visible.append(item.foreground)
        total.append(item.foreground)
        labels.append(label)
        sources.append(source)
        return true
    }

    /// Appends this canvas's pixels, class mask and objects (boxes tight around the visible
    /// pixels) to the set being built.
    func write(into images: inout [UInt8], masks: inout [UInt8], objects: inout [CanvasObject], canvasIndex: Int) {
        let base = canvasIndex * size * size
        var minX = [Int](repeating: Int.max, count: labels.count), minY = minX
        var maxX = [Int](repeating: -1, count: labels.count), maxY = maxX
        for r in 0..<size {
            for c in 0..<size {
                let at = r * size + c
                images[base + at] = grey[at]
                let k = Int(instance[at])
                guard k > 0 else { continue }
                masks[base + at] = labels[k - 1]
                minX[k - 1] = min(minX[k - 1], c); maxX[k - 1] = max(maxX[k - 1], c)
                minY[k - 1] = min(minY[k - 1], r); maxY[k - 1] = max(maxY[k - 1], r)
            }
        }
        for k in labels.indices where visible[k] > 0 {
            objects.append(CanvasObject(canvas: canvasIndex, category: Int(labels[k]), x: minX[k], y: minY[k],
                                        width: maxX[k] - minX[k] + 1, height: maxY[k] - minY[k] + 1, area: visible[k], source: sources[k]))
        }
    }
}

extension SeededGenerator {
    /// Uniform in `0..<n` (n ≥ 1), by modulo: the same value on every platform (the bias is below 2⁻⁴⁰ for the n used here).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    /// Uniform in [0, 1) with 53 random bits.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
