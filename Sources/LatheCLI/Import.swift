import ArgumentParser
import Foundation
import LatheModels
import LatheONNX
import LatheTensor
import LatheTrain

/// `lathe import`: an ONNX model as a Lathe model (a checkpoint every command reads), with a
/// pre-flight report of what each method can do with it.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import an ONNX model (opset 11-21) as a Lathe checkpoint, or check what Lathe can do with it.",
        discussion: """
            Converts the graph into a Lathe graph model whose weights train: Conv, Gemm / MatMul, BatchNormalization and \
            LayerNormalization become layers; the other supported operators run as they are. The channel dependencies \
            (residual adds, depthwise convs, batch norm after conv, flatten before a linear layer) are derived from the \
            graph into the pruning groups the zoo declares by hand. --check prints the pre-flight report (operators, \
            pruning groups, what blocks pruning and where, couplings) and writes nothing; it exits non-zero when the \
            graph cannot be imported, listing every unsupported operator with its nodes. Every command also takes \
            --model file.onnx directly.
            """)

    @Argument(help: "The ONNX file.") var file: String
    @Flag(help: "Print the pre-flight report only; write nothing.") var check = false
    @Option(name: [.short, .customLong("output")], help: "The checkpoint to write (default: the file's name with .safetensors).") var output: String?

    var destination: String {
        output ?? URL(fileURLWithPath: file).deletingPathExtension().appendingPathExtension("safetensors").path
    }

    func validate() throws {
        if check, output != nil { throw ValidationError("--output does not apply with --check (it writes nothing)") }
        if !check { try OutputPath.checkFile(destination, option: "--output") }
    }

    func run() throws {
        let imported = try ONNXImporter.read(file)
        print(Self.report(imported, file: file))
        guard !check else { return }
        let model = try imported.model()
        // One forward pass on a zero batch of two: the graph runs before anything is written.
        let o = model.options
        _ = try model.predict(try Tensor.zeros([2, o.inputChannels, o.imageSize, o.imageSize]))
        try Checkpoint.save(model, to: destination, metadata: ["lathe.imported": URL(fileURLWithPath: file).lastPathComponent])
        print("imported \(file) as \(destination) (\(model.parameterCount) parameters, \(model.layers.count - 2) layers)")
    }

    /// The pre-flight report.
    static func report(_ g: ImportedGraph, file: String) -> String {
        let o = g.options
        var lines = ["\(file): opset \(g.opset), input [N, \(o.inputChannels), \(o.imageSize), \(o.imageSize)], \(o.classCount) classes, \(g.program.nodes.count) program nodes",
                     "operators: " + g.operators.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "),
                     "layers: " + g.program.layerNodes.map { "\($0.layer) (\($0.node.op.kind))" }.joined(separator: ", ")]
        let d = g.dependencies
        lines.append("pruning groups (\(d.groups.count)):")
        for group in d.groups {
            let coupled = group.coupled.isEmpty ? "" : " with \(group.coupled.joined(separator: ", "))"
            let consumers = group.consumers.map { $0.inputsPerChannel == 1 ? $0.layer : "\($0.layer) (\($0.inputsPerChannel) inputs per channel)" }
            lines.append("  \(group.producer)\(coupled) → \(consumers.isEmpty ? "nothing" : consumers.joined(separator: ", "))")
        }
        lines.append("not prunable (\(d.blocked.count)):")
        for b in d.blocked { lines.append("  \(b.producers.joined(separator: ", ")): \(b.reason)") }
        if !d.couplings.isEmpty {
            lines.append("couplings:")
            for c in d.couplings { lines.append("  \(c)") }
        }
        return lines.joined(separator: "\n")
    }
}
