import LatheModels
import LatheTrain

/// The stored size of a model whose weights may be quantized and sparse at once (a prune stage
/// followed by a quantize stage): each tensor of rank 2 or more in the smallest of the dense and
/// sparse formats (`SparseStorage`) at its value width, the ledger's weights at their quantized
/// width and every other tensor at 32 bits, plus each quantized layer's scales, zero points and
/// codebook.
///
/// With an empty ledger this is `ModelCost.of(model)`; with no zero in any weight it equals
/// `Quantization.sizeBytes` (every tensor dense).
public enum QuantizedStorage {
    /// `model`'s cost with `sizeBytes` counted as above; `quantized` is the ledger of the
    /// quantization stage that produced `model` (empty when its weights are not quantized).
    public static func cost(of model: Model, quantized: [LayerQuant]) throws -> ModelCost {
        var bits: [String: Int] = [:]
        var parameterBytes = 0
        for layer in quantized {
            bits[layer.layer + ".weight"] = layer.bits
            // The ledger's bytes are the dense payload plus the quantization parameters.
            parameterBytes += layer.bytes - (layer.elements * layer.bits + 7) / 8
        }
        var cost = try ModelCost.of(model, bits: bits)
        cost.sizeBytes += parameterBytes
        return cost
    }
}
