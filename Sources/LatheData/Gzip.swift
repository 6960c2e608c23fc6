import CZlib

/// Gzip (and zlib) decompression through zlib.
public enum Gzip {
    /// Deflate's best case is about 1032:1, so a stream cannot inflate to more than this many
    /// times its compressed size: a gzip trailer that claims more is not believed.
    static let maxRatio = 1032

    /// Whether `bytes` start with the gzip magic 1f 8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// Inflates a gzip or zlib stream; `path` names the source in errors. Stops after `limit`
    /// bytes (the stream's end and checksum are then not checked): a caller that knows how much
    /// it needs passes one byte more and treats a full result as "too long". Memory grows with
    /// the bytes actually produced; the trailer's size claim only sizes the first buffer, and
    /// only when the compressed size makes it possible.
    public static func decompress(_ data: [UInt8], path: String, limit: Int = .max) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corruptGzip(path: path, reason: "inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        let possible = data.count.multipliedReportingOverflow(by: maxRatio)
        let bound = possible.overflow ? Int.max : possible.partialValue
        var capacity = Swift.max(data.count.multipliedReportingOverflow(by: 4).partialValue, 1 << 16)
        if data.count >= 4 {
            // The gzip trailer holds the uncompressed size mod 2^32: a good first guess when plausible.
            let n = data.count
            let hint = Int(UInt32(data[n - 4]) | UInt32(data[n - 3]) << 8 | UInt32(data[n - 2]) << 16 | UInt32(data[n - 1]) << 24)
            if hint > 0, hint < bound { capacity = hint + 1 }
        }
        var output = [UInt8](repeating: 0, count: Swift.min(capacity, Swift.max(limit, 0)))
        var produced = 0
        var status: Int32 = Z_OK
        try data.withUnsafeBufferPointer { input in
            var consumed = 0
            while produced < limit {
                if stream.avail_in == 0, consumed < input.count {
                    // zlib counts input in UInt32: feed files beyond 4 GiB in pieces.
                    let piece = UInt32(clamping: input.count - consumed)
                    stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0 + consumed) }
                    stream.avail_in = piece
                    consumed += Int(piece)
                }
                if produced == output.count {
                    output += [UInt8](repeating: 0, count: Swift.min(Swift.max(output.count, 1 << 16), limit - produced))
                }
                status = output.withUnsafeMutableBufferPointer { out in
                    let room = UInt32(clamping: out.count - produced)
                    stream.next_out = out.baseAddress.map { $0 + produced }
                    stream.avail_out = room
                    let r = inflate(&stream, Z_NO_FLUSH)
                    produced += Int(room - stream.avail_out)
                    return r
                }
                if status == Z_STREAM_END { break }
                if status == Z_BUF_ERROR && stream.avail_in == 0 && consumed == input.count {
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
