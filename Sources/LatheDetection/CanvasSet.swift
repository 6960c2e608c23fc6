/// One item placed on a canvas.
public struct CanvasObject: Sendable, Equatable {
    /// The canvas holding it (index into the set).
    public var canvas: Int
    /// Detection category id, 1...10 (Fashion-MNIST label + 1); also its value in the mask.
    public var category: Int
    /// Tight box around its visible pixels, in pixel-edge coordinates: it covers columns
    /// `x ..< x + width` and rows `y ..< y + height`.
    public var x: Int, y: Int, width: Int, height: Int
    /// Visible pixels (its pixels in the instance map): COCO's `area`.
    public var area: Int
    /// Index of the Fashion-MNIST image it was made from, in its source split (train for the
    /// train and val canvases, test for the test canvases).
    public var source: Int

    /// An item; see the properties.
    public init(canvas: Int, category: Int, x: Int, y: Int, width: Int, height: Int, area: Int, source: Int) {
        (self.canvas, self.category, self.x, self.y, self.width, self.height, self.area, self.source) = (canvas, category, x, y, width, height, area, source)
    }
}

/// Square grey canvases with their items: the `fmnist-detect` boxes and the `fmnist-seg` masks
/// of one split.
public struct CanvasSet: Sendable, Equatable {
    /// Canvas side in pixels.
    public let size: Int
    /// `count · size · size` grey values, row-major.
    public let images: [UInt8]
    /// `count · size · size` class ids: 0 background, 1...10 the category of the item seen there.
    public let masks: [UInt8]
    /// Every item, sorted by canvas and, within a canvas, in drawing order (later items occlude
    /// earlier ones).
    public let objects: [CanvasObject]
    /// `objects[objectStart[i] ..< objectStart[i + 1]]` are canvas `i`'s.
    public let objectStart: [Int]

    /// Number of canvases.
    public var count: Int { objectStart.count - 1 }
    /// Categories (1...10) with their Fashion-MNIST names.
    public static let categories: [(id: Int, name: String)] = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ].enumerated().map { ($0.offset + 1, $0.element) }

    /// A set; checks that the arrays agree with `size`, that objects are sorted by canvas and
    /// lie inside it.
    public init(size: Int, images: [UInt8], masks: [UInt8], objects: [CanvasObject], path: String = "<memory>") throws {
        guard size > 0, images.count % (size * size) == 0, masks.count == images.count else {
            throw DetectionError(path: path, reason: "\(images.count) image and \(masks.count) mask values do not make whole \(size)×\(size) canvases")
        }
        let count = images.count / (size * size)
        var start = [Int](repeating: 0, count: count + 1)
        var previous = 0
        for (i, o) in objects.enumerated() {
            guard o.canvas >= previous, o.canvas < count else {
                throw DetectionError(path: path, entry: "object \(i)", reason: "canvas \(o.canvas) out of order or outside 0..<\(count)")
            }
            guard (1...10).contains(o.category), o.width > 0, o.height > 0, o.x >= 0, o.y >= 0, o.x + o.width <= size, o.y + o.height <= size else {
                throw DetectionError(path: path, entry: "object \(i)", reason: "category \(o.category) or box [\(o.x), \(o.y), \(o.width), \(o.height)] outside 1...10 / the \(size)×\(size) canvas")
            }
            previous = o.canvas
            start[o.canvas + 1] += 1
        }
        for i in 0..<count { start[i + 1] += start[i] }
        self.size = size
        self.images = images
        self.masks = masks
        self.objects = objects
        objectStart = start
    }

    /// Canvas `i`'s items.
    public func objects(in i: Int) -> ArraySlice<CanvasObject> { objects[objectStart[i]..<objectStart[i + 1]] }

    /// Canvas `i`'s pixels scaled to [0, 1].
    public func pixels(_ i: Int) -> [Float] {
        let n = size * size
        return images[(i * n)..<((i + 1) * n)].map { Float($0) / 255 }
    }

    /// Canvas `i`'s class mask.
    public func mask(_ i: Int) -> ArraySlice<UInt8> {
        let n = size * size
        return masks[(i * n)..<((i + 1) * n)]
    }

    /// The boxes as COCO ground truth: image ids are canvas index + 1, annotation ids object
    /// index + 1, `area` the visible pixel count.
    public func cocoGroundTruth() -> COCODataset {
        COCODataset(
            images: (0..<count).map { COCOImage(id: $0 + 1, width: size, height: size, fileName: "\($0).png") },
            annotations: objects.enumerated().map { i, o in
                COCOAnnotation(id: i + 1, imageID: o.canvas + 1, categoryID: o.category,
                               box: Box(x: Double(o.x), y: Double(o.y), width: Double(o.width), height: Double(o.height)), area: Double(o.area))
            },
            categories: Self.categories.map { COCOCategory(id: $0.id, name: $0.name) })
    }
}
