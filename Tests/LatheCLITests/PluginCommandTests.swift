import Foundation
import LatheTestSupport
import Testing

/// `lathe plugins …` end to end: real child processes, real shared libraries.
@Suite("lathe plugins", .serialized)
struct PluginCommandTests {
    static let root = SourceTree.root

    /// Compiles Tests/Fixtures/plugins/NAME.c into `dir`.
    static func fixture(_ name: String, in dir: URL) throws -> String {
        let lib = dir.appendingPathComponent("lib\(name).so").path
        let cc = try CLIRunner.runTool("/usr/bin/env", ["cc", "-std=c11", "-O1", "-shared", "-fPIC", "-I",
                                                        root.appendingPathComponent("Sources/CLathePlugin/include").path, "-o", lib,
                                                        root.appendingPathComponent("Tests/Fixtures/plugins/\(name).c").path, "-lm", "-lpthread"])
        #expect(cc.status == 0, "cc: \(cc.stderr)")
        return lib
    }

    @Test func crashingAbortingAndHangingPluginsAreContainedAndReported() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The limit also covers loading the library in its own child: generous, so that a loaded
        // machine (CI beside other jobs) cannot turn a crash into "loading it hung".
        for (name, timeout, expected) in [("segfault", 120, "SIGSEGV"), ("abort", 120, "SIGABRT"), ("hang", 15, "hung: killed after 15 s")] {
            let lib = try Self.fixture(name, in: dir)
            let result = try CLIRunner.run(["plugins", "check", lib, "--timeout", String(timeout)])
            #expect(result.status == 1, "\(name): \(result.stdout)")
            #expect(result.stdout.contains("FAIL  call with defaults: the method"), "\(name): \(result.stdout)")
            #expect(result.stdout.contains(expected), "\(name): \(result.stdout)")
            #expect(result.stdout.contains("result: FAIL"))
            #expect(!result.stdout.contains("result: PASS"))
        }
    }

    @Test func checkerFindsEachMisbehaviour() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = [
            ("nan", "FAIL  call with defaults", "non-finite output"),
            ("not_idempotent", "FAIL  idempotence", "q(q(x)) differs"),
            ("bad_gradient", "FAIL  gradient vs finite differences", "worst relative error"),
            ("nondeterministic", "FAIL  determinism", "different outputs"),
            ("unsafe_threads", "FAIL  thread safety", "concurrent calls disagree"),
            ("fails", "FAIL  call with defaults", "deliberate failure"),
            ("half_written", "FAIL  call with defaults", "half_written/sym8 left 144 of 288 elements of its output 'output' unwritten"),
            ("writes_input", "FAIL  call with defaults", "wrote into its read-only input 'input'"),
            ("static_scratch", "FAIL  thread safety", "concurrent calls disagree"),
            ("scaled_gradient", "FAIL  gradient vs finite differences: with scale = 4.0", "worst relative error"),
            ("zero_channel_nan", "FAIL  edge cases", "on the all-zero channel input (which a method must compute): zero_channel_nan/sym8 returned a non-finite output"),
            ("refused_qparams", "FAIL  call with defaults", "the host refused the quantization parameters it reported: qparams: 1 scales for axis 0; expected 8"),
        ]
        for (name, line, detail) in cases {
            let result = try CLIRunner.run(["plugins", "check", try Self.fixture(name, in: dir), "--timeout", "60"])
            #expect(result.status == 1, "\(name): \(result.stdout)")
            #expect(result.stdout.contains(line), "\(name): \(result.stdout)")
            #expect(result.stdout.contains(detail), "\(name): \(result.stdout)")
        }
    }

    @Test func aLossThatNeverWritesItsGradientFailsTheFirstCheck() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(["plugins", "check", try Self.fixture("no_gradient", in: dir)])
        #expect(result.status == 1)
        let failures = result.stdout.split(separator: "\n").filter { $0.contains("FAIL  ") }
        #expect(failures.first?.contains("FAIL  call with defaults: no_gradient/mse left 60 of 60 elements of its output 'student gradient' unwritten") == true,
                "\(result.stdout)")
        #expect(!result.stdout.contains("with weight ="), "a hyperparameter was blamed: \(result.stdout)")
    }

    @Test func checksRunAtEachHyperparameterBoundAndWarnAboutAnIgnoredOne() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(["plugins", "check", try Self.fixture("ignored_param", in: dir)])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("warn  hyperparameter effect: 'bits' changed nothing in the output"), "\(result.stdout)")
        #expect(result.stdout.contains("pass  idempotence: ") && result.stdout.contains("passed at 1 other setting too"), "\(result.stdout)")
        #expect(result.stdout.contains("result: PASS (8 passed, 0 failed, 1 warning)"), "\(result.stdout)")
    }

    /// `--json`: JSON lines only on stdout, whose counts are the text report's.
    @Test func jsonIsJSONLinesOnlyAndCountsAsTheTextDoes() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for fixture in ["ignored_param", "bad_gradient"] {
            let lib = try Self.fixture(fixture, in: dir)
            let text = try CLIRunner.run(["plugins", "check", lib])
            let json = try CLIRunner.run(["plugins", "check", lib, "--json"])
            #expect(json.status == text.status)
            let lines = json.stdout.split(separator: "\n")
            var objects: [[String: Any]] = []
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                if let object { objects.append(object) }
            }
            let summary = try #require(objects.last)
            #expect(summary["check"] as? String == "result")
            let statuses = objects.dropLast().compactMap { $0["status"] as? String }
            let passed = statuses.filter { $0 == "pass" }.count, failed = statuses.filter { $0 == "fail" }.count
            #expect(summary["passed"] as? Int == passed && summary["failed"] as? Int == failed, "\(json.stdout)")
            let warnings = summary["warnings"] as? Int ?? -1
            let counts = "\(passed) passed, \(failed) failed" + (warnings > 0 ? ", \(warnings) warning" + (warnings == 1 ? "" : "s") : "")
            #expect(text.stdout.contains("(\(counts))"), "text: \(text.stdout)\njson: \(json.stdout)")
            #expect(text.stdout.split(separator: "\n").filter { $0.contains("  pass  ") }.count == passed)
        }
    }

    @Test func loadErrorsAreReportedWithANonZeroExit() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(["plugins", "check", try Self.fixture("abi_major", in: dir)])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL  load:") && result.stdout.contains("ABI 2.0"))
        let add = try CLIRunner.run(["plugins", "add", try Self.fixture("duplicate_ids", in: dir), "--registry", dir.appendingPathComponent("reg").path])
        #expect(add.status != 0)
        #expect(add.stderr.contains("registers method id 'same' twice"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("reg/dup.toml").path))
        let missing = try CLIRunner.run(["plugins", "check", dir.appendingPathComponent("libabsent.so").path])
        #expect(missing.status != 0)
    }

    @Test func addPinsListReadsAndTamperingIsRefused() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("registry").path
        let lib = try Self.fixture("noop", in: dir)
        let add = try CLIRunner.run(["plugins", "add", lib, "--registry", registry])
        #expect(add.status == 0, "\(add.stderr)")
        let manifest = try String(contentsOfFile: "\(registry)/noop.toml", encoding: .utf8)
        #expect(manifest.contains("sha256 = \""))
        let list = try CLIRunner.run(["plugins", "list", "--registry", registry, "--verbose"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("noop/identity"))
        #expect(list.stdout.contains("bits: i32, default 8"))
        // Rebuild the library differently: the pin no longer matches.
        let other = try Self.fixture("nan", in: dir)
        try FileManager.default.removeItem(atPath: lib)
        try FileManager.default.copyItem(atPath: other, toPath: lib)
        let check = try CLIRunner.run(["plugins", "check", "noop", "--registry", registry])
        #expect(check.status != 0)
        #expect(check.stderr.contains("does not match the pin"))
        #expect(check.stderr.contains("refresh the pin: lathe plugins add \(lib) --registry \(registry)"), "\(check.stderr)")
    }

    /// Appends bytes to a library: a different sha256, the same declarations (a "rebuild").
    static func rebuild(_ lib: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: lib))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("rebuilt".utf8))
        try handle.close()
    }

    @Test func firstPartyRebuildChangesOnlyTheBuildPin() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("registry").path
        let lib = try Self.fixture("noop", in: dir)
        #expect(try CLIRunner.run(["plugins", "add", lib, "--first-party", "--registry", registry]).status == 0)
        let manifest = try String(contentsOfFile: "\(registry)/noop.toml", encoding: .utf8)
        #expect(!manifest.contains("sha256 ="))
        let pin = try String(contentsOfFile: "\(registry)/.pins/noop.sha256", encoding: .utf8)
        try Self.rebuild(lib)
        let stale = try CLIRunner.run(["plugins", "check", "noop", "--registry", registry])
        #expect(stale.status != 0)
        #expect(stale.stderr.contains("refresh the pins: scripts/build-plugins.sh"), "\(stale.stderr)")
        let again = try CLIRunner.run(["plugins", "pin", "--registry", registry])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("pinned noop"))
        #expect(try String(contentsOfFile: "\(registry)/noop.toml", encoding: .utf8) == manifest)
        let newPin = try String(contentsOfFile: "\(registry)/.pins/noop.sha256", encoding: .utf8)
        #expect(newPin != pin)
        #expect(try CLIRunner.run(["plugins", "list", "--registry", registry]).stdout.contains("noop 1.0.0  ABI 1.3  sha256 \(newPin.prefix(12))"))
        #expect(try CLIRunner.run(["plugins", "bench", "noop", "identity", "--registry", registry, "--iterations", "10", "--repeats", "1"]).status == 0)
        // A second manifest of the plugin: pinning refuses, naming both.
        try FileManager.default.copyItem(atPath: "\(registry)/noop.toml", toPath: "\(registry)/another.toml")
        let twice = try CLIRunner.run(["plugins", "pin", "--registry", registry])
        #expect(twice.status != 0)
        #expect(twice.stderr.contains("Error: plugin 'noop' is declared by more than one manifest: \(registry)/another.toml and \(registry)/noop.toml"), "\(twice.stderr)")
    }

    @Test func addRefusesAnotherLibraryUnderARegisteredNameUnlessReplacing() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("registry").path
        let lib = try Self.fixture("noop", in: dir)
        #expect(try CLIRunner.run(["plugins", "add", lib, "--first-party", "--registry", registry]).status == 0)
        let manifest = try String(contentsOfFile: "\(registry)/noop.toml", encoding: .utf8)
        // Another project's library declaring the same plugin name (`plugins new noop`, built).
        let elsewhere = dir.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let other = elsewhere.appendingPathComponent("libnoop.so").path
        try FileManager.default.copyItem(atPath: lib, toPath: other)
        let refused = try CLIRunner.run(["plugins", "add", other, "--registry", registry])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("plugin 'noop' is already registered by \(registry)/noop.toml (a first-party plugin) for \(lib), not \(other)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("choose another name") && refused.stderr.contains("--replace"))
        #expect(try String(contentsOfFile: "\(registry)/noop.toml", encoding: .utf8) == manifest)
        let replaced = try CLIRunner.run(["plugins", "add", other, "--replace", "--registry", registry])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        let now = try String(contentsOfFile: "\(registry)/noop.toml", encoding: .utf8)
        #expect(now.contains("elsewhere/libnoop.so") && now.contains("sha256 =") && !now.contains("first_party"))
        #expect(!FileManager.default.fileExists(atPath: "\(registry)/.pins/noop.sha256"))
    }

    @Test func benchAcceptsARegisteredNameLikeCheck() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("registry").path
        let lib = try Self.fixture("noop", in: dir)
        #expect(try CLIRunner.run(["plugins", "add", lib, "--registry", registry]).status == 0)
        let bench = try CLIRunner.run(["plugins", "bench", "noop", "identity", "--registry", registry, "--iterations", "10", "--repeats", "1"])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stdout.contains("noop/identity: 6 hyperparameters"))
        try Self.rebuild(lib)
        let stale = try CLIRunner.run(["plugins", "bench", "noop", "identity", "--registry", registry, "--iterations", "10", "--repeats", "1"])
        #expect(stale.status != 0)
        #expect(stale.stderr.contains("does not match the pin") && stale.stderr.contains("refresh the pin: lathe plugins add"), "\(stale.stderr)")
    }

    @Test func sdkIsWrittenOutAndAThirdPartyPluginBuiltAgainstItPasses() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sdk = dir.appendingPathComponent("sdk")
        let result = try CLIRunner.run(["plugins", "sdk", sdk.path])
        #expect(result.status == 0)
        let header = try String(contentsOf: sdk.appendingPathComponent("lathe_plugin.h"), encoding: .utf8)
        let canonical = try String(contentsOf: Self.root.appendingPathComponent("Sources/CLathePlugin/include/lathe_plugin.h"), encoding: .utf8)
        #expect(header == canonical, "the SDK written out differs from Sources/CLathePlugin")
        let rust = try String(contentsOf: sdk.appendingPathComponent("lathe_plugin.rs"), encoding: .utf8)
        let canonicalRust = try String(contentsOf: Self.root.appendingPathComponent("Sources/CLathePlugin/rust/lathe_plugin.rs"), encoding: .utf8)
        #expect(rust == canonicalRust, "the Rust bindings written out differ from Sources/CLathePlugin")
        let readme = try String(contentsOf: sdk.appendingPathComponent("README.md"), encoding: .utf8)
        let canonicalReadme = try String(contentsOf: Self.root.appendingPathComponent("Sources/CLathePlugin/README.md"), encoding: .utf8)
        #expect(readme == canonicalReadme, "the README written out differs from Sources/CLathePlugin")
        // It lists every check the checker runs, for each kind.
        for fixture in ["noop", "bad_gradient", "unsafe_threads"] {
            let json = try CLIRunner.run(["plugins", "check", try Self.fixture(fixture, in: dir), "--json"])
            let checks = Set(json.stdout.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["check"] as? String
            })
            #expect(checks.count >= 5, "\(json.stdout)")
            for check in checks where check != "result" {
                #expect(readme.contains("`\(check)`"), "the SDK README does not describe the check '\(check)'")
            }
        }
        // A third party: only the written-out header, outside the source tree.
        let source = dir.appendingPathComponent("third.c")
        try Data(Self.thirdPartyPlugin.utf8).write(to: source)
        let lib = dir.appendingPathComponent("libthird.so").path
        let cc = try CLIRunner.runTool("/usr/bin/env", ["cc", "-std=c11", "-shared", "-fPIC", "-I", sdk.path, "-o", lib, source.path])
        #expect(cc.status == 0, "\(cc.stderr)")
        let check = try CLIRunner.run(["plugins", "check", lib])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("result: PASS"))
    }

    static let thirdPartyPlugin = """
    #include <math.h>
    #include "lathe_plugin.h"
    /* Sign criterion-free demo: a 1-bit quantizer, x -> mean|x| * sign(x) (BinaryConnect-like). */
    static int32_t binarize(lathe_call *call, const DLTensor *in, DLTensor *out) {
        int64_t n = 1;
        for (int i = 0; i < in->ndim; i++) n *= in->shape[i];
        const float *x = in->data; float *y = out->data;
        double sum = 0; for (int64_t i = 0; i < n; i++) sum += fabsf(x[i]);
        float scale = n ? (float)(sum / n) : 1.0f; if (!(scale > 0)) scale = 1.0f;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] >= 0 ? scale : -scale;
        lathe_qparams q = { LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_BINARY, 1, -1, 0, 0, 1, &scale, 0, 0, 0 };
        return call->host->report_qparams(call, &q);
    }
    static int32_t init(const lathe_host *h, const lathe_registrar *r) {
        (void)h;
        static const lathe_method m = { LATHE_HEAD(lathe_method), "binary", "Binary", "mean|x| sign(x)", "Courbariaux 2015",
            LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, 0, 0, 0, 0, (lathe_function)binarize };
        return r->register_method(r, &m);
    }
    static const lathe_plugin p = { LATHE_HEAD(lathe_plugin), "third", "0.0.1", "third-party", init, 0 };
    LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &p; }
    """

    @Test(arguments: ["c", "rust"], ["quantizer", "criterion", "loss"])
    func scaffoldBuildsAndPassesCheck(lang: String, kind: String) throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let project = dir.appendingPathComponent("my-\(kind)")
        let new = try CLIRunner.run(["plugins", "new", "my-\(kind)", "--lang", lang, "--kind", kind, "-o", project.path])
        #expect(new.status == 0, "\(new.stderr)")
        let build = try CLIRunner.runTool(project.appendingPathComponent("build.sh").path, [])
        #expect(build.status == 0, "\(build.stderr)")
        let lib = build.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let check = try CLIRunner.run(["plugins", "check", lib])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("result: PASS"))
        #expect(!check.stdout.contains("FAIL"))
    }

    @Test func swiftScaffoldBuildsAndPassesCheck() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let project = dir.appendingPathComponent("swift-loss")
        let new = try CLIRunner.run(["plugins", "new", "swift-loss", "--lang", "swift", "--kind", "loss", "-o", project.path])
        #expect(new.status == 0, "\(new.stderr)")
        let build = try CLIRunner.runTool(project.appendingPathComponent("build.sh").path, [])
        #expect(build.status == 0, "\(build.stderr)")
        let lib = build.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let check = try CLIRunner.run(["plugins", "check", lib])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("pass  gradient vs finite differences"))
    }

    @Test func newExplainsTheNamePatternAndRefusesARegisteredName() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try CLIRunner.run(["plugins", "new", "My-Plugin", "-o", dir.appendingPathComponent("x").path])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("plugin name 'My-Plugin': expected a lowercase letter, then lowercase letters, digits, '_' or '-'"), "\(bad.stderr)")
        #expect(bad.stderr.contains("e.g. 'my-plugin'"))
        #expect(!(bad.stdout + bad.stderr).lowercased().contains("usage:"), "\(bad.stderr)")
        let registry = dir.appendingPathComponent("registry").path
        #expect(try CLIRunner.run(["plugins", "add", try Self.fixture("noop", in: dir), "--registry", registry]).status == 0)
        let taken = try CLIRunner.run(["plugins", "new", "noop", "--registry", registry, "-o", dir.appendingPathComponent("y").path])
        #expect(taken.status != 0)
        #expect(taken.stderr.contains("plugin name 'noop' is already registered by \(registry)/noop.toml: choose another name"), "\(taken.stderr)")
        for folder in ["x", "y"] { #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(folder).path)) }
    }

    @Test func newRefusesBadInputAndExistingFolders() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLIRunner.run(["plugins", "new", "Bad Name", "-o", dir.appendingPathComponent("x").path]).status != 0)
        #expect(try CLIRunner.run(["plugins", "new", "ok", "--lang", "cobol", "-o", dir.appendingPathComponent("y").path]).status != 0)
        let exists = try CLIRunner.run(["plugins", "new", "ok", "-o", dir.path])
        #expect(exists.status != 0)
        #expect(exists.stderr.contains("already exists"))
    }
}
