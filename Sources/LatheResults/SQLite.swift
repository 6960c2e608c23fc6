import CSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure from SQLite, with the database path and the statement.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var int: Int64? { if case .integer(let v) = self { return v }; return nil }
    public var double: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
    public var string: String? { if case .text(let v) = self { return v }; return nil }
}

/// A small, strict wrapper over one SQLite connection (the system's libsqlite3).
///
/// Threading: one connection per thread (or process); SQLite's own locking coordinates
/// processes. Opened in WAL mode with a busy timeout, foreign keys on.
public final class SQLiteDatabase {
    /// The database file.
    public let path: String
    private var handle: OpaquePointer?

    /// Opens (creating if needed) the database at `path`.
    ///
    /// Read-only opens also work on read-only media: SQLite cannot create the `-shm` file a
    /// WAL database needs there, so when the first read fails and the database's directory is
    /// not writable, the file is opened as immutable (no one can be writing it). Writable opens
    /// refuse at once, naming the path and why, when the file or its directory is not writable.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        if readOnly {
            handle = try Self.open(path, flags: SQLITE_OPEN_READONLY)
            if (try? query("SELECT COUNT(*) FROM sqlite_master")) == nil, let problem = Self.writeProblem(path) {
                sqlite3_close(handle)
                handle = nil
                let uri = "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?mode=ro&immutable=1"
                do { handle = try Self.open(uri, flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI) } catch {
                    throw DatabaseError("\(path): cannot be read on read-only media: \(problem) (\(error))")
                }
            }
        } else {
            if let problem = Self.writeProblem(path) { throw DatabaseError("cannot write results database \(path): \(problem)") }
            handle = try Self.open(path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
        }
        sqlite3_busy_timeout(handle, 30_000)
        try execute("PRAGMA foreign_keys = ON")
    }

    private static func open(_ name: String, flags: Int32) throws -> OpaquePointer {
        var db: OpaquePointer?
        guard sqlite3_open_v2(name, &db, flags | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK, let db else {
            let reason = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw DatabaseError("\(name): \(reason)")
        }
        return db
    }

    /// Why SQLite could not write the database at `path` (it also creates `-wal`, `-shm` and
    /// journal files beside it), or nil. `access` reports read-only media even to root.
    static func writeProblem(_ path: String) -> String? {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        if access(directory, W_OK) != 0 {
            let reason = String(cString: strerror(errno))
            return "its directory \(directory) is not writable (\(reason)); SQLite must create its -wal and -shm files there"
        }
        if access(path, F_OK) == 0, access(path, W_OK) != 0 {
            return "the file is not writable (\(String(cString: strerror(errno))))"
        }
        return nil
    }

    deinit { sqlite3_close(handle) }

    private func error(_ sql: String) -> DatabaseError {
        DatabaseError("\(path): \(String(cString: sqlite3_errmsg(handle))) (in: \(sql.prefix(120)))")
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &message) == SQLITE_OK else {
            let reason = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw DatabaseError("\(path): \(reason) (in: \(sql.prefix(120)))")
        }
    }

    /// Runs one statement with bound values; returns its rows as column-name dictionaries.
    @discardableResult
    public func query(_ sql: String, _ values: [SQLValue] = []) throws -> [[String: SQLValue]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw error(sql) }
        defer { sqlite3_finalize(statement) }
        for (index, value) in values.enumerated() {
            let i = Int32(index + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, i)
            case .integer(let v): status = sqlite3_bind_int64(statement, i, v)
            case .real(let v): status = sqlite3_bind_double(statement, i, v)
            case .text(let v): status = sqlite3_bind_text(statement, i, v, -1, lathe_sqlite_transient())
            }
            guard status == SQLITE_OK else { throw error(sql) }
        }
        var rows: [[String: SQLValue]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(sql) }
            var row: [String: SQLValue] = [:]
            for c in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, c))
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: row[name] = .integer(sqlite3_column_int64(statement, c))
                case SQLITE_FLOAT: row[name] = .real(sqlite3_column_double(statement, c))
                case SQLITE_TEXT: row[name] = .text(String(cString: sqlite3_column_text(statement, c)))
                default: row[name] = .null
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// The rowid of the last insert on this connection.
    public var lastInsertID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in an immediate transaction: committed if it returns, rolled back if it throws.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
