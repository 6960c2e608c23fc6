import Foundation
import LatheDetection
import Testing

/// COCO JSON, PNG and VOC-layout readers on small files the tests write, good and bad.
@Suite("COCO JSON, PNG and VOC mask readers")
struct ReaderTests {
    static let good = """
        {"images": [{"id": 1, "width": 40, "height": 30, "file_name": "a.jpg"}, {"id": 2, "width": 20, "height": 20, "file_name": "b.jpg"}],
         "annotations": [{"id": 10, "image_id": 1, "category_id": 3, "bbox": [1.5, 2, 10, 20], "area": 150, "iscrowd": 0},
                         {"id": 11, "image_id": 2, "category_id": 5, "bbox": [0, 0, 20, 20]}],
         "categories": [{"id": 3, "name": "cat"}, {"id": 5, "name": "dog"}]}
        """

    func write(_ text: String, _ dir: String, _ name: String) throws -> String {
        let path = "\(dir)/\(name)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The error `body` throws, as text.
    func failure(_ body: () throws -> Void) -> String {
        do { try body() } catch { return String(describing: error) }
        return "no error"
    }

    @Test func cocoReadsAndRoundTrips() throws {
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try COCODataset.read(path: try write(Self.good, dir, "gt.json"))
        #expect(data.images.count == 2 && data.categories.map(\.id) == [3, 5])
        #expect(data.annotations[0].box == Box(x: 1.5, y: 2, width: 10, height: 20) && data.annotations[0].area == 150)
        #expect(data.annotations[1].area == 400 && !data.annotations[1].isCrowd)
        try data.write(path: "\(dir)/again.json")
        #expect(try COCODataset.read(path: "\(dir)/again.json") == data)
    }

    @Test func cocoErrorsNameTheFileAndEntry() throws {
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func bad(_ from: String, _ to: String) throws -> String {
            let path = try write(Self.good.replacingOccurrences(of: from, with: to), dir, "bad.json")
            return failure { _ = try COCODataset.read(path: path) }
        }
        let path = "\(dir)/bad.json"
        #expect(try bad("\"bbox\": [0, 0, 20, 20]", "\"box\": [0, 0, 20, 20]") == "\(path): annotations[1] (id 11): missing key 'bbox'")
        #expect(try bad("\"categories\"", "\"cats\"") == "\(path): missing key 'categories'")
        #expect(try bad("[0, 0, 20, 20]", "[5, 0, 20, 20]") == "\(path): annotations[1] (id 11): bbox [5.0, 0.0, 20.0, 20.0] extends outside image 2 (20×20)")
        #expect(try bad("\"category_id\": 5", "\"category_id\": 7") == "\(path): annotations[1] (id 11): category_id 7 is not in categories (3, 5)")
        #expect(try bad("\"image_id\": 2", "\"image_id\": 9") == "\(path): annotations[1] (id 11): image_id 9 is not in images")
        #expect(try bad("\"id\": 11", "\"id\": 10") == "\(path): annotations[1] (id 10): duplicate annotation id 10")
        #expect(try bad("[1.5, 2, 10, 20]", "[1.5, 2, -1, 20]").hasSuffix("annotations[0] (id 10): bbox [1.5, 2.0, -1.0, 20.0] has a negative size"))
        #expect(try bad("\"width\": 40", "\"width\": \"40\"").hasSuffix("images[0] (id 1): 'width' must be a finite number, found 40"))
        #expect(try bad("}]}", "}]").hasPrefix("\(path): not valid JSON"))
        #expect(failure { _ = try COCODataset.read(path: "\(dir)/none.json") } == "\(dir)/none.json: file not found")
        let gt = try COCODataset.read(path: try write(Self.good, dir, "gt.json"))
        let dt = try write("[{\"image_id\": 1, \"category_id\": 3, \"bbox\": [0, 0, 5, 5], \"score\": 0.5}, {\"image_id\": 4, \"category_id\": 3, \"bbox\": [0, 0, 5, 5], \"score\": 0.5}]", dir, "dt.json")
        #expect(failure { _ = try gt.readDetections(path: dt) } == "\(dt): [1]: image_id 4 is not in the ground truth's images")
    }

    @Test func pngRoundTripsAndReadsPillowFilters() throws {
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let grey = (0..<(13 * 7)).map { UInt8(($0 * 37) % 256) }
        let bytes = try PNG.encode(width: 13, height: 7, channels: 1, pixels: grey, palette: [0, 0, 0, 128, 0, 0] + [UInt8](repeating: 9, count: 254 * 3))
        let decoded = try PNG.decode(bytes, path: "x.png")
        #expect(decoded.pixels == grey && decoded.colorType == 3 && decoded.palette.count == 768)
        // Pillow filters rows adaptively (Sub, Up, Average, Paeth): decode its files and compare
        // with the raw pixels it reports.
        let script = """
            import sys; from PIL import Image
            w, h = 37, 23
            g = bytes(((x * x + 3 * y * y + x * y) // 7) % 256 for y in range(h) for x in range(w))
            Image.frombytes('L', (w, h), g).save(sys.argv[1] + '/g.png')
            rgb = bytes(((x * 5 + y * 11 + c * 70) ^ (x * y)) % 256 for y in range(h) for x in range(w) for c in range(3))
            Image.frombytes('RGB', (w, h), rgb).save(sys.argv[1] + '/rgb.png')
            open(sys.argv[1] + '/g.raw', 'wb').write(g); open(sys.argv[1] + '/rgb.raw', 'wb').write(rgb)
            """
        _ = try Oracle.lines("/usr/bin/python3", ["-c", script, dir])
        for name in ["g", "rgb"] {
            let png = try PNG.read(path: "\(dir)/\(name).png")
            let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).raw")))
            #expect(png.width == 37 && png.height == 23 && png.pixels == raw, "\(name).png")
        }
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/rgb.png")))
        #expect(failure { _ = try PNG.decode(Array(whole.prefix(whole.count - 30)), path: "cut.png") }.hasPrefix("cut.png: truncated: chunk"))
        var flipped = whole
        flipped[40] ^= 0xFF
        #expect(failure { _ = try PNG.decode(flipped, path: "bad.png") }.contains("CRC mismatch"))
        #expect(failure { _ = try PNG.decode(Array(whole.prefix(5)), path: "s.png") } == "s.png: not a PNG file (bad signature)")
    }

