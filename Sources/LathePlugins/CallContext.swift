import CLathePlugin

/// [1.1] What the tensor a call is about is (`lathe_role`).
public enum TensorRole: Int32, Sendable, Equatable, CaseIterable {
    case none = 0, weight, activation, feature, logits
}

/// [1.1] The call context every plugin call carries (the `lathe_call` fields after
/// `host_private`): where the call comes from and the training position, so that schedules
/// (warm-up, annealing) live in the plugin. The defaults are those of a call outside training
/// and outside any layer (a check, PTQ): no layer, no role, per tensor, step and epoch -1.
public struct CallContext: Sendable, Equatable {
    /// The layer's name (e.g. "conv2"); "" when the call is not about one layer.
    public var layer: String = ""
    /// What the (first) input is.
    public var role: TensorRole = .none
    /// The channel axis the host wants per-channel parameters on: 0 for weights, 1 for NC..
    /// activations, -1 per tensor. Also the axis of a per-channel learnable's shape rule.
    public var axis: Int = -1
    /// Optimizer step of this call, 0-based within the run; -1 outside training.
    public var step: Int = -1
    /// Optimizer steps the run will take; 0 outside training.
    public var totalSteps: Int = 0
    /// 0-based epoch; -1 outside training.
    public var epoch: Int = -1
    /// Epochs of the run; 0 outside training.
    public var totalEpochs: Int = 0
    /// Losses: the training-set index of each sample of the batch, or nil when the batch is not
    /// from the training set (checks, evaluation).
    public var sampleIndices: [Int64]? = nil
    /// Samples in the training set; 0 when `sampleIndices` is nil.
    public var datasetSize: Int = 0

    public init(layer: String = "", role: TensorRole = .none, axis: Int = -1, step: Int = -1, totalSteps: Int = 0,
                epoch: Int = -1, totalEpochs: Int = 0, sampleIndices: [Int64]? = nil, datasetSize: Int = 0) {
        self.layer = layer
        self.role = role
        self.axis = axis
        self.step = step
        self.totalSteps = totalSteps
        self.epoch = epoch
        self.totalEpochs = totalEpochs
        self.sampleIndices = sampleIndices
        self.datasetSize = datasetSize
    }

    /// Checks the values against what the header promises plugins; `owner` names the method.
    /// `batch` is the batch size of a loss call (nil for other calls).
    func validate(owner: String, batch: Int?) throws {
        guard axis >= -1, let _ = Int32(exactly: axis) else {
            throw PluginError("\(owner): call context axis \(axis); expected -1 or a dimension")
        }
        guard step >= -1, totalSteps >= 0, epoch >= -1, let _ = Int32(exactly: epoch), totalEpochs >= 0,
              let _ = Int32(exactly: totalEpochs) else {
            throw PluginError("\(owner): call context training position step \(step)/\(totalSteps), epoch \(epoch)/\(totalEpochs) is out of range (step and epoch >= -1, totals >= 0, epochs within 32 bits)")
        }
        guard !layer.utf8.contains(0) else {
            throw PluginError("\(owner): call context layer name contains a NUL byte")
        }
        guard let indices = sampleIndices else {
            guard datasetSize == 0 else {
                throw PluginError("\(owner): call context dataset size \(datasetSize) without sample indices (it is 0 when there are none)")
            }
            return
        }
        guard let batch else {
            throw PluginError("\(owner): sample indices are for loss calls only")
        }
        guard indices.count == batch else {
            throw PluginError("\(owner): \(indices.count) sample indices for a batch of \(batch)")
        }
        guard datasetSize > 0, indices.allSatisfy({ $0 >= 0 && $0 < Int64(datasetSize) }) else {
            throw PluginError("\(owner): sample indices must lie in [0, dataset size \(datasetSize))")
        }
    }

    /// Fills the [1.1] context fields of `call` and runs `body` while the layer's C string and the
    /// sample indices it points at are alive (they are valid for the call only).
    func withFields<R>(of call: inout lathe_call, _ body: (inout lathe_call) throws -> R) rethrows -> R {
        call.role = role.rawValue
        call.axis = Int32(truncatingIfNeeded: axis)
        call.step = Int64(step)
        call.total_steps = Int64(totalSteps)
        call.epoch = Int32(truncatingIfNeeded: epoch)
        call.total_epochs = Int32(truncatingIfNeeded: totalEpochs)
        return try layer.withCString { name in
            call.layer = name
            guard let indices = sampleIndices else {
                call.sample_indices = nil
                call.dataset_size = 0
                return try body(&call)
            }
            return try indices.withUnsafeBufferPointer { buffer in
                call.sample_indices = buffer.baseAddress
                call.dataset_size = Int64(datasetSize)
                return try body(&call)
            }
        }
    }
}
