import LatheModels
import LatheTensor

/// The latency of one layer of a compressed model against the same-named layer of its
/// reference, each run alone on an input of that layer's shape: what a method that replaces or
/// shrinks a layer (factorization, physical pruning) buys on that layer, without the rest of
/// the network diluting it.
public struct LayerLatency: Codable, Sendable, Equatable {
    /// The layer's name (a composite for a factorized pair).
    public var layer: String
    /// One sample's input shape (the reference layer's).
    public var input: [Int]
    /// The reference layer, with its control speedup (against itself).
    public var reference: [Latency]
    /// The compressed layer, with its speedup over the reference.
    public var compressed: [Latency]

    /// "conv2 [32, 14, 14]: b256 1.234 ms → 0.876 ms, 1.41× [1.38, 1.44]", one line per batch size.
    public var summary: String {
        zip(reference, compressed).map { r, c in
            var s = String(format: "%@ %@: b%d %.3f ms → %.3f ms", layer, "\(input)", r.batchSize, r.medianMilliseconds, c.medianMilliseconds)
            if let v = c.speedup, let l = c.speedupLower, let u = c.speedupUpper {
                s += String(format: ", %.2f× [%.2f, %.2f]", v, l, u)
            }
            return s
        }.joined(separator: "\n")
    }

    /// Times `layers` of `compressed` against the same-named layers of `reference`, all in one
    /// interleaved latency phase (`LatencyPhase.run`), each layer on a zero input of its shape
    /// in `reference` (found by a profiled forward pass). A name that either model lacks, or
    /// that the reference's forward pass never reaches, is an error naming it.
    public static func measure(reference: Model, compressed: Model, layers: [String], plan: LatencyPlan) throws -> [LayerLatency] {
        let o = reference.options
        let context = ForwardContext(training: false, profile: true)
        _ = try withNoGrad { try reference.forward(try Tensor.zeros([1, o.inputChannels, o.imageSize, o.imageSize]), context) }
        var shapes: [String: [Int]] = [:]
        for profile in context.profiles ?? [] where shapes[profile.name] == nil { shapes[profile.name] = Array(profile.inputShape.dropFirst()) }
        var subjects: [LatencySubject] = []
        for name in layers {
            guard let r = reference.layer(named: name), let c = compressed.layer(named: name) else {
                throw TrainingError.invalidLatencyPlan("layer '\(name)' is not in both the reference and the compressed model")
            }
            guard let input = shapes[name] else {
                throw TrainingError.invalidLatencyPlan("layer '\(name)' has no profiled input in the reference's forward pass")
            }
            let eval = ForwardContext(training: false)
            subjects.append(LatencySubject(id: "reference:\(name)", input: input) { try r.forward($0, eval) })
            subjects.append(LatencySubject(id: "compressed:\(name)", input: input) { try c.forward($0, eval) })
        }
        let series = try LatencyPhase.run(subjects, plan: plan)
        func find(_ id: String) -> [LatencySeries] { series.filter { $0.id == id } }
        return layers.map { name in
            let r = find("reference:\(name)"), c = find("compressed:\(name)")
            return LayerLatency(layer: name, input: subjects.first { $0.id == "reference:\(name)" }?.input ?? [],
                                reference: r.map { Latency($0, over: $0) },
                                compressed: zip(c, r).map { Latency($0, over: $1) })
        }
    }
}
