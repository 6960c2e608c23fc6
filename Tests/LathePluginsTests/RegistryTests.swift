import Foundation
import LatheIO
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

    @Test func checksumMismatchIsRefusedBeforeDlopenAndSaysHowToRefresh() throws {
        let (reg, folder) = try registry { $0.sha256 = String(repeating: "0", count: 64) }
        defer { try? FileManager.default.removeItem(at: folder) }
        let library = try Fixtures.library("noop")
        #expect {
            _ = try reg.load("noop")
        } throws: { error in
            let text = String(describing: error)
            return text.contains("does not match the pin \(String(repeating: "0", count: 64))") && text.contains("refusing to load")
                && text.contains("refresh the pin: lathe plugins add \(library) --registry \(folder.standardizedFileURL.path)")
        }
        let (firstParty, other) = try registry {
            $0.firstParty = true
            $0.sha256 = String(repeating: "0", count: 64)
        }
        defer { try? FileManager.default.removeItem(at: other) }
        #expect {
            _ = try firstParty.load("noop")
        } throws: { error in
            String(describing: error).contains("refresh the pins: scripts/build-plugins.sh")
        }
    }

    @Test func firstPartyPinIsTheBuildsNotTheManifests() throws {
        let (reg, folder) = try registry { $0.firstParty = true }
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try String(contentsOf: folder.appendingPathComponent("noop.toml"), encoding: .utf8)
        #expect(!manifest.contains("sha256 ="))
        let pin = try String(contentsOf: folder.appendingPathComponent(".pins/noop.sha256"), encoding: .utf8)
        #expect(pin == (try SHA256.hex(fileAt: try Fixtures.library("noop"))) + "\n")
        #expect(reg.manifests["noop"]?.sha256 == pin.trimmingCharacters(in: .newlines))
        #expect(try reg.load("noop").descriptor.name == "noop")
        // A first-party manifest without its build pin (a fresh clone) never loads unpinned.
        try FileManager.default.removeItem(at: folder.appendingPathComponent(".pins/noop.sha256"))
        let unbuilt = try Registry(directory: folder.path)
        for allowUnpinned in [false, true] {
            #expect {
                _ = try unbuilt.load("noop", allowUnpinned: allowUnpinned)
            } throws: { error in
                let text = String(describing: error)
                return text.contains("noop.toml: first-party plugin 'noop' has no build pin") && text.contains("scripts/build-plugins.sh")
            }
        }
        // A pin in a first-party manifest is refused: it would make builds rewrite tracked files.
        try Data(manifest.replacingOccurrences(of: "first_party = true", with: "first_party = true\nsha256 = \"\(pin.prefix(64))\"").utf8)
            .write(to: folder.appendingPathComponent("noop.toml"))
        #expect(try Registry(directory: folder.path).broken.first?.error.message.contains("key 'sha256': a first-party manifest carries no pin") == true)
    }

    @Test func uppercasePinIsAcceptedAsTheSameHash() throws {
        let (_, folder) = try registry()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("noop.toml")
        let pin = try SHA256.hex(fileAt: try Fixtures.library("noop"))
        let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: pin, with: pin.uppercased())
        #expect(text.contains(pin.uppercased()))
        try Data(text.utf8).write(to: file)
        let reg = try Registry(directory: folder.path)
        #expect(reg.broken.isEmpty)
        #expect(reg.manifests["noop"]?.sha256 == pin)
        #expect(try reg.load("noop").descriptor.name == "noop")
    }

    @Test func libraryThatIsAFolderIsNamedWithTheManifestAndKey() throws {
        let (reg, folder) = try registry { $0.library = "/tmp" }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try reg.load("noop")
        } throws: { error in
            String(describing: error) == "\(folder.standardizedFileURL.path)/noop.toml: key 'library' = \"/tmp\" (/tmp) is a folder; expected a regular file, the plugin's shared library"
        }
    }

    @Test func twoManifestsOfOnePluginAreAnErrorNamingBoth() throws {
        let (_, folder) = try registry()
        defer { try? FileManager.default.removeItem(at: folder) }
        var second = try Manifest.read(folder.appendingPathComponent("noop.toml").path)
        second.file = folder.appendingPathComponent("another.toml").path
        try second.write()
        let reg = try Registry(directory: folder.path)
        #expect(reg.manifests["noop"] == nil)
        #expect(reg.broken.count == 2)
        for attempt in [{ _ = try reg.load("noop") }, { _ = try reg.resolve("noop/identity") }] {
            #expect {
                try attempt()
            } throws: { error in
                let text = String(describing: error)
                return text.contains("plugin 'noop' is declared by more than one manifest") && text.contains("another.toml") && text.contains("noop.toml")
            }
        }
    }

    @Test func missingPluginErrorMentionsBrokenManifests() throws {
        let (_, folder) = try registry()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("name = \"broken\"\n".utf8).write(to: folder.appendingPathComponent("broken.toml"))
        #expect {
            _ = try Registry(directory: folder.path).load("broken")
        } throws: { error in
            let text = String(describing: error)
            return text.contains("no plugin 'broken'") && text.contains("registered: noop") && text.contains("broken.toml: missing key 'abi'")
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
