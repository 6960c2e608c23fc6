import Foundation
import Testing

/// The first-party plugins in Plugins/ (C, Swift, Rust), built by scripts/build-plugins.sh and
/// registered in registry/ with their build pins (registry/.pins/), pass the conformance checker
/// through the registry.
@Suite("first-party plugins", .serialized)
struct FirstPartyPluginTests {
    static let registry = PluginCommandTests.root.appendingPathComponent("registry").path

    @Test(arguments: ["uniform", "lowbit", "kd", "prune", "learnable", "distill", "formats"])
    func registeredPluginPassesCheck(plugin: String) throws {
        let result = try CLIRunner.run(["plugins", "check", plugin, "--registry", Self.registry])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("result: PASS"))
        #expect(!result.stdout.contains("FAIL"))
    }

    @Test func registryListsEveryFirstPartyMethodWithoutLoadingCode() throws {
        let result = try CLIRunner.run(["plugins", "list", "--registry", Self.registry])
        #expect(result.status == 0, "\(result.stderr)")
        for id in ["uniform/affine", "uniform/symmetric", "lowbit/binary", "lowbit/ternary", "lowbit/pow2", "lowbit/kmeans", "kd/hinton", "prune/magnitude", "prune/l1-filter", "prune/taylor",
                   "learnable/lsq", "learnable/lsq-channel", "learnable/lsq-plus", "learnable/pact", "distill/dkd", "distill/crd",
                   "formats/int_group", "formats/mxfp4", "formats/mxfp8", "formats/fp8"] {
            #expect(result.stdout.contains(id), "missing \(id)")
        }
        #expect(!result.stdout.contains("UNPINNED"))
    }
}
