import ArgumentParser
import Dispatch
import Foundation
import LathePlugins
import LatheTensor

// `lathe plugins bench`: per-call timing of a method through the host.
extension Plugins {
    /// CPU time this thread has used, in nanoseconds.
    static func threadCPUNanoseconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time calls of a method through the host (libffi, tensor views, validation, output checks).")
        @Argument(help: "Path to a plugin library, or the name of a registered plugin (loaded in this process).") var library: String
        @Argument(help: "Method id within the plugin.") var method: String
        @OptionGroup var registry: RegistryOption
        @Option(help: "Elements of the input tensor.") var elements: Int = 1
        @Option(help: "Timed calls.") var iterations: Int = 200_000
        @Option(help: "Repeats (the median of each repeat's mean is reported).") var repeats: Int = 5
        @Option(name: .customLong("param"), help: "Hyperparameter NAME=VALUE (repeatable; default: the declared defaults).")
        var params: [String] = []
        @Flag(help: "Quantizers with a backward: time forward + backward per call, through a method instance (QAT's path; methods with learnables always run through one).")
        var backward = false
        @Flag(help: "Through a method instance: verify every call's inputs (private copies compared afterwards), not QAT's sample of calls.")
        var verifyEveryCall = false
        @Flag(help: "Through a method instance: keep each call's outputs until the next call (as a training step keeps them in its graph), so that the instance cannot reuse them and allocates new ones on every call.")
        var holdOutputs = false

        func run() throws {
            guard elements >= 1, iterations >= 1, repeats >= 1 else {
                throw ValidationError("--elements, --iterations and --repeats must be positive")
            }
            Engine.threads = 1
            let loaded = try PluginLibrary.load(path: try Plugins.libraryPath(library, registry: registry))
            let m = try loaded.method(method)
            let params = try m.bind(try m.descriptor.parse(assignments: self.params, plugin: m.plugin))
            let input = try Tensor.randn([elements])
            let output = try Tensor.empty([elements])
            let weight = try Tensor.randn([elements]), grad = try Tensor.randn([elements]), aux = try Tensor.randn([elements])
            let labels = try Tensor([Int64](repeating: 0, count: 1), shape: [1])
            let student = try Tensor.randn([1, elements]), teacher = try Tensor.randn([1, elements])
            if backward, !(m.descriptor.kind == .quantizer && m.descriptor.hasBackward) {
                throw ValidationError("--backward: \(m.qualifiedID) is not a quantizer with a backward entry")
            }
            let instance = MethodInstance(method: m, params: params, verification: verifyEveryCall ? .everyCall : .standard)
            let context = CallContext()
            let throughInstance = backward || !m.descriptor.learnables.isEmpty
            if holdOutputs, !throughInstance {
                throw ValidationError("--hold-outputs applies to calls through a method instance (--backward, or a method with learnables)")
            }
            // Held in plain variables (an array per call would add the bench's own allocations).
            let hold = holdOutputs
            var heldOutput: Tensor?, heldGradInput: Tensor?, heldGrads: [Tensor] = []
            let call: () throws -> Void
            // Criteria and solvers: the weight is [elements] (one feature per row), so its input
            // statistics are those of one feature.
            let statistics = InputStatistics(absMax: try Tensor.ones([1, 1]), meanSquare: try Tensor.ones([1, 1]),
                                             gram: try Tensor.ones([1, 1, 1]), absMean: try Tensor.ones([1, 1]), rows: 1)
            switch m.descriptor.kind {
            case .quantizer where backward:
                call = {
                    let forward = try instance.quantize(input, context: context)
                    let backward = try instance.backward(input: input, gradOutput: grad, context: context)
                    if hold { (heldOutput, heldGradInput, heldGrads) = (forward.output, backward.gradInput, backward.learnableGrads) }
                }
            case .quantizer where throughInstance:
                call = {
                    let forward = try instance.quantize(input, context: context)
                    if hold { heldOutput = forward.output }
                }
            case .quantizer: call = { _ = try m.quantize(input, into: output, params: params) }
            case .criterion:
                call = { _ = try m.score(weight: weight, gradient: grad, aux: aux, statistics: statistics, params: params) }
            case .solver:
                call = { _ = try m.solve(weight: weight, statistics: statistics, params: params) }
            case .scaler:
                call = { _ = try m.scales(weight: weight, statistics: statistics, params: params) }
            case .factorizer:
                call = { _ = try m.factorize(weight: weight, statistics: statistics, params: params) }
            case .loss where throughInstance: call = { _ = try instance.loss(student: student, teacher: teacher, labels: labels, context: context) }
            case .loss: call = { _ = try m.loss(student: student, teacher: teacher, labels: labels, params: params) }
            }
            for _ in 0..<min(iterations, 10_000) { try call() }  // warm up
            var perCall: [Double] = [], cpuPerCall: [Double] = []
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds, cpuStart = Plugins.threadCPUNanoseconds()
                for _ in 0..<iterations { try call() }
                perCall.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(iterations))
                cpuPerCall.append((Plugins.threadCPUNanoseconds() - cpuStart) / Double(iterations))
            }
            withExtendedLifetime((heldOutput, heldGradInput, heldGrads)) {}
            perCall.sort()
            cpuPerCall.sort()
            let median = perCall[perCall.count / 2]
            var what = backward ? "forward + backward per call, through a method instance" : throughInstance ? "through a method instance" : ""
            if throughInstance { what += verifyEveryCall ? ", inputs verified on every call" : ", inputs verified on QAT's sample of calls" }
            if throughInstance { what += holdOutputs ? ", outputs held until the next call (new ones allocated)" : ", outputs dropped (reused)" }
            print("\(m.qualifiedID): \(m.descriptor.params.count) hyperparameters, \(elements) element(s), \(iterations) calls x \(repeats) repeats\(what.isEmpty ? "" : " (\(what))")")
            print(String(format: "  per call through the host: median %.3f us (min %.3f, max %.3f)", median / 1000, perCall[0] / 1000, perCall[perCall.count - 1] / 1000))
            // On a machine shared with other work the wall clock includes waiting for a core.
            print(String(format: "  thread CPU time per call: median %.3f us (min %.3f)", cpuPerCall[cpuPerCall.count / 2] / 1000, cpuPerCall[0] / 1000))
            // Throughput in bytes of float32 input per second (the method's main operand).
            print(String(format: "  throughput: %.2f GB/s of float32 input", Double(4 * elements) / median))
        }
    }
}
