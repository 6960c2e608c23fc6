import Foundation
import LatheData
import LatheIO

/// `fmnist-detect` and `fmnist-seg`: canvases made from the installed Fashion-MNIST (see
/// `CanvasConfig`), generated once per configuration and cached. Both names are the same
/// canvases: detection reads the boxes, segmentation the masks.
///
/// Cache layout: `<cache>/fmnist-canvas-<key>/{train,val,test}.safetensors` plus
/// `manifest.json` holding each file's sha256. `key` is a hash of every `CanvasConfig` field and
/// the format version. Each split file holds `images` (u8 [N, S, S]), `masks` (u8 [N, S, S])
/// and `objects` (i32 [M, 8]: canvas, category, x, y, width, height, area, source). A file whose
/// checksum does not match the manifest (or that is missing) is regenerated; files are written
/// atomically and the manifest last, under an advisory lock on `.lock` in the folder.
public enum FMNISTCanvases {
    static let formatVersion = 1

    /// `$LATHE_CACHE/datasets` when LATHE_CACHE is set, else `runs/cache/datasets` in the
    /// working directory (as the teacher cache).
    public static var defaultCacheDirectory: String {
        if let root = ProcessInfo.processInfo.environment["LATHE_CACHE"], !root.isEmpty { return "\(root)/datasets" }
        return "runs/cache/datasets"
    }

    /// What `prepare` found or made for one split.
    public struct SplitFile: Sendable, Equatable {
        public var split: CanvasSplit
        public var path: String
        public var sha256: String
        public var bytes: Int
        public var canvases: Int
        public var objects: Int
        /// Whether this call generated it (false: the cached file verified).
        public var generated: Bool
    }

    /// The folder of `config`'s files under `cacheDirectory`.
    public static func folder(config: CanvasConfig, cacheDirectory: String) -> String {
        "\(cacheDirectory)/fmnist-canvas-\(SHA256.hex(Array("v\(formatVersion) \(config.canonical)".utf8)).prefix(16))"
    }

    /// The canvases of `split`: the cached file when its checksum verifies, else generated from
    /// Fashion-MNIST in `fashionMNIST` and cached.
    public static func load(_ split: CanvasSplit, config: CanvasConfig = CanvasConfig(), cacheDirectory: String = defaultCacheDirectory,
                            fashionMNIST: String = FashionMNIST.defaultDirectory) throws -> CanvasSet {
        var result: CanvasSet?
        _ = try prepare(config: config, splits: [split], cacheDirectory: cacheDirectory, fashionMNIST: fashionMNIST) { result = $0 }
        guard let result else { throw DetectionError(path: folder(config: config, cacheDirectory: cacheDirectory), reason: "split \(split.rawValue) was not produced") }
        return result
    }

