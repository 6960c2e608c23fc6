import Foundation
import LatheModels

/// Converts ONNX nodes, in topological order, into `GraphProgram` nodes: constants are folded,
/// shape computations are evaluated with the batch size kept symbolic, weights become layers.
struct GraphConverter {
    let opset: Int
    var values: [String: ImportValue] = [:]
    var program: [GraphNode] = []
    /// Layer tensors by checkpoint name (`layer.weight`).
    var tensors: [String: ConstantTensor] = [:]
    var layerNames: Set<String> = []
    /// Initializers turned into free parameters: initializer name → the value of its node.
    var parameters: [String: String] = [:]
    /// Weight initializers already owned by a layer (shared weights are refused).
    var weightOwners: [String: String] = [:]
    /// MatMul nodes (by index) whose following Add adds a constant bias: that Add and the bias.
    var fusedBias: [Int: (add: Onnx_NodeProto, bias: ConstantTensor)] = [:]
    /// Nodes absorbed by a fusion (the Add of a MatMul's bias, the GELU pattern's inner nodes).
    var absorbed: Set<Int> = []
    /// The final Mul of a GELU pattern → the pattern's input.
    var gelu: [Int: String] = [:]
    /// The batch size the input declares when it is fixed (reshape targets then hold it).
    var fixedBatch: Int?
    /// Every operator type converted, with its count.
    var opCounts: [String: Int] = [:]

    // MARK: values

    func activation(_ name: String, _ node: Onnx_NodeProto) throws -> [Int] {
        guard let value = values[name] else { throw ImportProblem("node '\(node.label)' reads '\(name)', which nothing defines") }
        guard case let .activation(shape) = value else {
            throw ImportProblem("node '\(node.label)' (\(node.opType)): input '\(name)' is a constant; Lathe expects a computed tensor there")
        }
        return shape
    }

    func constant(_ name: String, _ node: Onnx_NodeProto, _ role: String) throws -> ConstantTensor {
        guard let value = values[name] else { throw ImportProblem("node '\(node.label)' reads '\(name)', which nothing defines") }
        guard case let .constant(c) = value else {
            throw ImportProblem("node '\(node.label)' (\(node.opType)): its \(role) '\(name)' must be an initializer or constant (Lathe imports static weights)")
        }
        return c
    }

    /// Input `i` of `node`, or nil when absent or empty (optional ONNX inputs).
    func optionalInput(_ node: Onnx_NodeProto, _ i: Int) -> String? {
        i < node.input.count && !node.input[i].isEmpty ? node.input[i] : nil
    }

    /// The value name a program node can read for `name`: an activation as is; a float
    /// constant as a free trainable parameter (made once per initializer).
    mutating func operand(_ name: String, _ node: Onnx_NodeProto) throws -> (value: String, shape: [Int]) {
        guard let value = values[name] else { throw ImportProblem("node '\(node.label)' reads '\(name)', which nothing defines") }
        switch value {
        case let .activation(shape): return (name, shape)
        case let .constant(c):
            if let made = parameters[name] { return (made, c.shape) }
            guard c.isFloat, !c.shape.isEmpty else {
                throw ImportProblem("node '\(node.label)' (\(node.opType)) reads integer or scalar constant '\(name)' as a tensor; Lathe expects float tensors")
            }
            let layer = try uniqueLayerName(sanitize(c.source ?? name))
            let out = "\(name)#parameter"
            program.append(GraphNode(name: "\(node.label) (\(name))", op: .parameter(layer: layer, shape: c.shape), inputs: [], output: out, shape: c.shape))
            tensors["\(layer).value"] = c
            parameters[name] = out
            values[out] = .activation(c.shape)
            return (out, c.shape)
        case .shape:
            throw ImportProblem("node '\(node.label)' (\(node.opType)) reads the shape value '\(name)' as a tensor; Lathe supports shape values only as Reshape/Expand targets")
        }
    }

    mutating func emit(_ node: Onnx_NodeProto, _ op: GraphOp, inputs: [String], shape: [Int], output: String? = nil) {
        let out = output ?? node.output.first ?? "\(node.label)#out"
        program.append(GraphNode(name: node.label, op: op, inputs: inputs, output: out, shape: shape))
        values[out] = .activation(shape)
    }

    // MARK: layer names

