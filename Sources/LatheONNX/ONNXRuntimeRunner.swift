import Foundation

/// A failure of ONNX Runtime (the check, a latency run), shown as is.
public struct ONNXRuntimeError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) { self.description = description }
}

/// Runs an ONNX model in ONNX Runtime through `scripts/ort_run.py` of the checkout, with the
/// Python of the checkout's `.venv` (which scripts/bootstrap.sh makes) unless told otherwise.
public struct ONNXRuntimeRunner: Sendable {
    /// The Python interpreter with onnxruntime.
    public var python: String
    /// scripts/ort_run.py of the checkout.
    public var script: String

    /// `python`, else `$LATHE_PYTHON`, else the checkout's `.venv/bin/python`; the script is the
    /// checkout's (found beside the executable, as the registry is).
    public init(python: String?) throws {
        guard let root = Self.checkout() else {
            throw ONNXRuntimeError(description: "cannot find Lathe's checkout (scripts/ort_run.py) above \(CommandLine.arguments.first ?? "lathe")")
        }
        script = root.appendingPathComponent("scripts/ort_run.py").path
        let environment = ProcessInfo.processInfo.environment["LATHE_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        self.python = python ?? environment ?? root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: self.python) else {
            throw ONNXRuntimeError(description: """
                Python '\(self.python)' is missing: the ONNX Runtime check needs a Python with onnxruntime \
                (scripts/bootstrap.sh installs it into the checkout's .venv), or pass --python
                """)
        }
    }

    /// The checkout holding `scripts/ort_run.py`, found above the executable.
    public static func checkout() -> URL? {
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<8 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("scripts/ort_run.py").path) { return url }
        }
        return nil
    }

    /// The model's first output on `images` (`shape`, float32), with its shape.
    public func run(model: String, images: [Float], shape: [Int], threads: Int) throws -> (values: [Float], shape: [Int]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-ort-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("input.f32"), output = dir.appendingPathComponent("output.f32")
        try images.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: input)
        let printed = try runPython([script, model, input.path, shape.map(String.init).joined(separator: ","), output.path, "--threads", "\(threads)"],
                                 what: "ONNX Runtime (\(python) \(script))")
        guard let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("shape: ") }) else {
            throw ONNXRuntimeError(description: "ONNX Runtime (\(script)) printed no output shape")
        }
        let outputShape = line.dropFirst(7).split(separator: ",").compactMap { Int($0) }
        let data = try Data(contentsOf: output)
        let values = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        guard values.count == outputShape.reduce(1, *) else {
            throw ONNXRuntimeError(description: "ONNX Runtime wrote \(values.count) values for output shape \(outputShape)")
        }
        return (values, outputShape)
    }

    /// Runs this Python with `arguments` and returns what it printed; a non-zero exit throws
    /// `what` failed with the last line of its standard error. Both pipes are drained at once.
    public func runPython(_ arguments: [String], what: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        (process.standardOutput, process.standardError) = (out, err)
        try process.run()
        nonisolated(unsafe) var errors = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errors = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        drained.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
            throw ONNXRuntimeError(description: "\(what) failed: \(message)")
        }
        return printed
    }
}
