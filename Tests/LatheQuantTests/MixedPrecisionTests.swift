import Foundation
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTestSupport
import LatheTrain
import Testing
@testable import LatheQuant

/// Mixed precision under a budget: the knapsack is exact (against enumeration), and the
/// quantization stage meets its budget with the least summed sensitivity on a trained model.
@Suite("mixed precision", .serialized)
struct MixedPrecisionTests {
    /// Every assignment, enumerated: the least cost within the budget, or nil.
    static func bruteForce(costs: [[Double]], sizes: [[Int]], budget: Int) -> Double? {
        var best: Double?
        func visit(_ layer: Int, _ cost: Double, _ size: Int) {
            guard size <= budget else { return }
            guard layer < costs.count else {
                if best == nil || cost < best! { best = cost }
                return
            }
            for option in costs[layer].indices { visit(layer + 1, cost + costs[layer][option], size + sizes[layer][option]) }
        }
        visit(0, 0, 0)
        return best
    }

    @Test func knapsackIsExact() throws {
        var state: UInt64 = 12345
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        for trial in 0..<60 {
            let layers = 1 + next(5), options = 1 + next(4)
            let sizes = (0..<layers).map { _ in (0..<options).map { _ in 8 * (1 + next(40)) } }
            let costs = (0..<layers).map { _ in (0..<options).map { _ in Double(next(1000)) / 7 } }
            let budget = next(8 * 40 * layers + 1)
            let expected = Self.bruteForce(costs: costs, sizes: sizes, budget: budget)
            let choice = MixedPrecision.knapsack(costs: costs, sizes: sizes, budget: budget)
            #expect((choice == nil) == (expected == nil), "trial \(trial)")
            if let choice, let expected {
                let size = choice.indices.reduce(0) { $0 + sizes[$1][choice[$1]] }
                let cost = choice.indices.reduce(0.0) { $0 + costs[$1][choice[$1]] }
                #expect(size <= budget, "trial \(trial): \(size) > \(budget)")
                #expect(abs(cost - expected) < 1e-9, "trial \(trial): \(cost) vs optimum \(expected)")
            }
        }
    }

    static func config(_ sensitivity: MixedSensitivity) -> QuantConfig {
        var config = QuantConfig()
        config.method = "uniform/affine"
        config.params = ["per_channel": .bool(true)]
        config.mixedBits = [2, 3, 4, 8]
        config.budgetUniformBits = 3
        config.mixedSensitivity = sensitivity
        config.calibrationBatches = 2
        return config
    }

    @Test(arguments: MixedSensitivity.allCases)
    func equalSizeToUniformWithNoMoreCost(_ sensitivity: MixedSensitivity) throws {
        Engine.threads = 1
        let (model, train, test, recipe) = try LearnedQuantizerTests.shared.get()
        let (_, report) = try QuantizationStage.run(Self.config(sensitivity), model: model, train: train, test: test, recipe: recipe,
                                                    registry: try Checkout.registry())
        let mixed = try #require(report.mixedPrecision)
        #expect(mixed.candidates == [2, 3, 4, 8] && mixed.layers.map(\.name) == report.layers.map(\.layer))
        // The budget is the uniform 3-bit size; the assignment fits it and costs no more than it.
        let uniformSize = mixed.layers.reduce(0) { $0 + $1.sizes[1] }
        let uniformCost = mixed.layers.reduce(0.0) { $0 + $1.costs[1] }
        #expect(mixed.budgetBytes == uniformSize)
        #expect(mixed.sizeBytes <= mixed.budgetBytes && report.sizeBytes >= mixed.sizeBytes)
        #expect(mixed.totalCost <= uniformCost + 1e-12)
        for (layer, record) in zip(mixed.layers, report.layers) {
            #expect(record.bits == layer.bits, "\(layer.name): quantized at \(record.bits), chosen \(layer.bits)")
            #expect(layer.costs.count == 4 && layer.sizes == layer.sizes.sorted(), "\(layer.name): sizes grow with the width")
        }
        if sensitivity == .hessianTrace {
            // Ω = Tr(H)/D · ‖Q_b(W) − W‖² falls as the width grows.
            for layer in mixed.layers { #expect(layer.costs == layer.costs.sorted(by: >), "\(layer.name): \(layer.costs)") }
        }
    }

    @Test func budgetsAreCheckedAndAnImpossibleOneIsRefused() throws {
        let (model, train, test, recipe) = try LearnedQuantizerTests.shared.get()
        var two = Self.config(.hessianTrace)
        two.budgetBits = 3
        #expect { try two.validate() } throws: { "\($0)".contains("budget_bits and budget_uniform_bits") }
        var fixed = Self.config(.hessianTrace)
        fixed.layerBits = ["fc1": 4]
        #expect { try fixed.validate() } throws: { "\($0)".contains("no layer_bits") }
        var outside = Self.config(.hessianTrace)
        outside.budgetUniformBits = 5
        #expect { try outside.validate() } throws: { "\($0)".contains("one of mixed_bits") }
        var tiny = Self.config(.hessianTrace)
        tiny.budgetUniformBits = nil
        tiny.budgetBytes = 100
        #expect {
            _ = try QuantizationStage.run(tiny, model: model, train: train, test: test, recipe: recipe, registry: try Checkout.registry())
        } throws: { "\($0)".contains("below the smallest assignment") }
    }
}
