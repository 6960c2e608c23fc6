import Foundation
import LatheIO

extension COCODataset {
    /// Reads a COCO detection file (`images`, `annotations` with `bbox` [x, y, w, h] and
    /// `category_id`, `categories`) and validates it: every required key present with the right
    /// type, unique ids, annotations naming known images and categories, boxes of non-negative
    /// finite size inside their image (within `tolerance` pixels). Errors name the file and the
    /// entry, e.g. `annotations[3] (id 17)`.
    public static func read(path: String, tolerance: Double = 0) throws -> COCODataset {
        let root = try JSONFields.object(try JSONFields.parse(path: path), path: path, entry: "")
        var fields = JSONFields(path: path, entry: "")
        let imageValues = try fields.array(root, "images")
        let annotationValues = try fields.array(root, "annotations")
        let categoryValues = try fields.array(root, "categories")

        var images: [COCOImage] = [], imageIndex: [Int: Int] = [:]
        for (i, value) in imageValues.enumerated() {
            fields.entry = "images[\(i)]"
            let object = try JSONFields.object(value, path: path, entry: fields.entry)
            let id = try fields.int(object, "id")
            fields.entry = "images[\(i)] (id \(id))"
            let image = COCOImage(id: id, width: try fields.int(object, "width"), height: try fields.int(object, "height"),
                                  fileName: try fields.optionalString(object, "file_name") ?? "")
            guard image.width > 0, image.height > 0 else { throw fields.error("size \(image.width)×\(image.height) must be positive") }
            guard imageIndex[id] == nil else { throw fields.error("duplicate image id \(id)") }
            imageIndex[id] = images.count
            images.append(image)
        }
        var categories: [COCOCategory] = [], categoryIDs: Set<Int> = []
        for (i, value) in categoryValues.enumerated() {
            fields.entry = "categories[\(i)]"
            let object = try JSONFields.object(value, path: path, entry: fields.entry)
            let category = COCOCategory(id: try fields.int(object, "id"), name: try fields.optionalString(object, "name") ?? "")
            guard categoryIDs.insert(category.id).inserted else { throw fields.error("duplicate category id \(category.id)") }
            categories.append(category)
        }
        var annotations: [COCOAnnotation] = [], annotationIDs: Set<Int> = []
        for (i, value) in annotationValues.enumerated() {
            fields.entry = "annotations[\(i)]"
            let object = try JSONFields.object(value, path: path, entry: fields.entry)
            let id = try fields.int(object, "id")
            fields.entry = "annotations[\(i)] (id \(id))"
            guard annotationIDs.insert(id).inserted else { throw fields.error("duplicate annotation id \(id)") }
            let imageID = try fields.int(object, "image_id"), categoryID = try fields.int(object, "category_id")
            let box = try fields.box(object)
            guard let at = imageIndex[imageID] else { throw fields.error("image_id \(imageID) is not in images") }
            guard categoryIDs.contains(categoryID) else {
                throw fields.error("category_id \(categoryID) is not in categories (\(categories.map { String($0.id) }.joined(separator: ", ")))")
            }
            let image = images[at]
            guard box.x >= -tolerance, box.y >= -tolerance, box.x + box.width <= Double(image.width) + tolerance,
                  box.y + box.height <= Double(image.height) + tolerance else {
                throw fields.error("bbox \(JSONFields.list(box)) extends outside image \(imageID) (\(image.width)×\(image.height))")
            }
            let area = try fields.optionalDouble(object, "area")
            let crowd = try fields.optionalDouble(object, "iscrowd") ?? 0
            annotations.append(COCOAnnotation(id: id, imageID: imageID, categoryID: categoryID, box: box, area: area, isCrowd: crowd != 0))
        }
        return COCODataset(images: images, annotations: annotations, categories: categories)
    }

    /// Reads a COCO results file (a JSON array of `image_id`, `category_id`, `bbox`, `score`) and
    /// checks each entry against this data set: known image and category ids, finite score,
    /// a box of non-negative finite size.
    public func readDetections(path: String) throws -> [COCODetection] {
        let values = try JSONFields.parse(path: path)
        guard let array = values as? [Any] else { throw DetectionError(path: path, reason: "expected a JSON array of detections") }
        let imageIDs = Set(images.map(\.id)), categoryIDs = Set(categories.map(\.id))
        var fields = JSONFields(path: path, entry: "")
        return try array.enumerated().map { i, value in
            fields.entry = "[\(i)]"
            let object = try JSONFields.object(value, path: path, entry: fields.entry)
            let detection = COCODetection(imageID: try fields.int(object, "image_id"), categoryID: try fields.int(object, "category_id"),
                                          box: try fields.box(object), score: try fields.double(object, "score"))
            guard imageIDs.contains(detection.imageID) else { throw fields.error("image_id \(detection.imageID) is not in the ground truth's images") }
            guard categoryIDs.contains(detection.categoryID) else { throw fields.error("category_id \(detection.categoryID) is not in the ground truth's categories") }
            return detection
        }
    }

