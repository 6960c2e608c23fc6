import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// Calls a criterion plugin on each prunable layer with the inputs it declares.
struct Scoring {
    let method: PluginMethod
    let params: BoundParams
    /// The training batches used for gradients and input statistics (criteria declaring
    /// needs-gradient or needs-input-*).
    let calibration: CalibrationPlan

    /// Scores of every masked layer: the weight's shape (element) or `[out]` (channel).
    ///
    /// The weight passed is the masked weight. Gradients are the mean loss gradient over the
    /// calibration batches, taken in evaluation mode (batch norm uses its running statistics and
    /// is not updated) through the masks, so masked weights have zero gradient. Aux inputs are
    /// the γ of the batch norm coupled to the layer's output channels.
    func scores(model: Model, masks: PruningMasks, data: ImageDataset) throws -> [String: Tensor] {
        let layers = masks.masks.keys.sorted()
        let flags = method.descriptor.flags
        let gradients = flags.contains(.needsGradient) ? try calibrationGradients(model: model, masks: masks, data: data) : [:]
        let need = StatisticsNeed(flags)
        let statistics = need.isEmpty ? [:] : try InputStatisticsCollector.collect(
            model: model, layers: layers, need: need, data: data, plan: calibration) { try masks.configure($0, model: model) }
        var out: [String: Tensor] = [:]
        for name in layers {
            let group = masks.granularity == .outputChannel ? masks.groups[name] : nil
            let weight = try Self.byChannel(try PruningMasks.weight(of: model, name).detached(), group)
            let gradient = try gradients[name].map { try Self.byChannel($0, group) }
            let aux = flags.contains(.needsAux) ? try Self.batchNormScale(after: name, model: model, criterion: method.qualifiedID) : nil
            out[name] = try method.score(weight: weight, gradient: gradient, aux: aux, statistics: statistics[name], params: params,
                                         context: CallContext(layer: name, role: .weight, axis: 0))
        }
        return out
    }

    /// `tensor` (a producer's weight or its gradient) with one row per channel of `group`: a
    /// channel spanning several rows (an attention head's Q, K and V rows) becomes one row of
    /// all its weights, so that a criterion's per-output-channel score scores the whole unit.
    static func byChannel(_ tensor: Tensor, _ group: ChannelGroup?) throws -> Tensor {
        guard let group, group.rowsPerUnit > 1 else { return tensor }
        let shape = tensor.shape
        guard let rows = shape.first, let channels = group.channels(rows: rows) else {
            throw PruningError.unsupported("'\(group.producer)' has shape \(shape), not a whole number of \(group.kind.rawValue)s of \(group.rowsPerUnit) rows")
        }
        let rest = shape.dropFirst().reduce(1, *)
        return try tensor.reshaped([group.rowBlocks, channels, group.rowsPerChannel, rest]).permuted([1, 0, 2, 3])
            .contiguous().reshaped([channels, group.rowsPerUnit * rest])
    }

    /// The γ of the batch norm in `layer`'s channel group (the aux input of criteria that
    /// declare needs-aux, e.g. network slimming's prune/bn-scale).
    static func batchNormScale(after layer: String, model: Model, criterion: String) throws -> Tensor {
        let group = model.channelGroups.first { $0.producer == layer }
        for name in group?.coupled ?? [] {
            if let bn = model.layer(named: name) as? BatchNorm2d { return try bn.weight.detached() }
        }
        throw PruningError.unsupported(
            "\(criterion) scores a layer by the batch norm that follows it, but \(model.architecture)'s '\(layer)' has none; exclude it or use another criterion")
    }

    /// Mean loss gradient of each masked layer's weight over the calibration batches.
    private func calibrationGradients(model: Model, masks: PruningMasks, data: ImageDataset) throws -> [String: Tensor] {
        guard data.count > 0 else {
            throw PruningError.unsupported("\(method.qualifiedID) needs gradients, but the training set is empty")
        }
        let batches = calibration.batchIndices(count: data.count)
        let weights = try masks.masks.keys.sorted().map { ($0, try PruningMasks.weight(of: model, $0)) }
        for p in model.parameters { try p.zeroGrad() }
        try withGrad {
            for indices in batches {
                let (x, y) = try data.batch(indices)
                let context = ForwardContext(training: false)
                try masks.configure(context, model: model)
                let loss = try TaskLoss.loss(data.task, model.forward(x, context), y)
                try (loss / Double(batches.count)).backward()
            }
        }
        var out: [String: Tensor] = [:]
        for (name, weight) in weights {
            out[name] = try weight.grad?.detached().clone() ?? Tensor.zeros(weight.shape)
        }
        for p in model.parameters { try p.zeroGrad() }
        return out
    }
}
