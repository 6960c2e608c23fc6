import ArgumentParser
import LatheModels
import LatheTrain

/// `lathe models`: the zoo with parameter counts and MACs.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the model zoo.")

    func run() throws {
        for (name, summary) in Zoo.catalog {
            let cost = try ModelCost.of(Zoo.make(name, options: Zoo.defaultOptions(name)))
            print("\(name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(String(cost.parameters).leftPadded(8)) params \(String(cost.macs).leftPadded(10)) MACs  \(summary)")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: Swift.max(0, width - count)) + self }
}
