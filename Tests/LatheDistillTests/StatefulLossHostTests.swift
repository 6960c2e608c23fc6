import Foundation
import LathePlugins
import LatheTensor
import Testing

/// distill/dkd and distill/crd through the 1.1 host: the call context (DKD's warm-up reads the
/// epoch), learnables owned by a MethodInstance and the state buffer (CRD's memory banks).
@Suite("stateful losses through the host")
struct StatefulLossHostTests {
    /// The warm-up weight min((epoch + 1) / warmup, 1) reaches the plugin through the context.
    @Test func dkdWarmupFollowsTheEpoch() throws {
        let method = try Support.method("distill/dkd")
        let params = try method.bind(["warmup": .int(20)])
        let s = try Support.randn([8, 10], seed: 31, scale: 3), t = try Support.randn([8, 10], seed: 32, scale: 4)
        let y = try Support.labels(8)
        let outside = try method.loss(student: s, teacher: t, labels: y, params: params).loss
        let epoch4 = try method.loss(student: s, teacher: t, labels: y, params: params,
                                     context: CallContext(role: .logits, step: 400, totalSteps: 10_000, epoch: 4, totalEpochs: 100)).loss
        let late = try method.loss(student: s, teacher: t, labels: y, params: params,
                                   context: CallContext(role: .logits, step: 4000, totalSteps: 10_000, epoch: 40, totalEpochs: 100)).loss
        #expect(Swift.abs(epoch4 - outside * 5 / 20) <= 1e-12 * outside)
        #expect(late == outside)
    }

    /// Training batches: the instance's state holds two banks of dataset_size x feat_dim floats
    /// after a 64-byte header; the loss and all four learnable gradients are finite, and the
    /// student gradient is nonzero. Without indices (evaluation) no state is requested.
    @Test func crdKeepsItsMemoryBanksInTheState() throws {
        let method = try Support.method("distill/crd")
        let params = try method.bind(["feat_dim": .int(16), "nce_k": .int(32)])
        let s = try Support.randn([6, 12], seed: 33), t = try Support.randn([6, 20], seed: 34)
        let y = try Support.labels(6)
        let evaluation = MethodInstance(method: method, params: params)
        _ = try evaluation.loss(student: s, teacher: t, labels: y, context: CallContext(role: .feature))
        #expect(evaluation.stateBytes == nil)
        let training = MethodInstance(method: method, params: params)
        let context = CallContext(role: .feature, step: 0, totalSteps: 10, epoch: 0, totalEpochs: 1,
                                  sampleIndices: [0, 5, 9, 17, 42, 99], datasetSize: 100)
        let (loss, grad, learnableGrads) = try training.loss(student: s, teacher: t, labels: y, context: context)
        #expect(loss.isFinite && loss > 0)
        let bankBytes: Int = 2 * 100 * 16 * 4  // two banks of dataset_size x feat_dim floats
        #expect(training.stateBytes?.count == 64 + bankBytes)
        #expect(learnableGrads.map(\.shape) == [[16, 12], [16], [16, 20], [16]])
        for g in learnableGrads { #expect(try g.scalars(as: Float.self).allSatisfy(\.isFinite)) }
        #expect(try grad.scalars(as: Float.self).contains { $0 != 0 })
    }
}
