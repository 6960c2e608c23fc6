import Foundation
import Testing

/// `lathe plugins new --learnable`: a C quantizer with a learnable step, an initialiser and a
/// backward (ABI 1.1), generated so that it builds as is.
@Suite struct LearnableScaffoldTests {
    /// Generates the learnable C quantizer and builds it; returns the project and the library path.
    static func scaffold(in dir: URL) throws -> (project: URL, library: String) {
        let project = dir.appendingPathComponent("my-lsq")
        let new = try CLIRunner.run(["plugins", "new", "my-lsq", "--lang", "c", "--kind", "quantizer", "--learnable", "-o", project.path])
        #expect(new.status == 0, "\(new.stderr)")
        let build = try CLIRunner.runTool(project.appendingPathComponent("build.sh").path, [])
        #expect(build.status == 0, "\(build.stderr)")
        let library = build.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        return (project, library)
    }

    @Test func learnableQuantizerScaffoldBuildsWithItsEntries() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (project, library) = try Self.scaffold(in: dir)
        let source = try String(contentsOf: project.appendingPathComponent("plugin.c"), encoding: .utf8)
        #expect(source.contains("LATHE_SHAPE_SCALAR") && source.contains("(lathe_function)init_step") && source.contains("(lathe_function)backward"))
        #expect(source.contains("LATHE_HAS_FIELD(call, lathe_call, learnable_outputs)"), "reads the 1.1 fields only when the host has them")
        #expect(FileManager.default.fileExists(atPath: library), "build.sh printed \(library)")
    }

    @Test func learnableIsRefusedWhereNoScaffoldExists() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (lang, kind) in [("rust", "quantizer"), ("c", "loss"), ("swift", "quantizer")] {
            let target = dir.appendingPathComponent("\(lang)-\(kind)")
            let result = try CLIRunner.run(["plugins", "new", "x", "--lang", lang, "--kind", kind, "--learnable", "-o", target.path])
            #expect(result.status != 0)
            #expect(result.stderr.contains("--learnable: only a C quantizer has a learnable scaffold (--lang c --kind quantizer), not --lang \(lang) --kind \(kind)"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    /// The generated learnable quantizer passes `lathe plugins check`, its learnable checks included.
    @Test func learnableQuantizerScaffoldPassesCheck() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, library) = try Self.scaffold(in: dir)
        let check = try CLIRunner.run(["plugins", "check", library])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("result: PASS"))
        #expect(check.stdout.contains("pass  learnable gradients"), "\(check.stdout)")
        #expect(!check.stdout.contains("FAIL"))
    }
}
