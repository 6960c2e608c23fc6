import Foundation
import LatheModels
import LatheTensor

/// An ONNX graph converted into a Lathe graph model: its program, options, weights, and the
/// channel dependencies derived from its dataflow.
public struct ImportedGraph {
    /// The program (no weights).
    public var program: GraphProgram
    /// Input channels and size, classes.
    public var options: ModelOptions
    /// The default-domain opset the file imports.
    public var opset: Int
    /// ONNX operator types of the file with their counts.
    public var operators: [String: Int]
    /// Derived pruning groups, blocked channel sets and couplings.
    public var dependencies: GraphDependencies
    var tensors: [String: ConstantTensor]

    /// The model with the file's weights (trainable), ready for every command.
    public func model() throws -> Model {
        let model = try Model.skeleton(program: program, options: options)
        var loaded: [String: Tensor] = [:]
        for (name, c) in tensors { loaded[name] = try Tensor(c.floats, shape: c.shape) }
        try model.load(loaded)
        return model
    }
}

/// Reads ONNX files into Lathe graph models (`lathe import`, `--model file.onnx`).
///
/// Supported: opsets 11–21 of the default domain; one float input `[N, C, H, W]` (N symbolic or
/// fixed, C, H = W fixed) and one output `[N, classes]`; the operators of
/// `supportedOperators`; static weights (initializers or Constant nodes). Shape computations on
/// the batch size (`Shape` → `Gather` → `Concat` → `Reshape`/`Expand`) are folded with the batch
/// symbolic. MatMul + Add of a constant becomes one linear layer; PyTorch's erf GELU pattern
/// becomes GELU.
public enum ONNXImporter {
    /// Operator types the importer converts.
    public static var supportedOperators: [String] { GraphConverter.supportedOps.sorted() }
    /// Default-domain opsets accepted.
    public static let opsets = 11...21

    /// Imports the file at `path`.
    /// - Throws: ``ONNXImportError`` (or ``ONNXModelFileError``) naming the file and the node,
    ///   initializer or field at fault; all unsupported operators are listed together.
    public static func read(_ path: String) throws -> ImportedGraph {
        let model = try ONNXModelFile.read(contentsOf: URL(fileURLWithPath: path))
        return try convert(model, path: path)
    }

    /// Converts a decoded model; `path` names it in errors.
    public static func convert(_ model: Onnx_ModelProto, path: String) throws -> ImportedGraph {
        func fail(_ problems: [String]) -> ONNXImportError { ONNXImportError(path: path, problems: problems) }
        let defaultOpsets = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map(\.version)
        guard let opset64 = defaultOpsets.first, defaultOpsets.count == 1, opsets.contains(Int(clamping: opset64)) else {
            throw fail(["opset_import: expected one default-domain opset in \(opsets.lowerBound)...\(opsets.upperBound), found \(defaultOpsets)"])
        }
        let g = model.graph
        let unsupported = Dictionary(grouping: g.node.filter { !GraphConverter.supportedOps.contains($0.opType) }, by: \.opType)
        if !unsupported.isEmpty {
            throw fail(unsupported.sorted { $0.key < $1.key }.map { op, nodes in
                "operator \(op) is not supported (node\(nodes.count > 1 ? "s" : "") \(nodes.prefix(5).map { "'\($0.label)'" }.joined(separator: ", "))\(nodes.count > 5 ? ", …" : ""))"
            } + ["Lathe imports: \(supportedOperators.joined(separator: ", "))"])
        }
        var converter = GraphConverter(opset: Int(clamping: opset64))
        do {
            var initializerNames: Set<String> = []
            for t in g.initializer {
                guard !t.name.isEmpty, initializerNames.insert(t.name).inserted else {
                    throw ImportProblem("initializer '\(t.name)': empty or duplicate name")
                }
                var c = try ConstantTensor.decode(t, what: "initializer '\(t.name)'")
                c.source = t.name
                converter.values[t.name] = .constant(c)
            }
            let (inputName, inputShape, fixedBatch) = try graphInput(g, initializers: initializerNames)
            converter.values[inputName] = .activation(inputShape)
            converter.fixedBatch = fixedBatch
            let nodes = try sorted(g.node, available: Set(converter.values.keys))
            findFusions(nodes, &converter)
            for (i, node) in nodes.enumerated() { try converter.convert(node, index: i) }
            guard g.output.count == 1 else { throw ImportProblem("graph outputs: expected one (the logits), found \(g.output.count)") }
            let outputName = g.output[0].name
            guard case let .activation(shape)? = converter.values[outputName], shape.count == 2, shape[0] == -1, shape[1] >= 2 else {
                throw ImportProblem("graph output '\(outputName)': expected logits [N, classes] computed from the input, found \(String(describing: converter.values[outputName]))")
            }
            let options = ModelOptions(inputChannels: inputShape[1], imageSize: inputShape[2], classCount: shape[1])
            do { try options.validate() } catch { throw ImportProblem("graph input '\(inputName)' \(inputShape): \(error)") }
            let program = GraphProgram(name: g.name.isEmpty ? "onnx" : g.name, input: inputName, inputShape: inputShape, output: outputName,
                                       nodes: converter.program)
            do { try program.validate() } catch { throw ImportProblem("converted program: \(error)") }
            return ImportedGraph(program: program, options: options, opset: converter.opset, operators: converter.opCounts,
                                 dependencies: program.dependencies(), tensors: converter.tensors)
        } catch let problem as ImportProblem {
            throw fail([problem.message])
        }
    }

