import ArgumentParser
import Foundation
import LatheTensor
import LatheTrain

/// Options shared by every command that runs the engine.
struct EngineOptions: ParsableArguments {
    @Option(help: "Intra-op threads for libtorch (default: the machine's cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("data"), help: "Data directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var dataDirectory: String?

    @Option(help: "Data set: \(DataSource.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: DataSource = .fashionMNIST

    @Option(help: "Use only the first N training samples.")
    var limitTrain: Int?

    @Option(help: "Use only the first N test samples.")
    var limitTest: Int?

    func validate() throws {
        guard (1...256).contains(threads) else {
            throw ValidationError("--threads \(threads) is out of range: expected an integer in 1...256")
        }
        if let n = limitTrain, n < 1 { throw ValidationError("--limit-train \(n): expected a positive integer") }
        if let n = limitTest, n < 1 { throw ValidationError("--limit-test \(n): expected a positive integer") }
    }

    func apply() { Engine.threads = threads }
}

extension DataSource: ExpressibleByArgument {}
extension Recipe.OptimizerKind: ExpressibleByArgument {}
extension Recipe.ScheduleKind: ExpressibleByArgument {}
