import CZlib

/// Gzip (and zlib) decompression through zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic 1f 8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// Inflates a whole gzip or zlib stream; `path` names the source in errors.
    public static func decompress(_ data: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corruptGzip(path: path, reason: "inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        // The gzip trailer holds the uncompressed size mod 2^32: a good first guess.
        var capacity = Swift.max(data.count * 4, 1 << 16)
        if data.count >= 4 {
            let n = data.count
            let hint = Int(UInt32(data[n - 4]) | UInt32(data[n - 3]) << 8 | UInt32(data[n - 2]) << 16 | UInt32(data[n - 1]) << 24)
            if hint > 0, hint < 1 << 31 { capacity = hint + 1 }
        }
        var output = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var status: Int32 = Z_OK
        try data.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = UInt32(input.count)
            while true {
                if produced == output.count { output += [UInt8](repeating: 0, count: output.count) }
                status = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = UInt32(out.count - produced)
                    let r = inflate(&stream, Z_NO_FLUSH)
                    produced = out.count - Int(stream.avail_out)
                    return r
                }
                if status == Z_STREAM_END { break }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw DataError.corruptGzip(path: path, reason: "stream ends early after \(produced) bytes")
                }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw DataError.corruptGzip(path: path, reason: message)
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }
}
