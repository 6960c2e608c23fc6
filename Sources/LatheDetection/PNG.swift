import CZlib
import Foundation
import LatheData

/// A decoded PNG: 8-bit samples, row-major, `channels` per pixel. Palette images keep their
/// indices (one channel) and carry the palette.
public struct PNGImage: Sendable, Equatable {
    public var width: Int, height: Int
    /// 1 grey or palette index, 2 grey + alpha, 3 RGB, 4 RGBA.
    public var channels: Int
    /// PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
    public var colorType: Int
    public var pixels: [UInt8]
    /// RGB triples of a palette image (empty otherwise).
    public var palette: [UInt8]

    /// An image; `pixels` must hold `width · height · channels` values.
    public init(width: Int, height: Int, channels: Int, colorType: Int, pixels: [UInt8], palette: [UInt8] = []) {
        (self.width, self.height, self.channels, self.colorType, self.pixels, self.palette) = (width, height, channels, colorType, pixels, palette)
    }
}

/// A small PNG codec for masks: decodes non-interlaced 8-bit grey, grey + alpha, RGB, RGBA and
/// palette images (zlib through `CZlib`, chunk CRCs checked); encodes grey, RGB and palette.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads and decodes the PNG file at `path`.
    public static func read(path: String) throws -> PNGImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DetectionError(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "file not found")
        }
        return try decode([UInt8](data), path: path)
    }

    /// Decodes PNG bytes; `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> PNGImage {
        func fail(_ reason: String) -> DetectionError { DetectionError(path: path, reason: reason) }
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw fail("not a PNG file (bad signature)") }
        var offset = 8
        var header: (width: Int, height: Int, colorType: Int)?
        var palette: [UInt8] = [], compressed: [UInt8] = []
        var ended = false
        while !ended {
            guard offset + 8 <= bytes.count else { throw fail("truncated: chunk header at byte \(offset) needs 8 bytes, the file has \(bytes.count - offset) left (no IEND)") }
            let length = Int(be32(bytes, offset))
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            guard length <= bytes.count, offset + 12 + length <= bytes.count else {
                throw fail("truncated: chunk \(type) at byte \(offset) needs \(12 + length) bytes, the file has \(bytes.count - offset) left")
            }
            let data = bytes[(offset + 8)..<(offset + 8 + length)]
            let stored = be32(bytes, offset + 8 + length)
            let computed = bytes[(offset + 4)..<(offset + 8 + length)].withContiguousStorageIfAvailable { b in
                UInt32(truncatingIfNeeded: crc32(0, b.baseAddress, UInt32(b.count)))
            } ?? 0
            guard stored == computed else { throw fail("chunk \(type) at byte \(offset): CRC mismatch (corrupt file)") }
            switch type {
            case "IHDR":
                guard length == 13 else { throw fail("IHDR of \(length) bytes, expected 13") }
                let d = Array(data)
                let width = Int(be32(d, 0)), height = Int(be32(d, 4))
                let depth = Int(d[8]), colorType = Int(d[9]), interlace = Int(d[12])
                guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else { throw fail("image size \(width)×\(height) outside 1...32768") }
                guard depth == 8, [0, 2, 3, 4, 6].contains(colorType) else {
                    throw fail("bit depth \(depth), colour type \(colorType): only 8-bit grey, grey+alpha, RGB, RGBA and palette PNGs are read")
                }
                guard interlace == 0, d[10] == 0, d[11] == 0 else { throw fail("interlaced or non-standard PNGs are not read (interlace \(interlace))") }
                header = (width, height, colorType)
            case "PLTE": palette = Array(data)
            case "IDAT": compressed += data
            case "IEND": ended = true
            default: break
            }
            offset += 12 + length
        }
        guard let (width, height, colorType) = header else { throw fail("no IHDR chunk") }
        guard !compressed.isEmpty else { throw fail("no IDAT chunk (no pixel data)") }
        if colorType == 3, palette.isEmpty || palette.count % 3 != 0 { throw fail("palette image without a valid PLTE chunk") }
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
        let stride = width * channels, expected = height * (1 + stride)
        let raw: [UInt8]
        do {
            raw = try Gzip.decompress(compressed, path: path, limit: expected + 1)
        } catch {
            throw fail("pixel data is corrupt or truncated (\(error))")
        }
        guard raw.count == expected else { throw fail("truncated: pixel data holds \(raw.count) bytes, a \(width)×\(height) image needs \(expected)") }
        let pixels = try unfilter(raw, rows: height, stride: stride, bytesPerPixel: channels, fail: fail)
        if colorType == 3, let bad = pixels.first(where: { Int($0) >= palette.count / 3 }) {
            throw fail("palette index \(bad) beyond the \(palette.count / 3) palette entries")
        }
        return PNGImage(width: width, height: height, channels: channels, colorType: colorType, pixels: pixels, palette: palette)
    }

    static func unfilter(_ raw: [UInt8], rows: Int, stride: Int, bytesPerPixel bpp: Int, fail: (String) -> DetectionError) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rows * stride)
        for r in 0..<rows {
            let filter = raw[r * (stride + 1)], src = r * (stride + 1) + 1, dst = r * stride
            for i in 0..<stride {
                let x = raw[src + i]
                let a = i >= bpp ? Int(out[dst + i - bpp]) : 0
                let b = r > 0 ? Int(out[dst - stride + i]) : 0
                let c = i >= bpp && r > 0 ? Int(out[dst - stride + i - bpp]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw fail("row \(r): unknown filter type \(filter)")
                }
                out[dst + i] = x &+ UInt8(truncatingIfNeeded: predictor)
            }
        }
        return out
    }

    /// Encodes an 8-bit image: `channels` 1 (grey, or palette indices when `palette` holds RGB
    /// triples) or 3 (RGB). Rows are stored unfiltered.
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8], palette: [UInt8] = []) throws -> [UInt8] {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels,
              palette.count % 3 == 0, palette.count <= 768, palette.isEmpty || channels == 1 else {
            throw DetectionError(path: "<memory>", reason: "cannot encode \(pixels.count) values as a \(width)×\(height) PNG with \(channels) channels and \(palette.count / 3) palette entries")
        }
        var raw = [UInt8](), stride = width * channels
        raw.reserveCapacity(height * (stride + 1))
        for r in 0..<height { raw.append(0); raw += pixels[(r * stride)..<((r + 1) * stride)] }
        var size = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&compressed, &size, raw, uLong(raw.count), 6)
        guard status == Z_OK else { throw DetectionError(path: "<memory>", reason: "zlib compress2 failed with status \(status)") }
        compressed.removeSubrange(Int(size)...)
        let colorType: UInt8 = channels == 3 ? 2 : (palette.isEmpty ? 0 : 3)
        var out = signature
        func chunk(_ type: String, _ data: [UInt8]) {
            var body = Array(type.utf8) + data
            out += be32Bytes(UInt32(data.count))
            let crc = UInt32(truncatingIfNeeded: crc32(0, &body, UInt32(body.count)))
            out += body + be32Bytes(crc)
        }
        chunk("IHDR", be32Bytes(UInt32(width)) + be32Bytes(UInt32(height)) + [8, colorType, 0, 0, 0])
        if !palette.isEmpty { chunk("PLTE", palette) }
        chunk("IDAT", compressed)
        chunk("IEND", [])
        return out
    }

    static func be32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    static func be32Bytes(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
}
