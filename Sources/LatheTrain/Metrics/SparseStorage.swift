import LatheTensor

/// How one tensor is stored on disk.
public enum StorageFormat: String, Sendable, Codable, CaseIterable {
    /// Every element at the value width.
    case dense
    /// One bit per element saying whether it is nonzero, then the nonzero values.
    case bitmask
    /// Compressed sparse rows with 8-bit relative column indices (Han et al. 2016, "Deep
    /// Compression"): each entry stores its value and its distance to the previous entry of the
    /// row; a distance beyond 255 is bridged by padding entries holding zero.
    case csr8 = "csr-8"
    /// The same with 16-bit relative indices (distances up to 65 535).
    case csr16 = "csr-16"
}

/// A tensor's chosen format and its size in it.
public struct TensorStorage: Sendable, Codable, Equatable {
    public var format: StorageFormat
    public var bytes: Int

    public init(format: StorageFormat, bytes: Int) {
        self.format = format
        self.bytes = bytes
    }
}

/// The size model of sparse storage. A tensor of shape `[d0, d1, ...]` is a matrix of `d0` rows
/// (1 row for a vector) and `count / d0` columns; values are stored at `valueBits` each.
///
/// - dense: `ceil(count · valueBits / 8)`.
/// - bitmask: `ceil(count / 8) + ceil(nnz · valueBits / 8)`.
/// - CSR with `b`-bit relative indices: entries are the nonzeros plus padding entries;
///   `ceil(entries · (valueBits + b) / 8)` plus `4 · (rows + 1)` bytes of 32-bit row pointers.
///   The first entry of a row stores its column, each later one its distance to the previous
///   entry; a distance `d > 2^b − 1` costs `(d − 1) / (2^b − 1)` padding entries.
public enum SparseStorage {
    /// Bytes of a `rows × columns` matrix in `format`, whose nonzero entries lie in each row at
    /// the ascending columns `nonzeroColumns[row]`.
    public static func bytes(_ format: StorageFormat, rows: Int, columns: Int, nonzeroColumns: [[Int]], valueBits: Int) -> Int {
        let elements = rows * columns
        let nonzeros = nonzeroColumns.reduce(0) { $0 + $1.count }
        switch format {
        case .dense:
            return (elements * valueBits + 7) / 8
        case .bitmask:
            return (elements + 7) / 8 + (nonzeros * valueBits + 7) / 8
        case .csr8, .csr16:
            let indexBits = format == .csr8 ? 8 : 16
            let entries = nonzeros + nonzeroColumns.reduce(0) { $0 + padding(columns: $1, indexBits: indexBits) }
            return (entries * (valueBits + indexBits) + 7) / 8 + 4 * (rows + 1)
        }
    }

    /// Padding entries one row needs when its ascending nonzero `columns` are stored as
    /// `indexBits`-bit distances (the first one as its column).
    public static func padding(columns: [Int], indexBits: Int) -> Int {
        let limit = (1 << indexBits) - 1
        var previous = 0, pads = 0
        for c in columns {
            let distance = c - previous
            if distance > limit { pads += (distance - 1) / limit }
            previous = c
        }
        return pads
    }

    /// The smallest format for the matrix (dense on ties, then bitmask, CSR-8, CSR-16).
    public static func best(rows: Int, columns: Int, nonzeroColumns: [[Int]], valueBits: Int) -> TensorStorage {
        var best = TensorStorage(format: .dense, bytes: bytes(.dense, rows: rows, columns: columns, nonzeroColumns: nonzeroColumns, valueBits: valueBits))
        for format in StorageFormat.allCases.dropFirst() {
            let size = bytes(format, rows: rows, columns: columns, nonzeroColumns: nonzeroColumns, valueBits: valueBits)
            if size < best.bytes { best = TensorStorage(format: format, bytes: size) }
        }
        return best
    }

    /// The smallest format for `tensor`'s zero pattern with values at `valueBits`.
    public static func best(_ tensor: Tensor, valueBits: Int) throws -> TensorStorage {
        let count = tensor.count
        let rows = tensor.shape.count >= 2 ? tensor.shape[0] : 1
        guard count > 0, rows > 0 else { return TensorStorage(format: .dense, bytes: 0) }
        let columns = count / rows
        let values = try tensor.detached().scalars(as: Float.self)
        let nonzeroColumns = (0..<rows).map { r in
            (0..<columns).filter { values[r * columns + $0] != 0 }
        }
        return best(rows: rows, columns: columns, nonzeroColumns: nonzeroColumns, valueBits: valueBits)
    }
}

extension ModelCost {
    /// The storage formats in one line (the provenance key `storage_format`): "dense" when every
    /// tensor is dense, else each sparse tensor with its format by name, e.g.
    /// "fc1.weight csr-8, fc2.weight bitmask; others dense".
    public var storageSummary: String {
        guard let sparse = sparseStorage, !sparse.isEmpty else { return StorageFormat.dense.rawValue }
        return sparse.keys.sorted().map { "\($0) \(sparse[$0]?.format.rawValue ?? "")" }.joined(separator: ", ") + "; others dense"
    }
}
