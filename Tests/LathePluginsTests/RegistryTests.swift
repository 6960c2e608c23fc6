import Foundation
import Testing
@testable import LathePlugins

@Suite struct RegistryTests {
    /// A registry folder holding one manifest for the noop fixture; `edit` changes it first.
    func registry(_ edit: (inout Manifest) -> Void = { _ in }) throws -> (Registry, URL) {
        let path = try Fixtures.library("noop")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let described = try PluginLibrary.load(path: path).descriptor
        var manifest = Manifest(file: folder.appendingPathComponent("noop.toml").path, plugin: described,
                                library: path, sha256: try SHA256.hex(fileAt: path), firstParty: false)
        edit(&manifest)
        try manifest.write()
        return (try Registry(directory: folder.path), folder)
    }

    @Test func pinnedLibraryLoadsAndResolves() throws {
        let (reg, folder) = try registry()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(reg.broken.isEmpty)
        #expect(try reg.resolve("noop/identity").method.params.count == 6)
        #expect(try reg.method("noop/identity").qualifiedID == "noop/identity")
        #expect(throws: PluginError.self) { try reg.resolve("noop/absent") }
        #expect(throws: PluginError.self) { try reg.resolve("absent/identity") }
    }

    @Test func checksumMismatchIsRefusedBeforeDlopen() throws {
        let (reg, folder) = try registry { $0.sha256 = String(repeating: "0", count: 64) }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try reg.load("noop")
        } throws: { error in
            let text = String(describing: error)
            return text.contains("does not match the pin \(String(repeating: "0", count: 64))") && text.contains("refusing to load")
        }
    }

    @Test func unpinnedLoadsOnlyWhenAskedExplicitly() throws {
        let (reg, folder) = try registry { $0.sha256 = nil }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: PluginError.self) { try reg.load("noop") }
        #expect(try reg.load("noop", allowUnpinned: true).descriptor.name == "noop")
    }

    @Test func manifestThatDisagreesWithTheLibraryIsRefused() throws {
        let (reg, folder) = try registry { $0.plugin.methods[0].params.removeLast() }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try reg.load("noop")
        } throws: { error in
            String(describing: error).contains("differs from")
        }
    }

    @Test func brokenManifestIsListedNotLoaded() throws {
        let (_, folder) = try registry()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("name = \"broken\"\n".utf8).write(to: folder.appendingPathComponent("broken.toml"))
        let reg = try Registry(directory: folder.path)
        #expect(reg.manifests.keys.sorted() == ["noop"])
        #expect(reg.broken.count == 1)
        #expect(reg.broken.first?.error.message.contains("broken.toml: missing key 'abi'") == true)
    }
}
