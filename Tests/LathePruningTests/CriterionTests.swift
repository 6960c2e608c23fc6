import Foundation
import LatheData
import LathePlugins
import LatheTensor
import Testing
@testable import LathePruning

/// Each first-party criterion (the Rust `prune` plugin, loaded through the registry with its
/// sha256 pin) on small tensors whose scores are worked out by hand.
@Suite("Criterion plugins on golden tensors")
struct CriterionTests {
    // Three output channels of two weights each.
    static let w: [Float] = [1, -2, 3, -4, 0.5, 0]
    static let g: [Float] = [0.5, 1, -1, 0.25, 2, 2]

    private func score(_ id: String, weight: [Float] = w, shape: [Int] = [3, 2], gradient: [Float]? = nil, aux: [Float]? = nil,
                       params: [String: HyperValue] = [:]) throws -> [Float] {
        let method = try Fixtures.registry().method(id)
        let result = try method.score(
            weight: Tensor(weight, shape: shape), gradient: gradient.map { try Tensor($0, shape: shape) },
            aux: aux.map { try Tensor($0) }, params: method.bind(params))
        return try result.scalars(as: Float.self)
    }

    private func expectClose(_ a: [Float], _ b: [Float], _ tolerance: Float = 1e-5) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= tolerance, "\(a) vs \(b)") }
    }

    @Test func magnitude() throws {
        expectClose(try score("prune/magnitude"), [1, 2, 3, 4, 0.5, 0])
    }

    @Test func filterNorms() throws {
        expectClose(try score("prune/l1-filter"), [3, 7, 0.5])
        expectClose(try score("prune/l2-filter"), [Float(5).squareRoot(), 5, 0.5])
        // A conv weight [out, in, k, k]: channels are dimension 0 whatever the rank.
        expectClose(try score("prune/l1-filter", shape: [3, 1, 1, 2]), [3, 7, 0.5])
    }

    @Test func fpgmSumsDistancesToTheOtherFilters() throws {
        let d01 = Float(8).squareRoot(), d02 = Float(4.25).squareRoot(), d12 = Float(22.25).squareRoot()
        expectClose(try score("prune/fpgm"), [d01 + d02, d01 + d12, d02 + d12])
    }

    @Test func gradientCriteria() throws {
        expectClose(try score("prune/taylor", gradient: Self.g), [2.25, 16, 1])
        expectClose(try score("prune/snip", gradient: Self.g), [0.5, 2, 3, 1, 1, 0])
        #expect(throws: PluginError.self) { try score("prune/taylor") }
    }

    @Test func batchNormScale() throws {
        expectClose(try score("prune/bn-scale", aux: [-0.5, 2, 0]), [0.5, 2, 0])
    }

    @Test func randomIsSplitMix64AndSeeded() throws {
        var generator = SeededGenerator(seed: 3)
        let expected = (0..<6).map { _ in Float(generator.next() >> 40) / 16_777_216 }
        let a = try score("prune/random", params: ["seed": .int(3)])
        #expect(a == expected)
        #expect(a.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(try score("prune/random", params: ["seed": .int(4)]) != a)
    }

    @Test func hyperparametersAreCheckedAgainstTheDeclaration() throws {
        var c = PruningConfig()
        c.criterion = "prune/random"
        c.params = ["seed": .int(-1)]
        expectError(mentioning: ["prune/random", "seed", "-1"]) { _ = try c.validate(against: Fixtures.registry()) }
        c.params = ["temperature": .double(2)]
        expectError(mentioning: ["temperature"]) { _ = try c.validate(against: Fixtures.registry()) }
    }
}
