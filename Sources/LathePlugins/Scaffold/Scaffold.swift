/// One file of a scaffolded plugin project, relative to the project directory.
public struct ScaffoldFile: Sendable, Equatable {
    /// Path relative to the new project's directory, e.g. `src/lib.rs`.
    public var path: String
    /// The file's text.
    public var contents: String
    /// Whether the file gets the executable bit (build scripts).
    public var executable: Bool

    public init(path: String, contents: String, executable: Bool = false) {
        self.path = path
        self.contents = contents
        self.executable = executable
    }
}

/// The languages `lathe plugins new` can scaffold.
public enum ScaffoldLanguage: String, CaseIterable, Sendable {
    case c, swift, rust
}

/// The method kinds `lathe plugins new` can scaffold.
public enum ScaffoldKind: String, CaseIterable, Sendable {
    case quantizer, criterion, loss
}

/// What every scaffold receives. `name` is a valid plugin name (`[a-z][a-z0-9_-]*`);
/// `identifier` is `name` with `-` replaced by `_` (usable as a C, Swift or Rust identifier);
/// `header` is the full text of `lathe_plugin.h`; `rustBindings` the text of `lathe_plugin.rs`.
/// `learnable` asks for a method with learnable tensors (ABI 1.1): only C quantizers have that
/// scaffold (``supportsLearnable(language:kind:)``).
public struct ScaffoldRequest: Sendable {
    public var name: String
    public var kind: ScaffoldKind
    public var header: String
    public var rustBindings: String
    public var learnable: Bool
    public var identifier: String { name.replacingOccurrences(of: "-", with: "_") }

    public init(name: String, kind: ScaffoldKind, header: String, rustBindings: String, learnable: Bool = false) {
        self.name = name
        self.kind = kind
        self.header = header
        self.rustBindings = rustBindings
        self.learnable = learnable
    }

    /// Whether a learnable scaffold exists for `language` and `kind`: a C quantizer.
    public static func supportsLearnable(language: ScaffoldLanguage, kind: ScaffoldKind) -> Bool {
        language == .c && kind == .quantizer
    }
}
