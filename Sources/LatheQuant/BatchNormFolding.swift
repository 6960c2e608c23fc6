import LatheModels
import LatheTensor

/// Folds batch norm into the convolution before it (Jacob et al. 2018, §3.2), so that the
/// quantizer sees the weights inference will use.
///
/// With σ = √(var + ε): W' = W·γ/σ per output channel, and the shift moves into the batch
/// norm, which becomes a frozen per-channel bias: γ' = σ (so it no longer rescales), mean 0,
/// β' = β + (b − μ)·γ/σ (b the conv bias, 0 if none; the conv keeps no bias). The model keeps its
/// layer structure (checkpoints reload unchanged) and computes the same function in evaluation.
public enum BatchNormFolding {
    /// Folds every convolution immediately followed by a batch norm in the same sequence.
    /// Returns the folded `(conv, batchnorm)` layer names.
    @discardableResult
    public static func fold(_ model: Model) throws -> [(conv: String, batchNorm: String)] {
        var folded: [(String, String)] = []
        for case let sequence as Sequential in model.layers {
            for (a, b) in zip(sequence.layers, sequence.layers.dropFirst()) {
                guard let conv = a as? Conv2d, let bn = b as? BatchNorm2d, !bn.frozen else { continue }
                guard conv.outChannels == bn.channels else { continue }
                try withNoGrad {
                    let sigma = try (bn.runningVar + bn.eps).sqrt()
                    let factor = try bn.weight.detached() / sigma
                    let w = try conv.weight.detached() * factor.reshaped([conv.outChannels, 1, 1, 1])
                    let convBias = try conv.bias?.detached() ?? Tensor.zeros([conv.outChannels])
                    let shift = try bn.bias.detached() + (convBias - bn.runningMean) * factor
                    try conv.replace("weight", with: w.contiguous().requiringGrad())
                    if conv.bias != nil { try conv.replace("bias", with: Tensor.zeros([conv.outChannels]).requiringGrad()) }
                    try bn.replace("weight", with: sigma.contiguous())
                    try bn.replace("bias", with: shift.contiguous().requiringGrad())
                    try bn.replace("running_mean", with: Tensor.zeros([bn.channels]))
                }
                bn.frozen = true
                folded.append((conv.name, bn.name))
            }
        }
        return folded
    }
}
