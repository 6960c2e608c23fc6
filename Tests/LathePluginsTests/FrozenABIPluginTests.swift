import Foundation
import LatheTensor
import LatheTestSupport
import Testing
@testable import LathePlugins

/// The ABI's central promise: a plugin built against an earlier minor version loads and runs
/// unchanged under this (1.3) host. The first-party C plugins' unchanged sources are compiled
/// here against each frozen header (`Tests/Fixtures/abi/lathe_plugin_1_0.h`, `_1_1.h`, `_1_2.h`,
/// installed as `lathe_plugin.h`), so every struct they hand the host has that version's size;
/// each library loads, passes every conformance check, and gives bit-identical outputs, at every
/// hyperparameter setting the checker uses, to the same sources built against the current header
/// (the libraries `scripts/build-plugins.sh` installs in `.build/plugins`). A 1.0 build links only
/// `support.c` of the C support library (its 1.1 accessors live in `context.c`).
@Suite(.serialized) struct FrozenABIPluginTests {
    static let families: [(folder: String, installed: String)] = [
        ("c-uniform", "libLatheUniform.so"), ("c-lowbit", "libLatheLowBit.so"), ("c-distill", "libLatheDistillLosses.so"),
        ("c-formats", "libLatheFormats.so"), ("c-learnable", "libLatheLearnable.so"), ("c-calib", "libLatheCalib.so"),
    ]
    /// The families that exist at each frozen version (formats and learnable need 1.1, calib 1.2).
    static let builds: [(minor: Int, folder: String)] = [(0, "c-uniform"), (0, "c-lowbit"), (0, "c-distill"),
        (1, "c-uniform"), (1, "c-lowbit"), (1, "c-distill"), (1, "c-formats"), (1, "c-learnable"), (2, "c-calib")]

    /// `Plugins/FOLDER` compiled with the frozen header of ABI 1.`minor`.
    static func build(_ folder: String, minor: Int) throws -> String {
        let root = SourceTree.root
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-abi1\(minor)-\(getpid())-\(folder)")
        let include = dir.appendingPathComponent("include")
        try FileManager.default.createDirectory(at: include, withIntermediateDirectories: true)
        let header = include.appendingPathComponent("lathe_plugin.h")
        try? FileManager.default.removeItem(at: header)
        try FileManager.default.copyItem(at: root.appendingPathComponent("Tests/Fixtures/abi/lathe_plugin_1_\(minor).h"), to: header)
        let source = root.appendingPathComponent("Plugins/\(folder)")
        let files = try FileManager.default.contentsOfDirectory(atPath: source.path).filter { $0.hasSuffix(".c") }.sorted()
            .map { source.appendingPathComponent($0).path }
        let library = dir.appendingPathComponent("lib\(folder)-abi1\(minor).so").path
        let support = ["support.c"] + (minor >= 1 ? ["context.c"] : [])
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["clang", "-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include.path,
                        "-I", root.appendingPathComponent("Plugins/c-support/include").path, "-I", source.path, "-o", library]
            + files + support.map { root.appendingPathComponent("Plugins/c-support/\($0)").path } + ["-lm", "-lpthread"]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw Fixtures.FixtureError(message: "cc failed building \(folder) against ABI 1.\(minor)") }
        return library
    }

    /// Methods a family had at an earlier minor (a build against it must still register all of
    /// them); otherwise the build must register every method of the current one.
    static let methodsAt = ["1.0 c-uniform": 2, "1.0 c-lowbit": 4, "1.0 c-distill": 5, "1.2 c-calib": 4]

    static func installed(_ name: String) -> String { SourceTree.root.appendingPathComponent(".build/plugins/\(name)").path }

    @Test(arguments: builds.map { "1.\($0.minor) \($0.folder)" })
    func aPluginBuiltAgainstAnEarlierMinorLoadsPassesCheckAndMatchesTheCurrentBuild(_ build: String) throws {
        let parts = build.split(separator: " ")
        let minor = try #require(Int(parts[0].dropFirst(2))), folder = String(parts[1])
        let old = try PluginLibrary.open(try Self.build(folder, minor: minor))
        #expect(old.descriptor.abiMajor == 1 && old.descriptor.abiMinor == minor)
        let current = try PluginLibrary.load(path: Self.installed(try #require(Self.families.first { $0.folder == folder }).installed))
        #expect(current.descriptor.abiMinor == ABI.minor)
        // Methods that need a later minor (distill/dkd and distill/crd 1.1, the calib scalers 1.3) are left out.
        #expect(Set(old.methods.map(\.descriptor.id)).isSubset(of: current.methods.map(\.descriptor.id)))
        #expect(old.methods.count >= Self.methodsAt[build, default: current.methods.count])
        for method in old.methods {
            var failures: [String] = []
            let passed = ConformanceChecker(method: method) { record in
                if record.status == .fail { failures.append("\(record.check): \(record.detail)") }
            }.run()
            #expect(passed, "\(method.qualifiedID) built against 1.\(minor) fails check: \(failures)")
            // Methods with learnables run through instances; the checks above cover them.
            guard method.descriptor.learnables.isEmpty else { continue }
            let twin = try current.method(method.descriptor.id)
            for setting in try ConformanceChecker(method: method, emit: { _ in }).settings() {
                try Self.expectIdentical(method, twin, setting.params, label: "\(method.qualifiedID) at \(setting.label)")
            }
        }
    }

    /// The same call on both builds: outputs equal bit for bit (and reported parameters equal).
    static func expectIdentical(_ a: PluginMethod, _ b: PluginMethod, _ params: BoundParams, label: String) throws {
        let g = try RandomGenerator(seed: 11)
        switch a.descriptor.kind {
        case .quantizer:
            let x = try Tensor.randn([6, 3, 3, 3], generator: g)
            let (ya, qa) = try a.quantize(x, params: params)
            let (yb, qb) = try b.quantize(x, params: params)
            #expect(try ya.bytes() == yb.bytes(), "\(label): outputs differ")
            #expect(qa == qb, "\(label): reported parameters differ")
        case .criterion, .solver:
            // The checker's inputs (weight, gradient, aux and input statistics for a criterion).
            let x = try ConformanceChecker(method: a, emit: { _ in }).inputs(seed: 11)
            let oa = try ConformanceChecker.call(a, params, x), ob = try ConformanceChecker.call(b, params, x)
            #expect(oa.same(as: ob), "\(label): outputs differ")
        case .scaler, .factorizer:
            Issue.record("\(label): no frozen (1.0 to 1.2) build has a scaler or factorizer; they are ABI 1.3")
        case .loss:
            // The checker's inputs for the loss (attention maps for distill/attention-map).
            let x = try ConformanceChecker(method: a, emit: { _ in }).inputs(seed: 11)
            let (s, t, labels) = (x[0], x[1], x[2])
            let la = try a.loss(student: s, teacher: t, labels: labels, params: params)
            let lb = try b.loss(student: s, teacher: t, labels: labels, params: params)
            #expect(la.loss.bitPattern == lb.loss.bitPattern, "\(label): loss values differ")
            #expect(try la.gradient.bytes() == lb.gradient.bytes(), "\(label): gradients differ")
        }
    }
}
