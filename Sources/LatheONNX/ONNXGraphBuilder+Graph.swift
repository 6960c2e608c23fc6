import Foundation
import LatheModels
import LatheTensor

extension GraphBuilder {
    /// Emits an imported model's program node by node: its layers as the zoo's are emitted,
    /// the other operations as the ONNX operators they came from. Shapes that hold the batch
    /// (`-1`) are built at run time from the input's shape.
    mutating func emitGraph(_ graph: GraphLayer, _ x: Value) throws -> Value {
        let program = graph.program
        var values: [String: Value] = [program.input: x]
        var batch: String?
        /// A 1-D int64 shape with the batch taken from the input at run time.
        func runtimeShape(_ shape: [Int], _ name: String) -> String {
            guard let p = shape.firstIndex(of: -1) else { return int64s("\(name).shape", shape.map(Int64.init), shape: [shape.count]) }
            if batch == nil {
                let whole = node("Shape", [x.name], name: "\(name).input_shape")
                batch = node("Slice", [whole, int64s("\(name).start", [0], shape: [1]), int64s("\(name).end", [1], shape: [1])], name: "\(name).batch")
            }
            var parts: [String] = []
            if p > 0 { parts.append(int64s("\(name).before", shape[..<p].map(Int64.init), shape: [p])) }
            parts.append(batch ?? "")
            if p + 1 < shape.count { parts.append(int64s("\(name).after", shape[(p + 1)...].map(Int64.init), shape: [shape.count - p - 1])) }
            return node("Concat", parts, name: "\(name).shape", attributes: [Self.int("axis", 0)])
        }
        for n in program.nodes {
            let inputs = try n.inputs.map { name -> Value in
                guard let v = values[name] else { throw ONNXExportError(layer: n.name, reason: "reads '\(name)' before it is computed") }
                return v
            }
            let rank = n.shape.count
            let a = inputs.first?.name ?? x.name
            let label = n.output
            func op(_ type: String, _ operands: [String], _ attributes: [Onnx_AttributeProto] = []) -> Value {
                Value(name: node(type, operands, name: label, attributes: attributes), rank: rank)
            }
            let out: Value
            switch n.op {
            case .conv, .linear, .batchNorm, .layerNorm:
                guard let name = n.op.layer, let layer = graph.layer(named: name) else {
                    throw ONNXExportError(layer: n.name, reason: "names a layer the model does not have")
                }
                out = try emit(layer, input: Value(name: a, rank: inputs.first?.rank ?? rank))
            case .parameter:
                guard let name = n.op.layer, let layer = graph.layer(named: name), let value = layer.ownParameters.first?.1 else {
                    throw ONNXExportError(layer: n.name, reason: "names a parameter the model does not have")
                }
                out = Value(name: try initializer("\(name).value", value), rank: rank)
            case .relu: out = op("Relu", [a])
            case .sigmoid: out = op("Sigmoid", [a])
            case .tanh: out = op("Tanh", [a])
            case .identity: out = op("Identity", [a])
            case .gelu: out = try emitStateless(Stateless(label, .gelu), inputs[0])
            case let .clip(low, high):
                out = op("Clip", [a, floats("\(label).min", [Float(low)], shape: []), floats("\(label).max", [Float(high)], shape: [])])
            case .add: out = op("Add", [a, inputs[1].name])
            case .sub: out = op("Sub", [a, inputs[1].name])
            case .mul: out = op("Mul", [a, inputs[1].name])
            case .div: out = op("Div", [a, inputs[1].name])
            case let .scalar(kind, c):
                let constant = floats("\(label).constant", [Float(c)], shape: [])
                switch kind {
                case .add: out = op("Add", [a, constant])
                case .sub: out = op("Sub", [a, constant])
                case .rsub: out = op("Sub", [constant, a])
                case .mul: out = op("Mul", [a, constant])
                case .div: out = op("Div", [a, constant])
                case .rdiv: out = op("Div", [constant, a])
                case .pow: out = op("Pow", [a, constant])
                }
            case .matmul: out = op("MatMul", [a, inputs[1].name])
            case let .maxPool(k, s, p), let .avgPool(k, s, p):
                let type = if case .maxPool = n.op { "MaxPool" } else { "AveragePool" }
                var attributes = [Self.ints("kernel_shape", [k, k]), Self.ints("strides", [s, s]), Self.ints("pads", [p, p, p, p])]
                if type == "AveragePool" { attributes.append(Self.int("count_include_pad", 1)) }
                out = op(type, [a], attributes)
            case .globalAvgPool: out = op("GlobalAveragePool", [a])
            case let .upsample(scale):
                // Integer-factor nearest: asymmetric coordinates with floor pick input pixel ⌊o / s⌋.
                out = op("Resize", [a, "", floats("\(label).scales", [1, 1, Float(scale), Float(scale)], shape: [4])],
                         [Self.string("mode", "nearest"), Self.string("coordinate_transformation_mode", "asymmetric"), Self.string("nearest_mode", "floor")])
            case let .flatten(axis): out = op("Flatten", [a], [Self.int("axis", axis)])
            case let .reshape(shape): out = op("Reshape", [a, runtimeShape(shape, label)])
            case let .expand(shape): out = op("Expand", [a, runtimeShape(shape, label)])
            case let .transpose(permutation): out = op("Transpose", [a], [Self.ints("perm", permutation)])
            case let .concat(axis): out = op("Concat", inputs.map(\.name), [Self.int("axis", axis)])
            case let .softmax(axis): out = op("Softmax", [a], [Self.int("axis", axis)])
            case let .select(axis, index): out = op("Gather", [a, int64s("\(label).index", [Int64(index)], shape: [])], [Self.int("axis", axis)])
            case let .slice(axis, start, length):
                out = op("Slice", [a, int64s("\(label).starts", [Int64(start)], shape: [1]), int64s("\(label).ends", [Int64(start + length)], shape: [1]),
                                   int64s("\(label).axes", [Int64(axis)], shape: [1])])
            case let .unsqueeze(axes): out = op("Unsqueeze", [a, int64s("\(label).axes", axes.map(Int64.init), shape: [axes.count])])
            case let .squeeze(axes): out = op("Squeeze", [a, int64s("\(label).axes", axes.map(Int64.init), shape: [axes.count])])
            }
            values[n.output] = out
        }
        guard let result = values[program.output] else { throw ONNXExportError(layer: graph.name, reason: "the program never computes its output") }
        return result
    }
}
