/// The plugin SDK's files, compiled into the binary from `Sources/CLathePlugin` (through the
/// symlinks in `SDK/`), so the binary can hand them out without the source tree.
public enum EmbeddedSDK {
    /// `lathe_plugin.h`: the C header, the whole SDK.
    public static let header = String(decoding: PackageResources.lathe_plugin_h, as: UTF8.self)
    /// `lathe_plugin.rs`: Rust bindings of the header.
    public static let rustBindings = String(decoding: PackageResources.lathe_plugin_rs, as: UTF8.self)
    /// `README.md`: building a plugin, what the host checks on every call and what
    /// `lathe plugins check` runs and what passes.
    public static let readme = String(decoding: PackageResources.README_md, as: UTF8.self)
}