    /// The data set as COCO JSON (`area` and `iscrowd` included, as pycocotools expects).
    public func json() -> String {
        let imageText = images.map { "{\"id\": \($0.id), \"width\": \($0.width), \"height\": \($0.height), \"file_name\": \(JSONFields.quote($0.fileName))}" }
        let annotationText = annotations.map {
            "{\"id\": \($0.id), \"image_id\": \($0.imageID), \"category_id\": \($0.categoryID), \"bbox\": \(JSONFields.list($0.box)), \"area\": \($0.area), \"iscrowd\": \($0.isCrowd ? 1 : 0)}"
        }
        let categoryText = categories.map { "{\"id\": \($0.id), \"name\": \(JSONFields.quote($0.name))}" }
        return "{\"images\": [\n\(imageText.joined(separator: ",\n"))],\n\"annotations\": [\n\(annotationText.joined(separator: ",\n"))],\n"
            + "\"categories\": [\n\(categoryText.joined(separator: ",\n"))]}\n"
    }

    /// Writes `json()` to `path` atomically.
    public func write(path: String) throws { try atomicWrite(Data(json().utf8), to: URL(fileURLWithPath: path)) }

    /// `detections` as a COCO results file (doubles in Swift's shortest round-tripping form).
    public static func writeDetections(_ detections: [COCODetection], path: String) throws {
        let text = detections.map {
            "{\"image_id\": \($0.imageID), \"category_id\": \($0.categoryID), \"bbox\": \(JSONFields.list($0.box)), \"score\": \($0.score)}"
        }
        try atomicWrite(Data("[\n\(text.joined(separator: ",\n"))]\n".utf8), to: URL(fileURLWithPath: path))
    }
}

/// Typed access to parsed JSON with errors naming the file, the entry and the key.
struct JSONFields {
    let path: String
    var entry: String

    func error(_ reason: String) -> DetectionError { DetectionError(path: path, entry: entry, reason: reason) }

    static func parse(path: String) throws -> Any {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DetectionError(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "file not found")
        }
        do {
            return try JSONSerialization.jsonObject(with: data)
        } catch {
            throw DetectionError(path: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
    }

    static func object(_ value: Any, path: String, entry: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw DetectionError(path: path, entry: entry, reason: "expected a JSON object") }
        return object
    }

    func value(_ object: [String: Any], _ key: String) throws -> Any {
        guard let value = object[key] else { throw error("missing key '\(key)'") }
        return value
    }

    func array(_ object: [String: Any], _ key: String) throws -> [Any] {
        guard let array = try value(object, key) as? [Any] else { throw error("'\(key)' must be an array") }
        return array
    }

    func double(_ object: [String: Any], _ key: String) throws -> Double {
        guard let number = try value(object, key) as? NSNumber, number.doubleValue.isFinite else {
            throw error("'\(key)' must be a finite number, found \(String(describing: object[key] ?? "nothing"))")
        }
        return number.doubleValue
    }

    func optionalDouble(_ object: [String: Any], _ key: String) throws -> Double? { object[key] == nil ? nil : try double(object, key) }

    func int(_ object: [String: Any], _ key: String) throws -> Int {
        let v = try double(object, key)
        guard v == v.rounded(), abs(v) < 9e15 else { throw error("'\(key)' must be an integer, found \(v)") }
        return Int(v)
    }

    func optionalString(_ object: [String: Any], _ key: String) throws -> String? {
        guard let value = object[key] else { return nil }
        guard let string = value as? String else { throw error("'\(key)' must be a string") }
        return string
    }

    func box(_ object: [String: Any]) throws -> Box {
        guard let values = try value(object, "bbox") as? [Any], values.count == 4 else { throw error("'bbox' must be an array [x, y, width, height]") }
        let numbers = try values.map { v -> Double in
            guard let n = v as? NSNumber, n.doubleValue.isFinite else { throw error("'bbox' holds \(v), not a finite number") }
            return n.doubleValue
        }
        let box = Box(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
        guard box.width >= 0, box.height >= 0 else { throw error("bbox \(Self.list(box)) has a negative size") }
        return box
    }

    static func list(_ box: Box) -> String { "[\(box.x), \(box.y), \(box.width), \(box.height)]" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
