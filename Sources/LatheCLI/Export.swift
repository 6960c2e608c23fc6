import ArgumentParser
import Foundation
import LatheONNX
import LatheTrain

/// `lathe export`: writes a checkpoint as a model another runtime runs (ONNX).
struct Export: ParsableCommand {
    /// Formats `lathe export` writes.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case onnx
    }

    static let configuration = CommandConfiguration(
        abstract: "Export a checkpoint to ONNX (opset 17), for ONNX Runtime and other runtimes.",
        discussion: """
            Any checkpoint Lathe writes: a trained model, a physically pruned one (its smaller layers), a factorized one \
            (each pair as two layers), one with explicit channel scales (a Mul before the layer). Input `input` \
            [N, C, H, W], output `logits` [N, classes], N symbolic. The checkpoint's metadata (method, plugin hashes, \
            dataset) goes to the model's metadata_props. The file is written atomically.
            """)

    @Argument(help: "A .safetensors checkpoint written by lathe.") var checkpoint: String
    @Option(help: "Output format.") var format: Format = .onnx
    @Option(name: [.short, .customLong("output")], help: "The file to write (default: the checkpoint's name with .onnx).") var output: String?

    var destination: String {
        output ?? URL(fileURLWithPath: checkpoint).deletingPathExtension().appendingPathExtension("onnx").path
    }

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw ValidationError("checkpoint '\(checkpoint)' does not exist") }
        try OutputPath.checkFile(destination, option: "--output")
    }

    func run() throws {
        let (model, metadata) = try Checkpoint.load(checkpoint)
        var provenance = metadata
        provenance["lathe.checkpoint"] = URL(fileURLWithPath: checkpoint).lastPathComponent
        let exported = try ONNXExporter.export(model, metadata: provenance)
        try ONNXModelFile.write(exported, to: URL(fileURLWithPath: destination))
        print("exported \(model.architecture) (\(exported.graph.node.count) nodes, \(exported.graph.initializer.count) initializers, opset \(ONNXExporter.opset)) to \(destination)")
    }
}
