import Foundation
import LatheTensor
import Testing
@testable import LathePlugins

/// Loading real shared libraries built from Tests/Fixtures/plugins, good and deliberately bad.
@Suite struct LoaderTests {
    func loadError(_ fixture: String) throws -> String {
        let path = try Fixtures.library(fixture)
        do {
            _ = try PluginLibrary.load(path: path)
            return "loaded"
        } catch let error as PluginError {
            return error.message
        }
    }

    @Test func noopDeclaresEveryParameterType() throws {
        let library = try PluginLibrary.load(path: try Fixtures.library("noop"))
        #expect(library.descriptor.name == "noop")
        #expect(library.descriptor.abiMajor == 1)
        let method = try library.method("identity")
        #expect(method.qualifiedID == "noop/identity")
        #expect(method.descriptor.params.map(\.type) == [.i32, .f32, .bool, .enum, .i64, .f64])
    }

    @Test func libffiPassesEachTypeAsDeclared() throws {
        let path = try Fixtures.library("noop")
        let method = try PluginLibrary.load(path: path).method("identity")
        let params = try method.bind(["bits": .int(13), "scale": .double(2.5), "round": .bool(false),
                                      "mode": .choice("b"), "big": .int(987_654_321_012), "eps": .double(0.125)])
        let input = try Tensor([Float(1), -2, 3.5], shape: [3])
        let (output, q) = try method.quantize(input, params: params)
        #expect(try output.scalars(as: Float.self) == [1, -2, 3.5])
        #expect(q.bits == 16 && q.scales == [1] && q.axis == -1)
        // The fixture records what it received; read it back through its own C symbol.
        let handle = try #require(dlopen(path, RTLD_NOW | RTLD_LOCAL))
        let symbol = try #require(dlsym(handle, "noop_last_args"))
        typealias LastArgs = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Bool>?,
                                             UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int64>?, UnsafeMutablePointer<Double>?) -> Void
        var bits: Int32 = 0, scale: Float = 0, round = true, mode: Int32 = 0, big: Int64 = 0, eps = 0.0
        unsafeBitCast(symbol, to: LastArgs.self)(&bits, &scale, &round, &mode, &big, &eps)
        #expect(bits == 13 && scale == 2.5 && round == false && mode == 1 && big == 987_654_321_012 && eps == 0.125)
    }

    @Test func wrongABIMajorIsRefusedNamingBothVersions() throws {
        let message = try loadError("abi_major")
        #expect(message.contains("built for plugin ABI 2.0"))
        #expect(message.contains("this host speaks ABI \(ABI.version)"))
    }

    @Test func missingEntrySymbol() throws {
        #expect(try loadError("no_entry").contains("no entry symbol 'lathe_plugin_entry'"))
    }

    @Test func duplicateMethodIDs() throws {
        #expect(try loadError("duplicate_ids").contains("registers method id 'same' twice"))
    }

    @Test func malformedParameterDeclarations() throws {
        #expect(try loadError("bad_param").contains("has unknown type 9"))
        #expect(try loadError("default_out_of_range").contains("is outside its range"))
    }

    @Test func outOfRangeAndMistypedValuesNeverReachThePlugin() throws {
        let method = try PluginLibrary.load(path: try Fixtures.library("noop")).method("identity")
        #expect(throws: PluginError("noop/identity: parameter 'bits' must be in [2, 16]; got 17")) { try method.bind(["bits": .int(17)]) }
        #expect(throws: PluginError.self) { try method.bind(["round": .double(1)]) }
        #expect(throws: PluginError.self) { try method.bind(["mode": .choice("z")]) }
        #expect(throws: PluginError.self) { try method.bind(["nope": .int(1)]) }
    }

    @Test func pluginErrorsAndNaNsBecomeSwiftErrors() throws {
        let input = try Tensor([Float(1), 2, 3], shape: [3])
        let fails = try PluginLibrary.load(path: try Fixtures.library("fails")).methods[0]
        #expect {
            _ = try fails.quantize(input, params: try fails.bind())
        } throws: { error in
            String(describing: error).contains("deliberate failure")
        }
        let nan = try PluginLibrary.load(path: try Fixtures.library("nan")).methods[0]
        #expect {
            _ = try nan.quantize(input, params: try nan.bind())
        } throws: { error in
            String(describing: error).contains("non-finite output")
        }
    }
}
