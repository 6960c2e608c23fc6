import Foundation
import LatheModels
import LatheTensor
import LatheTrain

/// Why a model could not be exported: names the layer and what ONNX export expected of it.
public struct ONNXExportError: Error, CustomStringConvertible, Sendable, Equatable {
    public var layer: String
    public var reason: String

    public init(layer: String, reason: String) {
        self.layer = layer
        self.reason = reason
    }

    public var description: String { "cannot export layer '\(layer)' to ONNX: \(reason)" }
}

/// Writes a Lathe model as an ONNX graph (opset 17, IR version 8: what ONNX Runtime and every
/// current converter read). The graph computes what `Model.predict` computes in evaluation mode:
/// input `input` `[N, C, H, W]` float (N symbolic), output `logits` `[N, classes]`.
///
/// Each layer becomes the ONNX operators PyTorch's exporter emits for it: Conv (groups, strides,
/// pads), Gemm for a linear layer on `[N, D]` and MatMul + Add on token tensors, BatchNormalization
/// (inference), LayerNormalization, Relu, Clip (ReLU6), the erf form of GELU (`Gelu` only exists
/// from opset 20), MaxPool, AveragePool, GlobalAveragePool, Flatten, Gather (class token), and
/// attention as Reshape/Transpose/MatMul/Softmax. A physically pruned model exports with its
/// smaller shapes; a factorized layer as its two layers; an explicit input scale (SmoothQuant,
/// AWQ) as a Mul before the layer. Tensor names are the layer-qualified parameter names.
public enum ONNXExporter {
    /// The operator set the exported graphs import.
    public static let opset: Int64 = 17
    /// The IR version written (ONNX 1.12's, the one opset 17 came with).
    public static let irVersion: Int64 = 8
    /// The operator set of a QDQ graph with int4 or grouped (blocked) weights: DequantizeLinear
    /// takes int4 and `block_size` from opset 21 (ONNX 1.16, IR version 10; ONNX Runtime 1.18 on).
    public static let lowBitOpset: Int64 = 21
    /// The IR version that came with opset 21 (int4 tensors).
    public static let lowBitIRVersion: Int64 = 10

    /// The ONNX model of `model`; `metadata` goes to the model's `metadata_props` (Lathe's
    /// provenance: method stack, plugin hashes), beside the architecture and options.
    /// `quantization` names the conv and linear layers to export in QDQ form (``QDQLayer``:
    /// int8 weights and QuantizeLinear/DequantizeLinear pairs, which opset 17 has; int4 or
    /// grouped weights make the graph opset 21); the others are exported in float.
    /// - Throws: ``ONNXExportError`` naming a layer the exporter has no mapping for, a layer of
    ///   `quantization` the model lacks, or a weight not on its recorded grid.
    public static func export(_ model: Model, metadata: [String: String] = [:], graphName: String? = nil,
                              quantization: [String: QDQLayer] = [:]) throws -> Onnx_ModelProto {
        var graph = GraphBuilder()
        graph.quantization = quantization
        let o = model.options
        let output = try graph.emit(model.root, input: Value(name: "input", rank: 4))
        if let missing = Set(quantization.keys).subtracting(graph.quantized).sorted().first {
            throw ONNXExportError(layer: missing, reason: "quantization parameters are given for it, but \(model.architecture) has no conv or linear layer of that name")
        }
        if !quantization.isEmpty { graph.poolBeforeDequantize() }
        var g = Onnx_GraphProto()
        g.name = graphName ?? model.architecture
        g.node = graph.nodes
        g.initializer = graph.initializers
        g.input = [valueInfo("input", dims: [.symbolic("N"), .fixed(o.inputChannels), .fixed(o.imageSize), .fixed(o.imageSize)])]
        g.output = [valueInfo(output.name, dims: [.symbolic("N"), .fixed(o.classCount)])]
        var m = Onnx_ModelProto()
        let lowBit = quantization.values.contains { $0.weight.needsOpset21 }
        m.irVersion = lowBit ? lowBitIRVersion : irVersion
        m.producerName = "lathe"
        m.producerVersion = "1"
        m.graph = g
        var opsetImport = Onnx_OperatorSetIdProto()
        opsetImport.domain = ""
        opsetImport.version = lowBit ? lowBitOpset : opset
        m.opsetImport = [opsetImport]
        var props = metadata
        props["lathe.architecture"] = model.architecture
        props["lathe.options"] = try Checkpoint.metadataJSON(o)
        m.metadataProps = props.sorted { $0.key < $1.key }.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return m
    }

    enum Dim {
        case fixed(Int)
        case symbolic(String)
    }

    static func valueInfo(_ name: String, dims: [Dim]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case let .fixed(n): dim.dimValue = Int64(n)
            case let .symbolic(s): dim.dimParam = s
            }
            return dim
        }
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}

/// A value of the graph being built: its name and rank (ranks decide Gemm vs MatMul).
struct Value {
    var name: String
    var rank: Int
}
