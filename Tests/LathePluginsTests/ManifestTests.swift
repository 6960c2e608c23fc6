import Foundation
import LatheTestSupport
import Testing
@testable import LathePlugins

@Suite struct ManifestTests {
    static let plugin = PluginDescriptor(
        name: "demo", version: "1.2.0", description: "a \"quoted\" demo", abiMajor: 1, abiMinor: 0,
        methods: [
            MethodDescriptor(
                id: "q", title: "Q", doc: "x -> round(x)", reference: "Someone 2020", kind: .quantizer,
                flags: [.threadSafe, .deterministic],
                params: [
                    ParamSpec(name: "bits", type: .i32, doc: "bits", defaultValue: 8, minValue: 2, maxValue: 16),
                    ParamSpec(name: "p", type: .f64, defaultValue: 99.5, minValue: 90, maxValue: 100),
                    ParamSpec(name: "flag", type: .bool, defaultValue: 0),
                    ParamSpec(name: "range", type: .enum, defaultValue: 1, choices: ["minmax", "mse"]),
                ]),
            MethodDescriptor(id: "c", title: "C", kind: .criterion, flags: [.needsGradient], granularity: .outputChannel),
            MethodDescriptor(id: "l", title: "L", kind: .loss, flags: [], lossCategory: .relation),
        ])

    @Test func textRoundTrips() throws {
        let manifest = Manifest(file: "/tmp/registry/demo.toml", plugin: Self.plugin, library: "../lib/libdemo.so",
                                sha256: String(repeating: "ab", count: 32), firstParty: false)
        let parsed = try Manifest.parse(manifest.text(), file: manifest.file)
        #expect(parsed == manifest)
        #expect(parsed.libraryPath == "/tmp/lib/libdemo.so")
        // A first-party manifest's text holds no pin: its pin is the build's (.pins/NAME.sha256).
        var firstParty = manifest
        firstParty.firstParty = true
        #expect(!firstParty.text().contains("sha256 ="))
        firstParty.sha256 = nil
        #expect(try Manifest.parse(firstParty.text(), file: manifest.file) == firstParty)
        #expect(firstParty.pinFile == "/tmp/registry/.pins/demo.sha256")
    }

    /// The tracked first-party manifests hold no pin and are exactly what a build writes, so
    /// `scripts/build-plugins.sh` leaves the checkout clean.
    @Test func trackedFirstPartyManifestsAreWhatTheBuildWrites() throws {
        let folder = SourceTree.root.appendingPathComponent("registry")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".toml") }
        #expect(files.count >= 5)
        for name in files {
            let file = folder.appendingPathComponent(name).path
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let manifest = try Manifest.parse(text, file: file)
            #expect(manifest.firstParty, "\(name)")
            #expect(!text.contains("sha256 ="), "\(name) holds a pin")
            #expect(manifest.text() == text, "\(name) differs from what the build writes")
        }
    }

    @Test func errorsNameTheFileAndTheKey() throws {
        let good = Manifest(file: "/r/demo.toml", plugin: Self.plugin, library: "libdemo.so", sha256: nil, firstParty: false).text()
        func error(_ text: String) -> String {
            do {
                _ = try Manifest.parse(text, file: "/r/demo.toml")
                return "parsed"
            } catch {
                return String(describing: error)
            }
        }
        #expect(error(good.replacingOccurrences(of: "version = \"1.2.0\"\n", with: "")) == "/r/demo.toml: missing key 'version' (a string)")
        #expect(error(good.replacingOccurrences(of: "kind = \"criterion\"", with: "kind = \"pruner\"")).contains("key 'methods[1].kind' = \"pruner\""))
        #expect(error(good.replacingOccurrences(of: "default = 8", with: "default = 40")).contains("default 40 is outside its range [2, 16]"))
        #expect(error(good.replacingOccurrences(of: "default = \"mse\"", with: "default = \"l2\"")).contains("key 'methods[0].params[3].default' = \"l2\""))
        #expect(error(good.replacingOccurrences(of: "library = \"libdemo.so\"\n", with: "library = \"libdemo.so\"\nsha256 = \"xyz\"\n"))
            .contains("/r/demo.toml: key 'sha256' = \"xyz\""))
        #expect(error("name = \"demo\"\nabi = ").hasPrefix("/r/demo.toml:2: invalid TOML"))
        // toml++ 3.4.0 aborts the process on these headers; they must be a parse error here.
        for header in ["[", "[=", "[[[", "[[\n"] {
            #expect(error("name = \"demo\"\n\(header)\n").hasPrefix("/r/demo.toml:2: invalid TOML: a table header needs a key"))
        }
        #expect(error(good.replacingOccurrences(of: "abi = \"1.0\"", with: "abi = \"one\"")).contains("key 'abi' = \"one\""))
        #expect(error(good.replacingOccurrences(of: "id = \"l\"", with: "id = \"q\""))
            == "/r/demo.toml: key 'methods[2].id' = \"q\" is also the id of methods[0]; method ids must be unique in a plugin")
    }
}
