import Foundation
import LatheTestSupport
import Testing

/// The first-party C plugins' ABI 1.1 methods driven directly from C (Tests/Fixtures/drivers):
/// each driver is compiled with the plugin's sources and a fake host (harness.h), calls the
/// registered functions and checks values and gradients against hand-worked numbers, the papers'
/// definitions and central finite differences. The count of checks is part of the expectation,
/// so a check that stops running fails the test too.
@Suite struct PluginKernelDriverTests {
    /// Compiles `driver` with every C file of `pluginFolders` and the support library, runs it.
    static func run(_ driver: String, pluginFolders: [String]) throws -> String {
        let root = SourceTree.root
        let drivers = root.appendingPathComponent("Tests/Fixtures/drivers")
        let source = try String(contentsOf: drivers.appendingPathComponent(driver), encoding: .utf8)
        var sources: [String] = []
        for folder in pluginFolders {
            let url = root.appendingPathComponent(folder)
            sources += try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".c") }.sorted()
                .map { url.appendingPathComponent($0).path }
        }
        sources += ["support.c", "context.c"].map { root.appendingPathComponent("Plugins/c-support/\($0)").path }
        let flags = ["-O1", "-I", drivers.path, "-I", root.appendingPathComponent("Plugins/c-support/include").path]
        return try ABICompatibilityTests.compileAndRun(source, extraArguments: flags + sources + ["-lm"])
    }

    /// LSQ (per tensor, per channel), LSQ+ and PACT: forward values, reported qparams, the
    /// straight-through input gradient, the learnables' gradients (LSQ's g = 1/sqrt(N Qp)), the
    /// initialisers, a 5003-element run against a double-precision sum, and refusals (a 1.0-sized
    /// call, a learnable of the wrong size).
    @Test func learnableQuantizersMatchHandWorkedValues() throws {
        let output = try Self.run("learnable_driver.c", pluginFolders: ["Plugins/c-learnable"])
        #expect(!output.contains("FAIL"), "\(output)")
        #expect(output.hasSuffix("passed 119 of 119\n"), "\(output)")
    }

    /// DKD: the loss equals the paper's definition, the warm-up follows the call's epoch (none
    /// outside training or on a 1.0 call), the gradient matches central differences.
    @Test func dkdMatchesItsDefinitionAndFiniteDifferences() throws {
        let output = try Self.run("dkd_driver.c", pluginFolders: ["Plugins/c-distill"])
        #expect(!output.contains("FAIL"), "\(output)")
        #expect(output.hasSuffix("passed 29 of 29\n"), "\(output)")
    }

    /// CRD: the heads' initialiser, and the gradients w.r.t. the student and all four learnables
    /// against central differences, in-batch (no indices, no state) and with memory banks held
    /// fixed; the state's layout and the refusals (index outside the dataset, no state buffer).
    @Test func crdGradientsMatchFiniteDifferences() throws {
        let output = try Self.run("crd_driver.c", pluginFolders: ["Plugins/c-distill"])
        #expect(!output.contains("FAIL"), "\(output)")
        #expect(output.hasSuffix("passed 390 of 390\n"), "\(output)")
    }

    /// The Rust SDK's [1.1], [1.2] and [1.3] accessors (the counterpart of LATHE_HAS_FIELD): a call cut to an older
    /// size reads as the documented defaults, a full one gives its fields; the host's `state` only
    /// when the host table holds it. Its layout asserts are checked by compiling it.
    @Test func rustAccessorsFollowTheDeclaredSize() throws {
        let root = SourceTree.root
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-rust-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("driver").path
        // rustc from PATH, else rustup's default place (as scripts/build-plugins.sh looks for it).
        let rustup = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cargo/bin/rustc").path
        let rustc = FileManager.default.isExecutableFile(atPath: rustup) ? [rustup] : ["rustc"]
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = rustc + ["--edition", "2021", "-o", binary, root.appendingPathComponent("Tests/Fixtures/drivers/rust_call_fields.rs").path]
        try compile.run()
        compile.waitUntilExit()
        #expect(compile.terminationStatus == 0, "rustc failed")
        let output = try ABICompatibilityTests.output(of: binary)
        #expect(output == "passed 21 of 21\n", "\(output)")
    }
}
