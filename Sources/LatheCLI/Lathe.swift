import ArgumentParser

/// The `lathe` command: a research workbench for neural-network compression.
struct Lathe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lathe",
        abstract: "Train, compress and compare neural networks with plugin methods.",
        version: "0.1.0",
        subcommands: [Train.self, Eval.self, Models.self, DataCommand.self, Quantize.self, Prune.self, Solve.self, Factorize.self, Export.self, Import.self, Distill.self, Sweep.self, Reproduce.self, Report.self, Plugins.self, PluginWorker.self, TrialWorker.self, LatencyWorker.self]
    )
}
