import Foundation
import LatheTestSupport
import Testing

/// First-party C plugins read host-table fields only within the size the host declared.
@Suite struct HostTableAccessTests {
    /// Every call through a host field (`host->log(`, `->scratch(`, …) in Plugins/ is guarded by
    /// `LATHE_HOST_HAS(…, field)` on its line or the three lines before it (comments aside).
    @Test func firstPartyCPluginsCheckTheHostTableSizeBeforeEveryHostCall() throws {
        let plugins = SourceTree.root.appendingPathComponent("Plugins")
        let files = try #require(FileManager.default.enumerator(at: plugins, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }
            .filter { ["c", "h"].contains($0.pathExtension) }
        #expect(files.count >= 10, "found only \(files.count) C files under \(plugins.path)")
        let call = try Regex(#"host->(log|report_error|report_qparams|scratch)\s*\("#)
        var unguarded: [String] = []
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n")
            for (index, line) in lines.enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                if code.hasPrefix("*") || code.hasPrefix("/*") || code.hasPrefix("//") { continue }
                for match in line.matches(of: call) {
                    let field = String(line[match.range].dropFirst("host->".count).prefix { $0 != "(" && $0 != " " })
                    let window = lines[Swift.max(0, index - 3)...index].joined(separator: "\n")
                    if !window.contains("LATHE_HOST_HAS(") || !window.contains(", \(field))") {
                        unguarded.append("\(file.lastPathComponent):\(index + 1): \(line.trimmingCharacters(in: .whitespaces))")
                    }
                }
            }
        }
        #expect(unguarded.isEmpty, "host fields read without LATHE_HOST_HAS:\n\(unguarded.joined(separator: "\n"))")
    }

    /// The Swift plugin reads a host field only on a line that checks it with `hostHas`.
    @Test func theSwiftPluginChecksTheHostTableSizeBeforeEveryHostField() throws {
        let source = try String(contentsOf: SourceTree.root.appendingPathComponent("Plugins/swift-kd/KD.swift"), encoding: .utf8)
        let read = try Regex(#"host\.pointee\.(log|report_error|report_qparams|scratch)\b"#)
        var reads = 0
        for line in source.components(separatedBy: "\n") {
            for match in line.matches(of: read) {
                reads += 1
                let field = line[match.range].split(separator: ".").last.map(String.init) ?? ""
                #expect(line.contains("hostHas(host, \\.\(field))"), "unguarded: \(line)")
            }
        }
        #expect(reads >= 2)
    }
}