    /// Verifies or generates the files of `splits` and returns what each holds; `loaded`
    /// receives each split's canvases (decoded from the verified bytes, or as generated).
    @discardableResult
    public static func prepare(config: CanvasConfig = CanvasConfig(), splits: [CanvasSplit] = CanvasSplit.allCases,
                               cacheDirectory: String = defaultCacheDirectory, fashionMNIST: String = FashionMNIST.defaultDirectory,
                               loaded: (CanvasSet) throws -> Void = { _ in }) throws -> [SplitFile] {
        try config.validate()
        let dir = folder(config: config, cacheDirectory: cacheDirectory)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw DetectionError(path: dir, reason: "cannot create the cache folder (\(error.localizedDescription))")
        }
        // One process verifies or generates a configuration's files at a time: the sweep's
        // concurrent trials (and Slurm tasks on a shared cache) wait, then read them verified.
        let lock = try FileLock(path: "\(dir)/.lock")
        defer { lock.unlock() }
        let manifestPath = "\(dir)/manifest.json"
        var recorded = readManifest(manifestPath)
        var sources: [DataSplit: ImageDataset] = [:]
        var report: [SplitFile] = []
        for split in splits {
            let path = "\(dir)/\(split.rawValue).safetensors"
            if let expected = recorded[split.rawValue], let data = FileManager.default.contents(atPath: path) {
                let bytes = [UInt8](data)
                if SHA256.hex(bytes) == expected, let set = try? decode(bytes, path: path, size: config.size) {
                    try loaded(set)
                    report.append(SplitFile(split: split, path: path, sha256: expected, bytes: bytes.count, canvases: set.count, objects: set.objects.count, generated: false))
                    continue
                }
            }
            let sourceSplit: DataSplit = split == .test ? .test : .train
            if sources[sourceSplit] == nil { sources[sourceSplit] = try FashionMNIST.load(split: sourceSplit, directory: fashionMNIST) }
            guard let source = sources[sourceSplit] else { continue }
            let set = try CanvasGenerator.generate(split, config: config, source: source)
            let bytes = try encode(set, split: split, config: config)
            do {
                try atomicWrite(Data(bytes), to: URL(fileURLWithPath: path))
            } catch {
                throw DetectionError(path: path, reason: "cannot write the cached split (\(error))")
            }
            let sha = SHA256.hex(bytes)
            recorded[split.rawValue] = sha
            try writeManifest(recorded, config: config, path: manifestPath)
            try loaded(set)
            report.append(SplitFile(split: split, path: path, sha256: sha, bytes: bytes.count, canvases: set.count, objects: set.objects.count, generated: true))
        }
        return report
    }

    static func readManifest(_ path: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let files = object["sha256"] as? [String: String] else { return [:] }
        return files
    }

    static func writeManifest(_ files: [String: String], config: CanvasConfig, path: String) throws {
        let object: [String: Any] = ["format": formatVersion, "config": config.canonical, "sha256": files]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        do {
            try atomicWrite(data, to: URL(fileURLWithPath: path))
        } catch {
            throw DetectionError(path: path, reason: "cannot write the manifest (\(error))")
        }
    }

    /// A split as safetensors bytes (see the type's documentation for the layout).
    static func encode(_ set: CanvasSet, split: CanvasSplit, config: CanvasConfig) throws -> [UInt8] {
        let s = set.size
        var objects = [UInt8]()
        objects.reserveCapacity(set.objects.count * 32)
        for o in set.objects {
            for v in [o.canvas, o.category, o.x, o.y, o.width, o.height, o.area, o.source] {
                withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { objects.append(contentsOf: $0) }
            }
        }
        let file = SafeTensors(tensors: [
            "images": .init(dtype: .U8, shape: [set.count, s, s], bytes: set.images),
            "masks": .init(dtype: .U8, shape: [set.count, s, s], bytes: set.masks),
            "objects": .init(dtype: .I32, shape: [set.objects.count, 8], bytes: objects),
        ], metadata: ["split": split.rawValue, "config": config.canonical, "objects_columns": "canvas,category,x,y,width,height,area,source"])
        return try file.encoded()
    }

    /// Decodes a split file written by `encode`; `path` names it in errors.
    static func decode(_ bytes: [UInt8], path: String, size: Int) throws -> CanvasSet {
        let file = try SafeTensors.decode(bytes, path: path)
        guard let images = file.tensors["images"], let masks = file.tensors["masks"], let objects = file.tensors["objects"],
              images.dtype == .U8, masks.dtype == .U8, objects.dtype == .I32, objects.shape.count == 2, objects.shape[1] == 8 else {
            throw DetectionError(path: path, reason: "expected u8 'images' and 'masks' and i32 'objects' [M, 8]")
        }
        let values: [Int] = stride(from: 0, to: objects.bytes.count, by: 4).map { i in
            Int(Int32(bitPattern: UInt32(objects.bytes[i]) | UInt32(objects.bytes[i + 1]) << 8 | UInt32(objects.bytes[i + 2]) << 16 | UInt32(objects.bytes[i + 3]) << 24))
        }
        let list = stride(from: 0, to: values.count, by: 8).map { i in
            CanvasObject(canvas: values[i], category: values[i + 1], x: values[i + 2], y: values[i + 3], width: values[i + 4], height: values[i + 5],
                         area: values[i + 6], source: values[i + 7])
        }
        return try CanvasSet(size: size, images: images.bytes, masks: masks.bytes, objects: list, path: path)
    }
}
