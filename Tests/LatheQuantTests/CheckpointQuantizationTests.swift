import Foundation
import LatheModels
import LathePlugins
import LatheQuant
import LatheTensor
import Testing

/// The quantization record of a checkpoint (`lathe.qparams`): round trip, versions, and the
/// simulation context it rebuilds.
@Suite("Checkpoint quantization record")
struct CheckpointQuantizationTests {
    static let record = CheckpointQuantization(activations: "static", method: "uniform/symmetric", layers: [
        .init(name: "fc1", kind: "linear",
              weight: QuantParams(scheme: .symmetric, bits: 8, axis: 0, qmin: -127, qmax: 127, scales: [0.01, 0.02], zeroPoints: [0, 0]),
              input: QuantParams(scheme: .affine, bits: 8, axis: -1, qmin: 0, qmax: 255, scales: [0.1], zeroPoints: [10]),
              output: QuantParams(scheme: .affine, bits: 8, axis: -1, qmin: 0, qmax: 255, scales: [0.2], zeroPoints: [128])),
    ])

    @Test func theRecordRoundTripsThroughCheckpointMetadataAndUnknownVersionsAreRefused() throws {
        let text = try Self.record.encoded()
        let read = try CheckpointQuantization.read(metadata: [CheckpointQuantization.metadataKey: text], source: "m.safetensors")
        #expect(read == Self.record && read?.version == 1 && read?.hasStaticActivations == true)
        #expect(try CheckpointQuantization.read(metadata: [:], source: "m.safetensors") == nil)
        let future = text.replacingOccurrences(of: "\"version\":1", with: "\"version\":2")
        #expect(future != text)
        #expect { try CheckpointQuantization.read(metadata: [CheckpointQuantization.metadataKey: future], source: "m.safetensors") } throws: { error in
            let text = (error as? CheckpointQuantizationError)?.description ?? ""
            return text.contains("m.safetensors") && text.contains("lathe.qparams") && text.contains("version 2")
        }
        #expect { try CheckpointQuantization.read(metadata: [CheckpointQuantization.metadataKey: "not json"], source: "m.safetensors") } throws: { error in
            (error as? CheckpointQuantizationError)?.description.contains("not json") == true
        }
    }

    /// The context fake-quantizes inputs with the recorded parameters, spread over 7-bit codes
    /// when asked (the range [-1, 24.5] in steps of 0.2 instead of 0.1), and outputs as recorded.
    @Test func theSimulationContextQuantizesInputsAtTheAskedCodeWidthAndOutputsAsRecorded() throws {
        let x = try Tensor([Float](arrayLiteral: -2, 0.04, 0.26, 30), shape: [4])
        let full = try Self.record.simulationContext(inputQMax: 255)
        #expect(try full.input("fc1", x).scalars(as: Float.self).map { ($0 * 100).rounded() / 100 } == [-1, 0, 0.3, 24.5])
        let reduced = try Self.record.simulationContext(inputQMax: 127)
        // 7-bit: scale 25.5 / 127 ≈ 0.2008, zero point 5.
        let q = try reduced.input("fc1", x).scalars(as: Float.self)
        let step = Float(25.5 / 127)
        #expect(abs(q[0] + 5 * step) < 1e-5 && q[1] == 0 && abs(q[2] - step) < 1e-5 && abs(q[3] - 122 * step) < 1e-4, "\(q)")
        #expect(full.outputTransforms["fc1"] != nil && reduced.outputTransforms["fc1"] != nil)
        var dynamic = Self.record
        dynamic.activations = "dynamic"
        #expect(throws: CheckpointQuantizationError.self) { try dynamic.simulationContext() }
    }
}
