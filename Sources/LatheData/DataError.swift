/// A data file or directory that cannot be used, with the path and what was expected.
public enum DataError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case missingDirectory(path: String)
    case unreadable(path: String, reason: String)
    case badMagic(path: String, found: UInt32, expected: String)
    case truncated(path: String, expectedBytes: Int, foundBytes: Int, what: String)
    case corruptGzip(path: String, reason: String)
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): "\(path): file not found"
        case let .missingDirectory(path): "\(path): directory not found"
        case let .unreadable(path, reason): "\(path): cannot read: \(reason)"
        case let .badMagic(path, found, expected): "\(path): bad magic number 0x\(String(found, radix: 16, uppercase: false).leftPad(8)), expected \(expected)"
        case let .truncated(path, expected, found, what): "\(path): truncated: \(what) needs \(expected) bytes, the file has \(found)"
        case let .corruptGzip(path, reason): "\(path): gzip stream is corrupt or truncated (\(reason))"
        case let .countMismatch(images, n, labels, m): "image/label count mismatch: \(n) images in \(images), \(m) labels in \(labels)"
        case let .invalid(path, reason): "\(path): \(reason)"
        }
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { String(repeating: "0", count: Swift.max(0, n - count)) + self }
}
