import Testing
@testable import LathePlugins

@Suite struct HyperValueTests {
    let method = MethodDescriptor(
        id: "m", title: "M", kind: .quantizer, flags: [.deterministic],
        params: [
            ParamSpec(name: "bits", type: .i32, defaultValue: 8, minValue: 2, maxValue: 16),
            ParamSpec(name: "alpha", type: .f32, defaultValue: 0.5, minValue: 0, maxValue: 1),
            ParamSpec(name: "on", type: .bool, defaultValue: 1),
            ParamSpec(name: "mode", type: .enum, defaultValue: 1, choices: ["a", "b"]),
        ])

    @Test func defaultsFillInInDeclarationOrder() throws {
        let bound = try method.bind([:], plugin: "p")
        #expect(bound.arguments == [.i32(8), .f32(0.5), .bool(true), .i32(1)])
    }

    @Test func valuesAreConvertedToTheirCTypes() throws {
        let bound = try method.bind(["bits": .int(4), "alpha": .double(0.25), "on": .bool(false), "mode": .choice("a")], plugin: "p")
        #expect(bound.arguments == [.i32(4), .f32(0.25), .bool(false), .i32(0)])
    }

    @Test func outOfRangeNamesParameterRangeAndValue() {
        #expect(throws: PluginError("p/m: parameter 'bits' must be in [2, 16]; got 17")) {
            try method.bind(["bits": .int(17)], plugin: "p")
        }
    }

    @Test func wrongTypesAndUnknownNamesAreRefused() {
        #expect(throws: PluginError.self) { try method.bind(["bits": .double(3.5)], plugin: "p") }
        #expect(throws: PluginError.self) { try method.bind(["on": .int(1)], plugin: "p") }
        #expect(throws: PluginError.self) { try method.bind(["mode": .choice("c")], plugin: "p") }
        #expect(throws: PluginError("p/m: unknown parameter 'beta'; expected one of: bits, alpha, on, mode")) {
            try method.bind(["beta": .double(1)], plugin: "p")
        }
    }

    @Test func malformedDeclarationsAreRefused() {
        var bad = method
        bad.params[0].defaultValue = 40
        #expect(throws: PluginError.self) { try bad.validate(plugin: "p") }
        bad = method
        bad.params[3].choices = []
        #expect(throws: PluginError.self) { try bad.validate(plugin: "p") }
        bad = method
        bad.granularity = .element
        #expect(throws: PluginError.self) { try bad.validate(plugin: "p") }
        #expect(throws: Never.self) { try method.validate(plugin: "p") }
    }
}
