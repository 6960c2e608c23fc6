import LatheModels
import LatheTensor

/// Physical removal of pruned output channels: the model becomes a smaller dense model.
///
/// For each channel group whose producer has a channel mask, the kept channels (mask 1) stay:
/// - the producer keeps those channels' rows of its weight and bias (dimension 0; several rows
///   per channel for a group whose channels span several, e.g. attention heads);
/// - coupled layers (batch norm: γ, β, running statistics; depthwise conv: filters, bias) keep
///   the same rows on dimension 0 (a depthwise conv's group count follows);
/// - consumers keep the matching inputs: dimension 1 of a conv weight, or the
///   `inputsPerChannel` consecutive columns of each kept channel of a linear weight (a
///   flattened NCHW feature map is channel-major).
/// Removed channels are exactly the ones a masked model zeroes, so outputs agree.
public enum ChannelRemoval {
    /// One group's outcome.
    public struct Removed: Sendable, Codable, Equatable {
        /// Producer layer.
        public var producer: String
        /// Output channels before and after.
        public var channelsBefore: Int
        public var channelsAfter: Int
    }

    /// Shrinks `model` in place following `masks` (output-channel granularity).
    public static func apply(_ masks: PruningMasks, to model: Model) throws -> [Removed] {
        guard masks.granularity == .outputChannel else {
            throw PruningError.unsupported("physical removal needs output-channel masks; these are \(masks.granularity.rawValue) masks")
        }
        var removed: [Removed] = []
        for group in model.channelGroups {
            guard masks.masks[group.producer] != nil else { continue }
            let keepFlags = try masks.keep(group.producer)
            let keep = keepFlags.indices.filter { keepFlags[$0] }
            guard !keep.isEmpty else {
                throw PruningError.unsupported("'\(group.producer)' would lose every output channel")
            }
            removed.append(Removed(producer: group.producer, channelsBefore: keepFlags.count, channelsAfter: keep.count))
            if keep.count == keepFlags.count { continue }
            let index = try Tensor(group.rows(of: keep, channels: keepFlags.count).map(Int64.init))
            for name in [group.producer] + group.coupled {
                let layer = try layer(name, in: model)
                // An explicit input scale belongs to the layer's inputs, not to its output rows.
                for (short, tensor) in layer.ownParameters + layer.ownBuffers where short != "input_scale" {
                    try replace(layer, short, tensor, with: tensor.detached().indexSelect(0, index).contiguous())
                }
            }
            for consumer in group.consumers {
                let layer = try layer(consumer.layer, in: model)
                switch layer {
                case let conv as Conv2d:
                    guard conv.groups == 1 else {
                        throw PruningError.unsupported("consumer '\(conv.name)' is a grouped conv; list it as coupled, not as a consumer")
                    }
                    try replace(conv, "weight", conv.weight, with: conv.weight.detached().indexSelect(1, index).contiguous())
                    if let scale = conv.inputScale {
                        try replace(conv, "input_scale", scale, with: scale.detached().indexSelect(0, index).contiguous())
                    }
                case let linear as Linear:
                    let p = consumer.inputsPerChannel
                    guard p >= 1, linear.inFeatures == keepFlags.count * p else {
                        throw PruningError.unsupported(
                            "consumer '\(linear.name)' has \(linear.inFeatures) inputs; expected \(keepFlags.count) channels × \(p)")
                    }
                    let columns = try Tensor(keep.flatMap { c in (c * p)..<((c + 1) * p) }.map(Int64.init))
                    try replace(linear, "weight", linear.weight, with: linear.weight.detached().indexSelect(1, columns).contiguous())
                    if let scale = linear.inputScale {
                        try replace(linear, "input_scale", scale, with: scale.detached().indexSelect(0, columns).contiguous())
                    }
                default:
                    throw PruningError.unsupported("consumer '\(consumer.layer)' is neither a conv nor a linear layer")
                }
            }
        }
        return removed
    }

    private static func layer(_ name: String, in model: Model) throws -> any Layer {
        guard let layer = model.layer(named: name) else {
            throw PruningError.unsupported("channel group names '\(name)', which \(model.architecture) does not have")
        }
        return layer
    }

    /// Replaces a tensor, keeping it trainable when the old one was.
    private static func replace(_ layer: any Layer, _ short: String, _ old: Tensor, with new: Tensor) throws {
        try layer.replace(short, with: old.requiresGrad ? new.requiringGrad() : new)
    }
}
