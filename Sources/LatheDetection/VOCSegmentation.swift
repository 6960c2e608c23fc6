import Foundation

/// One class mask of a VOC-layout data set.
public struct VOCMask: Sendable, Equatable {
    /// The image id (the file stem).
    public var id: String
    public var width: Int, height: Int
    /// Class per pixel, row-major; 255 marks VOC's "void" borders.
    public var labels: [UInt8]
}

/// Reads segmentation masks laid out as PASCAL VOC does: `ImageSets/Segmentation/<split>.txt`
/// lists image ids, `SegmentationClass/<id>.png` holds each mask (a palette PNG whose index is
/// the class, a grey PNG whose value is the class, or an RGB PNG in VOC's colour map), and
/// `JPEGImages/<id>.jpg` (or `.png`) the image, whose size the mask must have.
public enum VOCSegmentation {
    /// The void label, not a class.
    public static let void: UInt8 = 255

    /// The masks of `split` under `root`; labels must be below `classCount` or 255.
    public static func read(root: String, split: String, classCount: Int = 21) throws -> [VOCMask] {
        let listPath = "\(root)/ImageSets/Segmentation/\(split).txt"
        guard let data = FileManager.default.contents(atPath: listPath) else {
            throw DetectionError(path: listPath, reason: "split list not found (expected one image id per line)")
        }
        let ids = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return try ids.map { id in
            var size: (width: Int, height: Int)?
            for ext in ["jpg", "jpeg", "png"] where FileManager.default.fileExists(atPath: "\(root)/JPEGImages/\(id).\(ext)") {
                size = try imageSize(path: "\(root)/JPEGImages/\(id).\(ext)")
                break
            }
            return try readMask(path: "\(root)/SegmentationClass/\(id).png", id: id, expectedSize: size, classCount: classCount)
        }
    }

    /// One mask file; `expectedSize` (the image's) is checked when given.
    public static func readMask(path: String, id: String? = nil, expectedSize: (width: Int, height: Int)? = nil, classCount: Int = 21) throws -> VOCMask {
        let png = try PNG.read(path: path)
        if let expectedSize, expectedSize.width != png.width || expectedSize.height != png.height {
            throw DetectionError(path: path, reason: "mask is \(png.width)×\(png.height) but its image is \(expectedSize.width)×\(expectedSize.height)")
        }
        let labels: [UInt8]
        switch png.colorType {
        case 0, 3: labels = png.pixels
        case 2:
            var byColour: [UInt32: UInt8] = [:]
            for (c, rgb) in colorMap(256).enumerated() { byColour[rgb] = UInt8(c) }
            labels = try (0..<(png.width * png.height)).map { i in
                let rgb = UInt32(png.pixels[3 * i]) << 16 | UInt32(png.pixels[3 * i + 1]) << 8 | UInt32(png.pixels[3 * i + 2])
                guard let label = byColour[rgb] else {
                    throw DetectionError(path: path, entry: "pixel (\(i % png.width), \(i / png.width))", reason: "colour #\(String(rgb, radix: 16)) is not in VOC's colour map")
                }
                return label
            }
        default: throw DetectionError(path: path, reason: "colour type \(png.colorType) (with alpha) is not a class mask; expected palette, grey or RGB")
        }
        if let i = labels.firstIndex(where: { Int($0) >= classCount && $0 != void }) {
            throw DetectionError(path: path, entry: "pixel (\(i % png.width), \(i / png.width))", reason: "label \(labels[i]) outside 0..<\(classCount) (and not 255)")
        }
        return VOCMask(id: id ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, width: png.width, height: png.height, labels: labels)
    }

    /// VOC's colour map (`labelcolormap` of the devkit): class `c`'s RGB as 0xRRGGBB.
    public static func colorMap(_ count: Int) -> [UInt32] {
        (0..<count).map { c in
            var r: UInt32 = 0, g: UInt32 = 0, b: UInt32 = 0, id = UInt32(c)
            for j in 0..<8 {
                r |= (id & 1) << (7 - UInt32(j))
                g |= ((id >> 1) & 1) << (7 - UInt32(j))
                b |= ((id >> 2) & 1) << (7 - UInt32(j))
                id >>= 3
            }
            return r << 16 | g << 8 | b
        }
    }

    /// Width and height of a JPEG (its SOF marker) or PNG (its IHDR) without decoding it.
    public static func imageSize(path: String) throws -> (width: Int, height: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { throw DetectionError(path: path, reason: "cannot read the image") }
        let b = [UInt8](data)
        if b.count >= 24, Array(b[0..<8]) == PNG.signature { return (Int(PNG.be32(b, 16)), Int(PNG.be32(b, 20))) }
        guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { throw DetectionError(path: path, reason: "neither a JPEG nor a PNG") }
        var i = 2
        while i + 9 < b.count {
            guard b[i] == 0xFF else { break }
            let marker = b[i + 1], length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (Int(b[i + 7]) << 8 | Int(b[i + 8]), Int(b[i + 5]) << 8 | Int(b[i + 6]))
            }
            i += 2 + length
        }
        throw DetectionError(path: path, reason: "JPEG without a frame header (SOF): truncated or corrupt")
    }
}
