import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// Keep masks (1 = keep, 0 = pruned) over a model's prunable layers, and how they act on it.
///
/// What a mask zeroes, so that a masked model computes exactly what the physically pruned one does:
/// - element granularity: the masked entries of the layer's weight;
/// - output-channel granularity: the producer's weight rows and bias entries, and the same
///   channels of every coupled layer (batch-norm γ and β, depthwise filters and biases). Masked
///   channels then output exactly zero all the way to the consumers, whose inputs from them
///   contribute nothing.
///
/// During training the masks act twice: as weight transforms (`w · m`, so the gradients of
/// masked weights are zero) and after every optimizer step (the masked tensors are zeroed in
/// place again, which also undoes what weight decay or momentum moved, biases included).
/// Because the zeros live in the tensors themselves, the masks are final as soon as training
/// stops: a plain forward pass (no transforms), a checkpoint or physical removal need nothing else.
///
/// Threading: used from the training thread only.
public final class PruningMasks {
    /// What one mask covers.
    public let granularity: Granularity
    /// Keep masks by layer name: the weight's shape (element) or `[outChannels]` (channel).
    public private(set) var masks: [String: Tensor] = [:]
    /// Channel groups by producer name (channel granularity).
    let groups: [String: ChannelGroup]

    /// All-ones masks over `layers` of `model` (producers of `model.channelGroups` for channels).
    public init(model: Model, layers: [String], granularity: Granularity) throws {
        self.granularity = granularity
        groups = Dictionary(model.channelGroups.map { ($0.producer, $0) }, uniquingKeysWith: { a, _ in a })
        for name in layers {
            let weight = try Self.weight(of: model, name)
            guard granularity == .outputChannel else {
                masks[name] = try Tensor.ones(weight.shape)
                continue
            }
            let group = groups[name] ?? ChannelGroup(producer: name, coupled: [], consumers: [])
            guard let channels = group.channels(rows: weight.shape[0]) else {
                throw PruningError.unsupported("'\(name)' has \(weight.shape[0]) output rows, not a whole number of \(group.kind.rawValue)s of \(group.rowsPerUnit) rows")
            }
            masks[name] = try Tensor.ones([channels])
        }
    }

    /// `mask` (one entry per channel of `group`) over the producer's rows.
    static func rowMask(_ mask: Tensor, _ group: ChannelGroup?) throws -> Tensor {
        guard let group, group.rowsPerUnit > 1 else { return mask }
        return try mask.reshaped([1, mask.count, 1]).expanded([group.rowBlocks, mask.count, group.rowsPerChannel])
            .contiguous().reshaped([mask.count * group.rowsPerUnit])
    }

    /// The weight tensor of a conv or linear layer.
    static func weight(of model: Model, _ name: String) throws -> Tensor {
        switch model.layer(named: name) {
        case let conv as Conv2d: return conv.weight
        case let linear as Linear: return linear.weight
        default: throw PruningError.unsupported("layer '\(name)' of \(model.architecture) is not a conv or linear layer")
        }
    }

    /// Keep flags of `layer`'s units, row-major.
    public func keep(_ layer: String) throws -> [Bool] {
        guard let mask = masks[layer] else { return [] }
        return try mask.scalars(as: Float.self).map { $0 != 0 }
    }

    /// Replaces `layer`'s mask with `keep` (one flag per unit).
    public func setKeep(_ layer: String, _ keep: [Bool]) throws {
        guard let mask = masks[layer] else {
            throw PruningError.unsupported("no mask for layer '\(layer)'")
        }
        guard keep.count == mask.count else {
            throw PruningError.unsupported("\(layer): \(keep.count) keep flags for a mask of \(mask.count) units")
        }
        masks[layer] = try Tensor(keep.map { $0 ? Float(1) : 0 }, shape: mask.shape)
    }

    /// Fraction of pruned units in `layer`'s mask.
    public func sparsity(_ layer: String) throws -> Double {
        guard let mask = masks[layer], mask.count > 0 else { return 0 }
        return 1 - (try mask.sum().item()) / Double(mask.count)
    }

    /// `mask` shaped to broadcast over dimension 0 of a tensor of `rank`.
    private static func alongChannels(_ mask: Tensor, rank: Int) throws -> Tensor {
        try mask.reshaped([mask.count] + [Int](repeating: 1, count: Swift.max(0, rank - 1)))
    }

    /// A tensor a mask zeroes, with the mask shaped to broadcast over it.
    private struct MaskedTensor {
        var layer: String
        var short: String
        var tensor: Tensor
        var mask: Tensor
    }

    private static func layer(_ name: String, of model: Model) throws -> any Layer {
        guard let layer = model.layer(named: name) else {
            throw PruningError.unsupported("\(model.architecture) has no layer '\(name)' to mask")
        }
        return layer
    }

    /// Every tensor the masks zero in `model`.
    private func maskedTensors(_ model: Model) throws -> [MaskedTensor] {
        var out: [MaskedTensor] = []
        for (name, mask) in masks.sorted(by: { $0.key < $1.key }) {
            let layer = try Self.layer(name, of: model)
            switch granularity {
            case .outputChannel:
                let layers = try [layer] + (groups[name]?.coupled ?? []).map { try Self.layer($0, of: model) }
                let rows = try Self.rowMask(mask, groups[name])
                for l in layers {
                    for (short, tensor) in l.ownParameters {
                        guard tensor.rank >= 1, tensor.shape[0] == rows.count else {
                            throw PruningError.unsupported(
                                "\(l.name).\(short) has shape \(tensor.shape); channel group of '\(name)' expects \(rows.count) rows on dimension 0")
                        }
                        out.append(MaskedTensor(layer: l.name, short: short, tensor: tensor, mask: try Self.alongChannels(rows, rank: tensor.rank)))
                    }
                }
            default:
                for (short, tensor) in layer.ownParameters where short == "weight" {
                    out.append(MaskedTensor(layer: name, short: short, tensor: tensor, mask: mask))
                }
            }
        }
        return out
    }

    /// Zeroes the masked tensors of `model` in place.
    public func apply(to model: Model) throws {
        let targets = try maskedTensors(model)
        try withNoGrad {
            for t in targets { try t.tensor.mul_(t.mask) }
        }
    }

    /// Adds the weight transforms `w · m` to `context` (before any transform already there), so
    /// that the gradients of masked weights are zero.
    public func configure(_ context: ForwardContext, model: Model) throws {
        Self.addTransforms(try maskedTensors(model), to: context)
    }

    private static func addTransforms(_ targets: [MaskedTensor], to context: ForwardContext) {
        for t in targets where t.short == "weight" {
            let previous = context.weightTransforms[t.layer]
            let mask = t.mask
            context.weightTransforms[t.layer] = { w in
                let masked = try w * mask
                return try previous?(masked) ?? masked
            }
        }
    }

    /// Makes `trainer` keep the masks: weight transforms on every forward pass, masked tensors
    /// re-zeroed after every optimizer step. Existing hooks still run.
    public func install(into trainer: inout Trainer, model: Model) throws {
        let targets = try maskedTensors(model)
        let configureBefore = trainer.configureContext
        let afterBefore = trainer.afterStep
        trainer.configureContext = { context in
            try configureBefore?(context)
            Self.addTransforms(targets, to: context)
        }
        trainer.afterStep = {
            try afterBefore?()
            try withNoGrad {
                for t in targets { try t.tensor.mul_(t.mask) }
            }
        }
    }
}