    @Test func vocMasksAreCheckedAgainstTheirImages() throws {
        let root = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for sub in ["ImageSets/Segmentation", "SegmentationClass", "JPEGImages"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(sub)", withIntermediateDirectories: true)
        }
        let palette = VOCSegmentation.colorMap(256).flatMap { [UInt8($0 >> 16), UInt8(($0 >> 8) & 0xFF), UInt8($0 & 0xFF)] }
        let labels: [UInt8] = [0, 1, 2, 255, 20, 0, 15, 3, 3, 0, 1, 1]
        try Data(try PNG.encode(width: 4, height: 3, channels: 1, pixels: labels, palette: palette)).write(to: URL(fileURLWithPath: "\(root)/SegmentationClass/a.png"))
        // The same mask as RGB colours, and an image of the right size (a grey PNG stands in for the JPEG).
        let rgb = labels.flatMap { palette[(3 * Int($0))..<(3 * Int($0) + 3)] }
        try Data(try PNG.encode(width: 4, height: 3, channels: 3, pixels: Array(rgb))).write(to: URL(fileURLWithPath: "\(root)/SegmentationClass/b.png"))
        for id in ["a", "b"] {
            try Data(try PNG.encode(width: 4, height: 3, channels: 1, pixels: [UInt8](repeating: 7, count: 12))).write(to: URL(fileURLWithPath: "\(root)/JPEGImages/\(id).png"))
        }
        try Data("a\nb\n".utf8).write(to: URL(fileURLWithPath: "\(root)/ImageSets/Segmentation/train.txt"))
        let masks = try VOCSegmentation.read(root: root, split: "train")
        #expect(masks.map(\.id) == ["a", "b"] && masks[0].labels == labels && masks[1].labels == labels)
        // An image of another size: the mask's file is named with both sizes.
        try Data(try PNG.encode(width: 5, height: 3, channels: 1, pixels: [UInt8](repeating: 7, count: 15))).write(to: URL(fileURLWithPath: "\(root)/JPEGImages/b.png"))
        #expect(failure { _ = try VOCSegmentation.read(root: root, split: "train") } == "\(root)/SegmentationClass/b.png: mask is 4×3 but its image is 5×3")
        #expect(failure { _ = try VOCSegmentation.readMask(path: "\(root)/SegmentationClass/a.png", classCount: 16) }
            == "\(root)/SegmentationClass/a.png: pixel (0, 1): label 20 outside 0..<16 (and not 255)")
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 3, 0, 4, 1, 1, 0x11, 0, 0, 0]
        try Data(jpeg).write(to: URL(fileURLWithPath: "\(root)/x.jpg"))
        let size = try VOCSegmentation.imageSize(path: "\(root)/x.jpg")
        #expect(size.width == 4 && size.height == 3)
    }
}
