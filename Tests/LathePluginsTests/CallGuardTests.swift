import Foundation
import LatheTensor
import Testing
@testable import LathePlugins

/// The host's guarantees on every call (`CallGuard`), whoever calls: sweeps and QAT go through
/// the same `PluginMethod` calls as these tests.
@Suite struct CallGuardTests {
    func method(_ fixture: String) throws -> PluginMethod {
        try #require(PluginLibrary.load(path: try Fixtures.library(fixture)).methods.first)
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return String(describing: error)
        }
    }

    @Test func halfWrittenOutputIsRefusedOnEveryCallNamingTheOutputAndTheCount() throws {
        let m = try method("half_written")
        let input = try Tensor.randn([4, 8])
        for _ in 0..<4 {
            let text = message { _ = try m.quantize(input, params: try m.bind()) }
            #expect(text.contains("half_written/sym8 left 16 of 32 elements of its output 'output' unwritten"), "\(text)")
        }
        // The preallocated-output path (QAT) too, also when the output held a valid result before.
        let output = try Tensor.zeros([4, 8])
        let text = message { _ = try m.quantize(input, into: output, params: try m.bind()) }
        #expect(text.contains("left 16 of 32 elements"), "\(text)")
    }

    @Test func writingIntoAConstInputFailsAndLeavesTheCallersTensorUnchanged() throws {
        let m = try method("writes_input")
        let input = try Tensor.randn([4, 8])
        let before = try input.scalars(as: Float.self)
        let text = message { _ = try m.quantize(input, params: try m.bind()) }
        #expect(text.contains("writes_input/sym8 wrote into its read-only input 'input' ("), "\(text)")
        #expect(text.contains("of 32 elements changed"), "\(text)")
        #expect(try input.scalars(as: Float.self) == before)
        // QAT's path: a detached view that shares the trained weight's storage.
        let weight = try Tensor.randn([4, 8]).requiringGrad(true)
        let master = try weight.scalars(as: Float.self)
        #expect(throws: PluginError.self) { _ = try m.quantize(try weight.detached(), params: try m.bind()) }
        #expect(try weight.scalars(as: Float.self) == master)
    }

    @Test func aLossThatNeverWritesItsGradientFails() throws {
        let m = try method("no_gradient")
        let student = try Tensor.randn([6, 10]), teacher = try Tensor.randn([6, 10])
        let labels = try Tensor([Int64](repeating: 0, count: 6), shape: [6])
        let text = message { _ = try m.loss(student: student, teacher: teacher, labels: labels, params: try m.bind()) }
        #expect(text.contains("no_gradient/mse left 60 of 60 elements of its output 'student gradient' unwritten"), "\(text)")
    }

    @Test func refusedQuantizationParametersGiveTheHostsReason() throws {
        let m = try method("refused_qparams")
        let text = message { _ = try m.quantize(try Tensor.randn([4, 8]), params: try m.bind()) }
        #expect(text.contains("the host refused the quantization parameters it reported: qparams: 1 scales for axis 0; expected 4"), "\(text)")
        #expect(!text.contains("no message reported"))
    }

    @Test func aPluginsOwnRefusalIsMarkedDeclined() throws {
        let m = try method("fails")
        #expect {
            _ = try m.quantize(try Tensor.randn([3]), params: try m.bind())
        } throws: { error in
            (error as? PluginError)?.declinedStatus != nil
        }
        let nan = try method("nan")
        #expect {
            _ = try nan.quantize(try Tensor.randn([3]), params: try nan.bind())
        } throws: { error in
            (error as? PluginError).map { $0.declinedStatus == nil && $0.message.contains("non-finite output") } ?? false
        }
    }
}
