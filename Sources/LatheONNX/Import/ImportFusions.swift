import Foundation

extension ONNXImporter {
    /// Marks the patterns the converter turns into single program nodes:
    /// - MatMul(x, W) followed by an Add of a constant `[out]` (the only reader of the product):
    ///   one linear layer with that bias, as PyTorch exports `nn.Linear` on token tensors;
    /// - PyTorch's exact GELU before opset 20, Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5) (operands
    ///   in either order): one GELU node.
    static func findFusions(_ nodes: [Onnx_NodeProto], _ c: inout GraphConverter) {
        var readers: [String: [Int]] = [:]
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for input in n.input { readers[input, default: []].append(i) }
            for o in n.output { producer[o] = i }
        }
        func constantValue(_ name: String) -> ConstantTensor? {
            if case let .constant(t)? = c.values[name] { return t }
            // A Constant node (not yet converted).
            if let p = producer[name], nodes[p].opType == "Constant", let a = nodes[p].attribute.first {
                switch a.name {
                case "value": return try? ConstantTensor.decode(a.t, what: "constant")
                case "value_float": return .float([a.f], shape: [])
                default: return nil
                }
            }
            return nil
        }
        func scalar(_ name: String) -> Double? { constantValue(name)?.scalar }
        /// The only reader of `value`, if it is an `op` node.
        func soleReader(_ value: String, _ op: String) -> Int? {
            guard let r = readers[value], r.count == 1, nodes[r[0]].opType == op else { return nil }
            return r[0]
        }
        /// The operand of binary node `i` other than `value`.
        func other(_ i: Int, _ value: String) -> String? {
            let inputs = nodes[i].input
            guard inputs.count == 2 else { return nil }
            return inputs[0] == value ? inputs[1] : inputs[1] == value ? inputs[0] : nil
        }
        for (i, n) in nodes.enumerated() {
            if n.opType == "MatMul", n.input.count == 2, let w = constantValue(n.input[1]), w.shape.count == 2, let out = n.output.first,
               let add = soleReader(out, "Add"), let b = other(add, out), let bias = constantValue(b), bias.isFloat,
               bias.count == w.shape[1], bias.shape.filter({ $0 != 1 }).count <= 1 {
                c.fusedBias[i] = (nodes[add], bias)
                c.absorbed.insert(add)
            }
            guard n.opType == "Erf", let erfIn = n.input.first, let erfOut = n.output.first, let d = producer[erfIn] else { continue }
            let div = nodes[d]
            guard div.input.count == 2, let x = div.input.first, readers[erfIn]?.count == 1 else { continue }
            let isScale = div.opType == "Div" ? scalar(div.input[1]).map { abs($0 - 2.0.squareRoot()) < 1e-3 } ?? false
                : div.opType == "Mul" ? scalar(div.input[1]).map { abs($0 - 1 / 2.0.squareRoot()) < 1e-3 } ?? false : false
            guard isScale, let a = soleReader(erfOut, "Add"), let one = other(a, erfOut), scalar(one).map({ abs($0 - 1) < 1e-6 }) ?? false,
                  let addOut = nodes[a].output.first, let m = soleReader(addOut, "Mul"), other(m, addOut) == x,
                  let mulOut = nodes[m].output.first, let h = soleReader(mulOut, "Mul"), let half = other(h, mulOut),
                  scalar(half).map({ abs($0 - 0.5) < 1e-6 }) ?? false else { continue }
            c.absorbed.formUnion([d, i, a, m])
            c.gelu[h] = x
        }
    }
}
