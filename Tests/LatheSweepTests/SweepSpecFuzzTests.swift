import Foundation
import LatheData
import LatheTestSupport
import LathePlugins
import Testing
@testable import LatheSweep

/// Mutated sweep specs: the parser returns a spec or throws `SweepError`, never traps or hangs.
@Suite("sweep spec fuzzing")
struct SweepSpecFuzzTests {
    typealias Generator = SeededGenerator

    static let extremes = ["1e300", "-1e300", "-1", "0", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                           "18446744073709551616", "nan", "inf", "-inf", "+inf", "1e-320", "2.5", "-0.0", "4294967296", "65536"]
    static let swaps = ["\"x\"", "\"\"", "true", "[]", "{}", "[1, 2]", "{ a = 1 }", "[[1]]", "\"globl\"", "\"a/b\"", "1979-05-27", "[\"q\"]"]

    /// Small specs beside the quickstart: every stage kind, grids over table and array keys.
    static let small = [
        SweepSpecTests.good,
        SweepSpecTests.withStage(SweepSpecTests.distillStage, grid: #"grid = { "distill.terms.0.params.alpha" = [0.5, 0.9] }"#),
        SweepSpecTests.withStage(#"{ kind = "prune", criterion = "prune/magnitude", sparsity = 0.5, scope = "global", schedule = "agp", steps = 3 }"#,
                                 grid: #"grid = { "prune.sparsity" = [0.5, 0.7], "prune.steps" = [2, 4] }"#),
        SweepSpecTests.withStage(#"{ kind = "quantize", method = "uniform/affine", workflow = "qat", qat_epochs = 1, layer_bits = { fc1 = 4 } }, { kind = "finetune", epochs = 2, lr = 0.01 }"#,
                                 grid: #"grid = { "finetune.epochs" = [1, 2], "quantize.params.bits" = [4, 8] }"#),
    ]

    static let numbers = try? NSRegularExpression(pattern: #"(?<=[=\[,] ?)-?[0-9][0-9_.eE+-]*(?=[ ,\]\}\n]|$)"#)
    static let pairs = try? NSRegularExpression(pattern: #"[a-z_"][a-z_.0-9"]* = ("[^"\n]*"|\[[^\]\n]*\]|[^,\}\n]+),? ?"#)
    static let values = try? NSRegularExpression(pattern: #"(?<== )("[^"\n]*"|\[[^\]\n]*\]|[-0-9.a-z]+)"#)

    /// One mutation of `text`: a number to an extreme, a key deleted, a value's type swapped, a
    /// line duplicated or deleted, or the text truncated.
    static func mutate(_ text: String, _ g: inout Generator) -> String {
        func replaceOne(_ regex: NSRegularExpression?, with replacement: String) -> String {
            let ns = text as NSString
            guard let m = regex?.matches(in: text, range: NSRange(location: 0, length: ns.length)).randomElement(using: &g) else { return text }
            return ns.replacingCharacters(in: m.range, with: replacement)
        }
        func lines() -> [String] { text.components(separatedBy: "\n") }
        switch Int.random(in: 0..<7, using: &g) {
        case 0, 1:
            return replaceOne(numbers, with: extremes.randomElement(using: &g) ?? "0")
        case 2:
            return replaceOne(pairs, with: "")
        case 3:
            return replaceOne(values, with: swaps.randomElement(using: &g) ?? "1")
        case 4:
            var all = lines()
            let i = Int.random(in: 0..<all.count, using: &g)
            all.insert(all[i], at: i)
            return all.joined(separator: "\n")
        case 5:
            var all = lines()
            all.remove(at: Int.random(in: 0..<all.count, using: &g))
            return all.joined(separator: "\n")
        default:
            let scalars = Array(text.unicodeScalars)
            return String(String.UnicodeScalarView(scalars.prefix(Int.random(in: 0...scalars.count, using: &g))))
        }
    }

    /// The process's peak resident memory (VmHWM), in bytes.
    static func peakRSS() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    // The time limit is a hang guard, not a speed check (benchmarks time things): 7 s alone on a
    // quiet 2-CPU machine, over 2 minutes in a full CI run beside a build and three sweeps.
    @Test(.timeLimit(.minutes(10))) func tenThousandMutatedSpecsParseOrFailCleanly() throws {
        let registry = try SweepSpecTests.registry()
        let quickstart = try String(contentsOf: SourceTree.root.appendingPathComponent("sweeps/quickstart.toml"), encoding: .utf8)
        let bases = [quickstart] + Self.small
        var g = Generator(seed: 11)
        var parsed = 0, refused = 0, slowest = 0.0
        let started = Date(), cpuStarted = clock(), peakStarted = Self.peakRSS()
        let count = 10_000
        for _ in 0..<count {
            var text = bases.randomElement(using: &g) ?? quickstart
            for _ in 0..<Int.random(in: 1...3, using: &g) { text = Self.mutate(text, &g) }
            let t0 = Date()
            do {
                let spec = try SweepSpec.parse(text, file: "fuzz.toml", registry: registry)
                _ = try spec.trials(registry: registry)
                parsed += 1
            } catch let error as SweepError {
                #expect(error.message.hasPrefix("fuzz.toml"), "an error that does not name the file: \(error.message)")
                refused += 1
            }
            slowest = max(slowest, Date().timeIntervalSince(t0))
        }
        let cpu = Double(clock() - cpuStarted) / Double(CLOCKS_PER_SEC)
        let wall = Date().timeIntervalSince(started)
        print(String(format: "sweep spec fuzz: %d inputs, %d parsed, %d refused, %.1f s (%.1f s CPU), slowest %.3f s, peak RSS %d MB",
                     count, parsed, refused, wall, cpu, slowest, Self.peakRSS() >> 20))
        #expect(parsed + refused == count)
        // Both outcomes occur: the mutations neither always break the spec nor never do.
        #expect(parsed > 500 && refused > 500, "parsed \(parsed), refused \(refused)")
        #expect(slowest < 1, "one input took \(slowest) s")
        let grown = Self.peakRSS() - peakStarted
        #expect(peakStarted > 0 && grown < 256 << 20, "peak memory \(peakStarted >> 20) MB grew by \(grown >> 20) MB")
    }
}
