import ArgumentParser
import Foundation
import LatheModels
import LatheONNX
import LatheTrain

/// Where latency is measured: libtorch (the engine, always) and, on request, ONNX Runtime on
/// the exported model.
enum LatencyBackend: String, ExpressibleByArgument, CaseIterable {
    case libtorch
    case ort
}

extension EngineOptions {
    /// With `--backend ort`: `model` (or `qdq`, its QDQ export) and `reference` timed in ONNX Runtime.
    func backendLatency(_ model: Model, reference: Model? = nil, qdq: Onnx_ModelProto? = nil) throws -> [BackendLatency]? {
        guard backend.contains(.ort), !noLatency else { return nil }
        let exported = try qdq ?? ONNXExporter.export(model)
        return [try ORTLatency.measure(exported, graph: qdq == nil ? "fp32" : "qdq", reference: try reference.map { try ONNXExporter.export($0) },
                                       threads: threads, python: nil)]
    }
}

extension QDQExportPlan.ActivationBits: ExpressibleByArgument {}
