import ArgumentParser
import Foundation
import LatheData
import LatheModels
import LatheONNX
import LatheTensor
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
            dataset) goes to the model's metadata_props. The file is written atomically. --verify runs the exported \
            model in ONNX Runtime on the test set (normalized as Lathe feeds its models) before it is put in place, and \
            refuses the export when ONNX Runtime's accuracy differs from Lathe's by more than 0.1 point or a logit by \
            more than --tolerance of the largest.

            --qdq exports a checkpoint of `lathe quantize` (symmetric integer weights, static or no activation \
            quantization; the record in its metadata 'lathe.qparams') as ONNX Runtime's QDQ format: int8 weight \
            initializers (per output channel: DequantizeLinear axis 0; opset 17), int32 biases, and uint8 \
            QuantizeLinear/DequantizeLinear pairs on each quantized layer's input and output with the calibrated \
            ranges, so that ONNX Runtime runs QLinearConv/QGemm integer kernels; weights of up to 4 bits, or in groups, \
            as int4 / blocked DequantizeLinear (opset 21, float kernels after dequantization). Inputs get \
            7-bit codes where this CPU's int8 kernels would saturate on 8-bit ones (x86 without VNNI; --activation-bits). \
            With --verify, ONNX Runtime's accuracy must be within 0.2 point of Lathe's simulated int8 model (the same \
            parameters, fake-quantized) and each logit within --tolerance (default 0.05 for --qdq) of the largest.
            """)

    @Argument(help: "A .safetensors checkpoint written by lathe.") var checkpoint: String
    @Option(help: "Output format.") var format: Format = .onnx
    @Option(name: [.short, .customLong("output")], help: "The file to write (default: the checkpoint's name with .onnx).") var output: String?
    @Flag(help: "Check the exported model in ONNX Runtime on the test set before writing it.") var verify = false
    @Option(help: "Largest logit difference --verify accepts, relative to the largest logit (default 1e-4; 0.05 with --qdq).")
    var tolerance: Double?
    @Flag(help: "Export the quantized checkpoint in QDQ form: int8 weights, quantized activations (ONNX Runtime int8 kernels).")
    var qdq = false
    @Option(help: "With --qdq: input activation codes, auto (7 where this CPU's int8 kernels saturate 8-bit codes, else 8), 7 or 8.")
    var activationBits: QDQExportPlan.ActivationBits = .auto
    @Option(help: "Python with onnxruntime for --verify (default: $LATHE_PYTHON, else the checkout's .venv).") var python: String?
    @OptionGroup var engine: EngineOptions

    var destination: String {
        output ?? URL(fileURLWithPath: checkpoint).deletingPathExtension().appendingPathExtension("onnx").path
    }

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw ValidationError("checkpoint '\(checkpoint)' does not exist") }
        try OutputPath.checkFile(destination, option: "--output")
        if let tolerance, !(tolerance > 0 && tolerance.isFinite) { throw ValidationError("--tolerance \(tolerance): expected a positive number") }
        if !qdq, activationBits != .auto { throw ValidationError("--activation-bits applies only with --qdq") }
        if !verify, python != nil { throw ValidationError("--python applies only with --verify") }
    }

    mutating func run() throws {
        try engine.adoptDataset(ofCheckpoint: checkpoint)
        let (model, metadata) = try Checkpoint.load(checkpoint)
        var provenance = metadata
        provenance["lathe.checkpoint"] = URL(fileURLWithPath: checkpoint).lastPathComponent
        let plan = qdq ? try QDQExportPlan(checkpoint: checkpoint, metadata: metadata, activationBits: activationBits) : nil
        provenance.merge(plan?.metadata ?? [:]) { $1 }
        let exported = try ONNXExporter.export(model, metadata: provenance, quantization: plan?.layers ?? [:])
        let form = plan.map { $0.quantizesActivations ? "QDQ int8, \($0.reason)" : "QDQ int8 weights only" }.map { ", \($0)" } ?? ""
        let done = "exported \(model.architecture) (\(exported.graph.node.count) nodes, \(exported.graph.initializer.count) initializers, opset \(exported.opsetImport.first?.version ?? ONNXExporter.opset)\(form)) to \(destination)"
        guard verify else {
            try ONNXModelFile.write(exported, to: URL(fileURLWithPath: destination))
            print(done)
            return
        }
        engine.apply()
        let runner = try ONNXRuntimeRunner(python: python)
        // Verified under a temporary name beside the destination, then renamed: a model that
        // fails the check is never left at the destination.
        let url = URL(fileURLWithPath: destination)
        let candidate = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).verify-\(UUID().uuidString).onnx")
        defer { try? FileManager.default.removeItem(at: candidate) }
        try ONNXModelFile.write(exported, to: candidate)
        let (_, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: 1, limitTest: engine.limitTest)
        let shape = [test.count, test.channels, test.height, test.width]
        let sample = test.imageSize
        // A QDQ export is checked against Lathe's simulated int8 model (the same parameters, fake-quantized).
        let lathe = try plan?.simulatedLogits(model, images: test.images, shape: shape)
            ?? Tensor.cat(try stride(from: 0, to: test.count, by: 1000).map { start in
                let n = min(1000, test.count - start)
                return try model.predict(try Tensor(Array(test.images[(start * sample)..<((start + n) * sample)]),
                                                    shape: [n, test.channels, test.height, test.width]))
            }, dim: 0)
        let ort = try runner.run(model: candidate.path, images: test.images, shape: shape, threads: engine.threads)
        var check = try ExportCheck(lathe: lathe, ort: ort, test: test)
        check.reference = plan == nil ? "Lathe" : "Lathe simulated int8"
        print(check.summary)
        let (accuracyLimit, logitLimit) = plan == nil ? (0.001, tolerance ?? 1e-4) : (0.002, tolerance ?? 0.05)
        guard check.accuracyDifference <= accuracyLimit, check.relativeLogitDifference <= logitLimit else {
            throw ONNXRuntimeError(description: String(
                format: "ONNX Runtime disagrees with Lathe on %@: %@ (accepted: %.1f point, %.0e of the largest output); nothing written",
                destination, check.summary, 100 * accuracyLimit, logitLimit))
        }
        try FileManager.default.moveItem(at: candidate, to: url)
        print(done)
    }
}

/// Lathe's outputs against ONNX Runtime's on the same images: the task's primary metric of
/// each (top-1 accuracy; a detector's mAP of the decoded boxes; a segmenter's mIoU) and the
/// largest output difference.
struct ExportCheck {
    var images: Int
    /// `accuracy`, `map` or `miou`.
    var metric: String
    var latheAccuracy: Double
    var ortAccuracy: Double
    /// The largest |Lathe − ORT| logit difference over the largest |logit|.
    var relativeLogitDifference: Double
    /// What the Lathe side is, in the summary.
    var reference = "Lathe"

    var accuracyDifference: Double { abs(latheAccuracy - ortAccuracy) }

    init(lathe: Tensor, ort: (values: [Float], shape: [Int]), test: ImageDataset) throws {
        guard ort.shape == lathe.shape, lathe.shape.first == test.count else {
            throw ONNXRuntimeError(description: "ONNX Runtime's output has shape \(ort.shape), Lathe's \(lathe.shape) (for \(test.count) images)")
        }
        let mine = try lathe.contiguous().scalars(as: Float.self)
        images = test.count
        metric = test.task.primaryMetric
        var largest: Float = 0, difference: Float = 0
        for (a, b) in zip(mine, ort.values) {
            largest = max(largest, abs(a))
            difference = max(difference, abs(a - b))
        }
        // Each side's outputs scored as the task scores a model (boxes decoded, pixels counted).
        func score(_ outputs: Tensor) throws -> Double {
            var offset = 0
            return try Evaluation.metrics(on: test) { x in
                defer { offset += x.shape[0] }
                return try outputs.narrowed(0, start: offset, length: x.shape[0])
            }.primary
        }
        latheAccuracy = try score(lathe)
        ortAccuracy = try score(Tensor(ort.values, shape: ort.shape))
        relativeLogitDifference = Double(difference) / Double(max(largest, 1e-12))
    }

    var summary: String {
        String(format: "ONNX Runtime check on %d test images: %@ %.2f%% (%@ %.2f%%), largest output difference %.2e of the largest output",
               images, metric, 100 * ortAccuracy, reference, 100 * latheAccuracy, relativeLogitDifference)
    }
}
