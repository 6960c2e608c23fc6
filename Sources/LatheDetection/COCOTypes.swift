/// An axis-aligned box in COCO's convention: top-left corner and size, in pixels.
public struct Box: Sendable, Equatable, Hashable {
    public var x: Double, y: Double, width: Double, height: Double

    /// A box at (`x`, `y`) of `width`×`height`.
    public init(x: Double, y: Double, width: Double, height: Double) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }

    /// `width · height`.
    public var area: Double { width * height }

    /// Intersection over union, computed as pycocotools does (`maskUtils.iou` on boxes): 0 when
    /// the boxes do not overlap; with `crowd` the union is this box's area alone.
    public func iou(_ other: Box, crowd: Bool = false) -> Double {
        let w = min(x + width, other.x + other.width) - max(x, other.x)
        guard w > 0 else { return 0 }
        let h = min(y + height, other.y + other.height) - max(y, other.y)
        guard h > 0 else { return 0 }
        let i = w * h
        let u = crowd ? area : area + other.area - i
        return i / u
    }
}

/// An image entry of a COCO file.
public struct COCOImage: Sendable, Equatable {
    public var id: Int, width: Int, height: Int
    public var fileName: String

    /// An image entry.
    public init(id: Int, width: Int, height: Int, fileName: String) {
        (self.id, self.width, self.height, self.fileName) = (id, width, height, fileName)
    }
}

/// A category entry of a COCO file.
public struct COCOCategory: Sendable, Equatable {
    public var id: Int
    public var name: String

    /// A category entry.
    public init(id: Int, name: String) { (self.id, self.name) = (id, name) }
}

/// A ground-truth box of a COCO file.
public struct COCOAnnotation: Sendable, Equatable {
    public var id: Int, imageID: Int, categoryID: Int
    public var box: Box
    /// The object's area (COCO: of its segmentation); only the area ranges of the metrics use it.
    public var area: Double
    /// Crowd regions; read and written, but every metric here treats annotations as non-crowd.
    public var isCrowd: Bool

    /// An annotation; `area` defaults to the box's.
    public init(id: Int, imageID: Int, categoryID: Int, box: Box, area: Double? = nil, isCrowd: Bool = false) {
        (self.id, self.imageID, self.categoryID, self.box) = (id, imageID, categoryID, box)
        self.area = area ?? box.area
        self.isCrowd = isCrowd
    }
}

/// A predicted box: COCO's results format (`[{"image_id", "category_id", "bbox", "score"}]`).
public struct COCODetection: Sendable, Equatable {
    public var imageID: Int, categoryID: Int
    public var box: Box
    public var score: Double

    /// A prediction.
    public init(imageID: Int, categoryID: Int, box: Box, score: Double) {
        (self.imageID, self.categoryID, self.box, self.score) = (imageID, categoryID, box, score)
    }
}

/// A COCO detection file: images, box annotations, categories.
public struct COCODataset: Sendable, Equatable {
    public var images: [COCOImage]
    public var annotations: [COCOAnnotation]
    public var categories: [COCOCategory]

    /// A data set (not validated; `COCODataset.read` validates what it reads).
    public init(images: [COCOImage], annotations: [COCOAnnotation], categories: [COCOCategory]) {
        (self.images, self.annotations, self.categories) = (images, annotations, categories)
    }
}
