import CLathePlugin
import Foundation
import LatheTensor
import LatheTestSupport
import Testing
@testable import LathePlugins

/// Minor versions of the plugin ABI: structs grow by appending fields, so the host accepts any
/// declared size from the frozen 1.0 size up and never reads past what a plugin declared.
@Suite struct ABICompatibilityTests {
    /// The 1.0 sizes the host accepts are those of the header as released (kept frozen in
    /// Tests/Fixtures/abi), compiled by the system C compiler, not the current header's.
    @Test func frozenSizesAreTheReleasedHeaders() throws {
        let printed = try Self.compileAndRun("""
            #include <stdio.h>
            #include "lathe_plugin_1_0.h"
            int main(void) {
                printf("%zu %zu %zu %zu\\n", sizeof(lathe_plugin), sizeof(lathe_method), sizeof(lathe_param), sizeof(lathe_qparams));
                return 0;
            }
            """)
        #expect(printed == "\(ABIStruct.plugin1_0) \(ABIStruct.method1_0) \(ABIStruct.param1_0) \(ABIStruct.qparams1_0)\n")
    }

    /// The SDK's `LATHE_HAS_FIELD` tells a plugin which fields an older host's shorter struct
    /// holds: a host table cut after `log` has `log` but not `report_qparams`; a full one has both.
    @Test func hasFieldFollowsTheDeclaredSize() throws {
        let printed = try Self.compileAndRun("""
            #include <stdio.h>
            #include <lathe_plugin.h>
            int main(void) {
                lathe_host host = {0};
                host.head.size = (uint32_t)(offsetof(lathe_host, log) + sizeof(host.log));
                int cut_log = LATHE_HAS_FIELD(&host, lathe_host, log), cut_q = LATHE_HAS_FIELD(&host, lathe_host, report_qparams);
                host.head.size = (uint32_t)sizeof(lathe_host);
                int full_q = LATHE_HAS_FIELD(&host, lathe_host, report_qparams);
                const lathe_host *none = NULL;
                printf("%d %d %d %d\\n", cut_log, cut_q, full_q, LATHE_HAS_FIELD(none, lathe_host, log));
                return 0;
            }
            """)
        #expect(printed == "1 0 1 0\n")
    }

    /// Compiles `source` with the SDK and frozen headers on the include path (and `extraArguments`
    /// after it: more sources, include paths, libraries), runs it, returns stdout.
    static func compileAndRun(_ source: String, extraArguments: [String] = []) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-abi-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = dir.appendingPathComponent("program.c")
        try Data(source.utf8).write(to: program)
        let root = SourceTree.root
        let binary = dir.appendingPathComponent("program").path
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=c11", "-I", root.appendingPathComponent("Tests/Fixtures/abi").path,
                        "-I", root.appendingPathComponent("Sources/CLathePlugin/include").path, "-o", binary, program.path] + extraArguments
        try cc.run()
        cc.waitUntilExit()
        #expect(cc.terminationStatus == 0, "cc failed")
        return try output(of: binary)
    }

    /// Runs the program at `binary` and returns its standard output.
    static func output(of binary: String) throws -> String {
        let run = Process()
        run.executableURL = URL(fileURLWithPath: binary)
        let pipe = Pipe()
        run.standardOutput = pipe
        try run.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        run.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }

    /// A plugin whose every struct is a later minor version's (1.0 fields + appended ones, the
    /// larger size declared) loads, its parameter array is strided by the declared size, and it
    /// quantizes as declared.
    @Test func aPluginWithLargerStructsLoadsAndRuns() throws {
        let library = try PluginLibrary.load(path: try Fixtures.library("future_sizes"))
        #expect(library.descriptor.name == "future_sizes" && library.descriptor.abiMinor == 2)
        let method = try library.method("scale")
        #expect(method.descriptor.params.map(\.name) == ["levels", "limit"])
        #expect(method.descriptor.params.map(\.defaultValue) == [2, 4])
        let input = try Tensor([0.26, -0.74, 9.0, 1.1] as [Float], shape: [4])
        let (output, qparams) = try method.quantize(input, params: try method.bind(["levels": .double(4)]))
        #expect(try output.scalars(as: Float.self) == [0.25, -0.75, 4.0, 1.0])
        #expect(qparams.scales == [0.25] && qparams.qmax == 16 && qparams.bits == 16)
    }

    /// A struct read with a declared size below the host's: the bytes past the declared size are
    /// not read (they sit on a page the process may not touch) and the fields there read as zero.
    @Test func readsNoBytePastTheDeclaredSize() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let base = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            Issue.record("mmap failed")
            return
        }
        defer { munmap(base, 2 * page) }
        #expect(mprotect(base + page, page, PROT_NONE) == 0)
        let declared = 40  // below lathe_qparams' 64: its trailing fields lie on the guard page
        let start = base + page - declared
        start.initializeMemory(as: UInt8.self, repeating: 0xAB, count: declared)
        let q = ABIStruct.read(UnsafeRawPointer(start), as: lathe_qparams.self, declared: declared)
        #expect(q.codebook == nil && q.codebook_size == 0, "fields past the declared size are absent")
        #expect(q.scheme == Int32(bitPattern: 0xABAB_ABAB), "fields within it are read")
    }
}
