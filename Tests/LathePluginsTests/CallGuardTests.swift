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

    @Test func theStandardPolicyVerifiesTheFirstEightCallsThenOneIn64() {
        let verified = (0..<200).filter { InputVerification.standard.verifies(call: $0) }
        #expect(verified == Array(0..<8) + [71, 135, 199])
        #expect((0..<100).allSatisfy { InputVerification.everyCall.verifies(call: $0) })
    }

    /// A method instance (QAT, distillation) verifies a sample of calls: a method that writes its
    /// input fails on the first verified call, and on every sampled call after it; an unverified
    /// call passes the input in place (the trade documented in the header), never a copy.
    @Test func anInstanceCatchesAWrittenInputOnItsSampledCalls() throws {
        let m = try method("writes_input")
        let instance = MethodInstance(method: m, params: try m.bind(), verification: .sampled(first: 1, every: 3))
        let outcomes = try (0..<7).map { _ in
            let input = try Tensor.randn([4, 8])
            let before = try input.scalars(as: Float.self)
            let text = message { _ = try instance.quantize(input, context: CallContext()) }
            let unchanged = try input.scalars(as: Float.self) == before
            return (failed: text.contains("wrote into its read-only input 'input'"), unchanged: unchanged)
        }
        #expect(outcomes.map(\.failed) == [true, false, false, true, false, false, true])
        // Verified calls leave the caller's tensor as it was; the others pass it in place.
        #expect(outcomes.map(\.unchanged) == outcomes.map(\.failed))
        let strict = MethodInstance(method: m, params: try m.bind(), verification: .everyCall)
        for _ in 0..<3 {
            #expect(message { _ = try strict.quantize(try Tensor.randn([4, 8]), context: CallContext()) }.contains("wrote into its read-only input"))
        }
    }

    /// Outputs are canary-filled and verified on every call whatever the input policy.
    @Test func anInstanceChecksItsOutputsOnEveryCall() throws {
        let m = try method("half_written")
        let instance = MethodInstance(method: m, params: try m.bind(), verification: .sampled(first: 0, every: 1000))
        for _ in 0..<5 {
            #expect(message { _ = try instance.quantize(try Tensor.randn([4, 8]), context: CallContext()) }.contains("left 16 of 32 elements"))
        }
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

    /// The finite check of outputs, eight lanes at a time plus a tail: every position and every
    /// kind of non-finite value is found, and the largest finite values pass.
    @Test func theFiniteCheckFindsEveryNonFiniteValueAtEveryPosition() {
        for count in [0, 1, 7, 8, 9, 16, 21] {
            var values = [Float](repeating: 1, count: count)
            values.indices.forEach { values[$0] = $0.isMultiple(of: 2) ? .greatestFiniteMagnitude : -Float.leastNonzeroMagnitude }
            #expect(values.withUnsafeBufferPointer(CallGuard.allFinite), "\(count) finite values")
            for position in values.indices {
                for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: CallGuard.canary32)] {
                    var copy = values
                    copy[position] = bad
                    #expect(!copy.withUnsafeBufferPointer(CallGuard.allFinite), "\(bad) at \(position) of \(count)")
                }
            }
        }
    }
}