    /// The one graph input that is not an initializer: float `[N, C, H, W]` with C, H = W fixed.
    static func graphInput(_ g: Onnx_GraphProto, initializers: Set<String>) throws -> (String, [Int], Int?) {
        let inputs = g.input.filter { !initializers.contains($0.name) }
        guard inputs.count == 1, let input = inputs.first else {
            throw ImportProblem("graph inputs: expected one image batch [N, C, H, W], found \(inputs.count) (\(inputs.map(\.name).joined(separator: ", ")))")
        }
        let type = input.type.tensorType
        guard type.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw ImportProblem("graph input '\(input.name)': element type \(type.elemType); expected float (1)")
        }
        let dims = type.shape.dim
        guard dims.count == 4 else { throw ImportProblem("graph input '\(input.name)': rank \(dims.count); expected [N, C, H, W]") }
        var shape: [Int] = [-1]
        for (i, d) in dims.enumerated().dropFirst() {
            guard case let .dimValue(v)? = d.value, v > 0 else {
                let found = if case let .dimParam(p)? = d.value { "symbolic '\(p)'" } else { "unknown" }
                throw ImportProblem("graph input '\(input.name)': dimension \(i) is \(found); Lathe needs fixed channels, height and width (only the batch may vary)")
            }
            shape.append(Int(clamping: v))
        }
        guard shape[2] == shape[3] else { throw ImportProblem("graph input '\(input.name)': \(shape[2])×\(shape[3]) images; Lathe's models take square images") }
        let fixedBatch: Int? = if case let .dimValue(n)? = dims[0].value, n > 0 { Int(clamping: n) } else { nil }
        return (input.name, shape, fixedBatch)
    }

    /// The nodes in dependency order (ONNX requires it, but files are not trusted).
    /// - Throws: when a node reads a value nothing defines, or the nodes form a cycle.
    static func sorted(_ nodes: [Onnx_NodeProto], available: Set<String>) throws -> [Onnx_NodeProto] {
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.output where !o.isEmpty {
                guard producer[o] == nil, !available.contains(o) else {
                    throw ImportProblem("node '\(n.label)' defines '\(o)', which is already defined")
                }
                producer[o] = i
            }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var readers: [Int: [Int]] = [:]
        for (i, n) in nodes.enumerated() {
            for input in n.input where !input.isEmpty {
                if let p = producer[input] {
                    pending[i] += 1
                    readers[p, default: []].append(i)
                } else if !available.contains(input) {
                    throw ImportProblem("node '\(n.label)' reads '\(input)', which no node, initializer or input defines")
                }
            }
        }
        var ready = pending.indices.filter { pending[$0] == 0 }
        var order: [Int] = []
        while let i = ready.first {
            ready.removeFirst()
            order.append(i)
            for r in readers[i] ?? [] {
                pending[r] -= 1
                if pending[r] == 0 { ready.append(r) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = nodes.indices.filter { pending[$0] > 0 }.prefix(5).map { "'\(nodes[$0].label)'" }
            throw ImportProblem("the graph has a cycle through node(s) \(stuck.joined(separator: ", ")): ONNX graphs must be acyclic")
        }
        return order.map { nodes[$0] }
    }
}