    /// A layer name from a weight initializer named like a PyTorch parameter (`layer1.0.conv1.weight`),
    /// else from the node's scope path (`/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1`), else op + index.
    mutating func layerName(_ node: Onnx_NodeProto, weight: String) throws -> String {
        if weight.hasSuffix(".weight"), !weight.hasPrefix("onnx::") {
            return try uniqueLayerName(String(weight.dropLast(".weight".count)))
        }
        // PyTorch scopes: `/layer1/layer1.1/shortcut/shortcut.0/Conv`, each segment either
        // qualified by the one before (`layer1.1` after `layer1`) or relative to it (`shortcut`).
        let scope = node.name.split(separator: "/").map(String.init).dropLast()
        if !scope.isEmpty {
            var path = "", previous = ""
            for segment in scope {
                if !previous.isEmpty, segment.hasPrefix(previous + ".") {
                    path += segment.dropFirst(previous.count)
                } else {
                    path += path.isEmpty ? segment : ".\(segment)"
                }
                previous = segment
            }
            return try uniqueLayerName(sanitize(path))
        }
        return try uniqueLayerName(sanitize(node.name.isEmpty ? "\(node.opType.lowercased())\(program.count)" : node.name))
    }

    func sanitize(_ name: String) -> String {
        let cleaned = String(name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" })
            .trimmingCharacters(in: CharacterSet(charactersIn: "._"))
        return cleaned.isEmpty ? "layer" : cleaned
    }

    mutating func uniqueLayerName(_ base: String) throws -> String {
        var name = base, k = 2
        while layerNames.contains(name) {
            name = "\(base)_\(k)"
            k += 1
        }
        layerNames.insert(name)
        return name
    }

    /// Records that `layer` owns weight initializer `name` (shared weights are refused).
    mutating func own(_ name: String, layer: String, _ node: Onnx_NodeProto) throws {
        if let owner = weightOwners[name] {
            throw ImportProblem("node '\(node.label)': initializer '\(name)' is already the weight of layer '\(owner)'; Lathe does not import shared weights")
        }
        weightOwners[name] = layer
    }

    // MARK: shapes

    /// Numpy broadcasting with `-1` (the batch) broadcasting only against 1 and itself.
    static func broadcast(_ a: [Int], _ b: [Int], _ node: Onnx_NodeProto) throws -> [Int] {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a, pb = Array(repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).map { x, y in
            if x == y || y == 1 { return x }
            if x == 1 { return y }
            throw ImportProblem("node '\(node.label)' (\(node.opType)): shapes \(a) and \(b) do not broadcast (-1: batch)")
        }
    }

    /// `axis` made non-negative for `rank`, or a problem naming the node.
    static func axis(_ axis: Int, rank: Int, _ node: Onnx_NodeProto) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard (0..<max(rank, 1)).contains(a) else {
            throw ImportProblem("node '\(node.label)' (\(node.opType)): axis \(axis) is out of range for rank \(rank)")
        }
        return a
    }

    /// A runtime shape from computed entries (the batch → -1); `ShapeEntry.size(-1)` and 0 are
    /// resolved as ONNX Reshape does against `input`.
    func resolve(_ target: [ShapeEntry], input: [Int], _ node: Onnx_NodeProto, allowZero: Bool = false) throws -> [Int] {
        var out: [Int] = []
        var infer: Int?
        for (i, entry) in target.enumerated() {
            switch entry {
            case .batch: out.append(-1)
            case let .size(n) where n == 0 && !allowZero:
                guard i < input.count else { throw ImportProblem("node '\(node.label)' (Reshape): entry \(i) is 0 (copy) but the input has rank \(input.count)") }
                out.append(input[i])
            case let .size(n) where n == -1:
                guard infer == nil else { throw ImportProblem("node '\(node.label)' (Reshape): more than one -1 in the target") }
                infer = i
                out.append(0)
            case let .size(n) where n == fixedBatch && i == 0 && input.first == -1:
                out.append(-1)
            case let .size(n):
                guard n > 0 else { throw ImportProblem("node '\(node.label)' (\(node.opType)): target size \(n) is not positive") }
                out.append(n)
            }
        }
        let perSample = input.filter { $0 != -1 }.reduce(1, *)
        let hasBatch = input.contains(-1)
        guard hasBatch == out.contains(-1) || infer != nil else {
            throw ImportProblem("node '\(node.label)' (\(node.opType)): target \(target) mixes the batch dimension with others (input \(input), -1: batch); Lathe imports graphs whose batch dimension stays separate")
        }
        if let infer {
            let known = out.enumerated().filter { $0.offset != infer && $0.element != -1 }.map(\.element).reduce(1, *)
            if hasBatch, !out.contains(-1) {
                throw ImportProblem("node '\(node.label)' (\(node.opType)): target \(target) folds the batch dimension into its -1 (input \(input)); Lathe imports graphs whose batch dimension stays separate")
            }
            guard known > 0, perSample % known == 0 else {
                throw ImportProblem("node '\(node.label)' (\(node.opType)): cannot reshape \(input) to \(target)")
            }
            out[infer] = perSample / known
        }
        guard out.filter({ $0 != -1 }).reduce(1, *) == perSample else {
            throw ImportProblem("node '\(node.label)' (\(node.opType)): cannot reshape \(input) (-1: batch) to \(out)")
        }
        return out
    }
}
