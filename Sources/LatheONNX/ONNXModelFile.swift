import Foundation
import LatheIO
import SwiftProtobuf

/// Why an ONNX model file could not be read or written. `path` is the file (or the `source` name
/// given to ``ONNXModelFile/decode(_:source:)``); `description` says what was expected and what
/// was found, so it can be shown as is.
public struct ONNXModelFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, for callers that react differently to each.
    public enum Kind: Sendable, Equatable {
        /// The file could not be read (missing, a folder, no permission).
        case unreadable
        /// The bytes are not a serialized protobuf message: truncated, another format, or empty.
        case notProtobuf
        /// The bytes are a protobuf message, but not an ONNX model (no `ir_version`, no opset).
        case notAModel
        /// The model could not be serialized, or the file could not be written.
        case unwritable
    }

    public var path: String
    public var kind: Kind
    /// What was expected and what was found.
    public var reason: String

    public init(path: String, kind: Kind, reason: String) {
        self.path = path
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Reads and writes ONNX model files (`.onnx`): one serialized `onnx.ModelProto` of the schema in
/// Proto/onnx.proto (ONNX v1.17.0, proto3 form) whose Swift types are in Generated/onnx.pb.swift.
///
/// Reading checks what the ONNX checker checks first: an `ir_version` is set and, from IR
/// version 3 on, at least one `opset_import`. Protobuf decoding alone accepts many byte strings
/// that are not models (a text file can decode as unknown fields), so these checks are what tell a
/// model from something else. A file cut exactly between two top-level fields that come after
/// `opset_import` (`metadata_props`, `functions`) still decodes: protobuf has no end marker. Graph
/// contents are not checked here. Tensors stored as external data (models over 2 GiB) are left as
/// references; this type does not read them.
public enum ONNXModelFile {
    /// The IR version of the schema the Swift types were generated from (10 for ONNX v1.17.0).
    public static let schemaIRVersion = Int64(Onnx_Version.irVersion.rawValue)

    /// Reads and decodes the model file at `url`.
    /// - Throws: ``ONNXModelFileError`` naming the file when it cannot be read, is not protobuf
    ///   data (a truncated file, another format) or is not an ONNX model.
    public static func read(contentsOf url: URL) throws -> Onnx_ModelProto {
        func unreadable(_ why: String) -> ONNXModelFileError {
            ONNXModelFileError(path: url.path, kind: .unreadable, reason: "cannot read an ONNX model from it: \(why)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw unreadable("no such file") }
        guard !isFolder.boolValue else { throw unreadable("it is a folder") }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw unreadable(error.localizedDescription)
        }
        return try decode(data, source: url.path)
    }

    /// Decodes a serialized `onnx.ModelProto`. `source` names the data in errors (a path, say).
    /// - Throws: ``ONNXModelFileError`` when the bytes are not protobuf data or not an ONNX model.
    public static func decode(_ bytes: Data, source: String = "ONNX model data") throws -> Onnx_ModelProto {
        func failure(_ kind: ONNXModelFileError.Kind, _ found: String) -> ONNXModelFileError {
            ONNXModelFileError(path: source, kind: kind, reason: "expected an ONNX model (a serialized onnx.ModelProto), but \(found)")
        }
        guard !bytes.isEmpty else { throw failure(.notProtobuf, "it is empty (0 bytes)") }
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes)
        } catch let error as BinaryDecodingError {
            throw failure(.notProtobuf, "\(describe(error)) (\(bytes.count) bytes)")
        } catch {
            throw failure(.notProtobuf, "it does not decode as protobuf (\(error); \(bytes.count) bytes)")
        }
        if let problem = modelProblem(model) {
            throw failure(.notAModel, "\(problem) (\(bytes.count) bytes that decode as protobuf: another kind of file, or one cut short)")
        }
        return model
    }

    /// Serializes `model` to the bytes of an `.onnx` file.
    /// - Throws: ``ONNXModelFileError`` when the model lacks what ``decode(_:source:)`` requires
    ///   (so that every file written can be read back) or cannot be serialized.
    public static func encode(_ model: Onnx_ModelProto, destination: String = "ONNX model data") throws -> Data {
        if let problem = modelProblem(model) {
            throw ONNXModelFileError(path: destination, kind: .unwritable, reason: "refusing to write an ONNX model that \(problem)")
        }
        do {
            return try model.serializedBytes()
        } catch {
            throw ONNXModelFileError(path: destination, kind: .unwritable, reason: "cannot serialize the ONNX model (\(error))")
        }
    }

    /// Writes `model` to `url` atomically: readers see the old file or the whole new one.
    /// - Throws: ``ONNXModelFileError`` naming the file, as ``encode(_:destination:)`` does or
    ///   when the file cannot be written.
    public static func write(_ model: Onnx_ModelProto, to url: URL) throws {
        let data = try encode(model, destination: url.path)
        do {
            try atomicWrite(data, to: url)
        } catch let error as AtomicWriteError {
            throw ONNXModelFileError(path: url.path, kind: .unwritable, reason: "cannot write the ONNX model (\(error.reason))")
        }
    }

    /// Why `model` is not an acceptable ONNX model (the ONNX checker's first checks), or nil.
    static func modelProblem(_ model: Onnx_ModelProto) -> String? {
        if model.irVersion <= 0 {
            return "it has no ir_version (found \(model.irVersion))"
        }
        if model.irVersion >= 3, model.opsetImport.isEmpty {
            return "it has ir_version \(model.irVersion) but no opset_import"
        }
        return nil
    }

    static func describe(_ error: BinaryDecodingError) -> String {
        switch error {
        case .truncated: return "the data ends in the middle of a field: the file is truncated, or not protobuf"
        case .malformedProtobuf: return "the data is not valid protobuf: another format, or a damaged file"
        case .invalidUTF8: return "a string field holds invalid UTF-8: another format, or a damaged file"
        case .messageDepthLimit: return "messages are nested deeper than the decoder allows"
        case .trailingGarbage: return "there are bytes after the end of the message"
        default: return "it does not decode as protobuf (\(error))"
        }
    }
}
