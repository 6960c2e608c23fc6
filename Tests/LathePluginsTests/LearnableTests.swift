import CLathePlugin
import Foundation
import LatheIO
import LatheTensor
import Testing
@testable import LathePlugins

/// [1.1] Learnables, backward entries, the call context and the state buffer, through real
/// plugin libraries built from Tests/Fixtures/plugins/learn_*.c.
@Suite struct LearnableTests {
    func method(_ fixture: String, _ id: String) throws -> PluginMethod {
        try PluginLibrary.load(path: try Fixtures.library(fixture)).method(id)
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return String(describing: error)
        }
    }

    func loadError(_ fixture: String) throws -> String {
        message { _ = try PluginLibrary.load(path: try Fixtures.library(fixture)) }
    }

    // MARK: Descriptors

    @Test func learnablesAndEntriesAreReadFromTheDescriptor() throws {
        let lsq = try method("learn_scale", "lsq")
        #expect(lsq.descriptor.learnables == [LearnableDescriptor(name: "s", rule: .scalar, doc: "the step size")])
        #expect(lsq.descriptor.hasBackward && lsq.descriptor.hasInitLearnables)
        let gain = try method("learn_scale", "gain")
        #expect(gain.descriptor.learnables.map(\.rule) == [.perChannel])
        let bank = try method("learn_bank", "offset")
        #expect(bank.descriptor.learnables == [LearnableDescriptor(name: "v", rule: .vector, sizeParam: "dim", doc: "the learned offset")])
        #expect(!bank.descriptor.hasBackward && bank.descriptor.hasInitLearnables)
        // A 1.0-style method (no learnables) reads them as absent.
        let noop = try method("noop", "identity")
        #expect(noop.descriptor.learnables.isEmpty && !noop.descriptor.hasBackward && !noop.descriptor.hasInitLearnables)
    }

    @Test func aQuantizerWithALossOnlyShapeRuleIsRefusedAtLoad() throws {
        let text = try loadError("learn_bad_rule")
        #expect(text.contains("learn_bad_rule/q: learnable 'v' has shape rule vector; a quantizer may use scalar, per-channel, per-group"), "\(text)")
    }

    @Test func aSizeParameterMustBeAnInteger() throws {
        let text = try loadError("learn_float_size")
        #expect(text.contains("learn_float_size/q: learnable 'v': size_param 'dim' is a f32 hyperparameter; expected i32 or i64"), "\(text)")
    }

    @Test func declarationRulesOfLearnablesAndEntries() throws {
        let size = ParamSpec(name: "g", type: .i32, defaultValue: 32, minValue: 1, maxValue: 256)
        func error(_ kind: MethodKind, _ learnables: [LearnableDescriptor], backward: Bool = true, initializer: Bool = true,
                   params: [ParamSpec] = []) -> String {
            let m = MethodDescriptor(id: "m", title: "M", kind: kind, flags: [],
                                     granularity: kind == .criterion ? .element : .none,
                                     lossCategory: kind == .loss ? .response : .none, params: params,
                                     learnables: learnables, hasBackward: backward, hasInitLearnables: initializer)
            return message { try m.validate(plugin: "p") }
        }
        let s = LearnableDescriptor(name: "s", rule: .scalar)
        #expect(error(.quantizer, [s]) == "no error")
        #expect(error(.quantizer, [s], backward: false).contains("p/m: a quantizer with learnables must set backward"))
        #expect(error(.quantizer, [s], initializer: false).contains("p/m: declares 1 learnable(s) but no init_learnables"))
        #expect(error(.quantizer, [], initializer: true).contains("p/m: sets init_learnables but declares no learnables"))
        #expect(error(.quantizer, [s, s]).contains("p/m: learnable 's' is declared twice"))
        #expect(error(.quantizer, [LearnableDescriptor(name: "S", rule: .scalar)]).contains("learnable name 'S' is not [a-z][a-z0-9_]*"))
        #expect(error(.quantizer, [LearnableDescriptor(name: "w", rule: .perGroup)], params: [size])
            .contains("learnable 'w' has shape rule per-group, which needs size_param"))
        #expect(error(.quantizer, [LearnableDescriptor(name: "w", rule: .perGroup, sizeParam: "h")], params: [size])
            .contains("size_param 'h' is not a hyperparameter of the method"))
        #expect(error(.quantizer, [LearnableDescriptor(name: "w", rule: .perGroup, sizeParam: "g")], params: [size]) == "no error")
        #expect(error(.quantizer, [LearnableDescriptor(name: "w", rule: .scalar, sizeParam: "g")], params: [size])
            .contains("takes no size_param"))
        #expect(error(.criterion, [s]).contains("p/m: a criterion declares no learnables, init_learnables or backward"))
        #expect(error(.criterion, [], backward: true, initializer: false).contains("a criterion declares no learnables"))
        #expect(error(.loss, [s], backward: true).contains("backward applies to quantizers only"))
        #expect(error(.loss, [LearnableDescriptor(name: "p", rule: .studentProjection, sizeParam: "g")], backward: false, params: [size]) == "no error")
        let nine = (0..<9).map { LearnableDescriptor(name: "l\($0)", rule: .scalar) }
        #expect(error(.quantizer, nine).contains("declares 9 learnables; at most 8"))
    }

    @Test func manifestsCarryLearnablesAndBackwardSoTheLibraryCheckHolds() throws {
        let library = try PluginLibrary.load(path: try Fixtures.library("learn_scale"))
        let manifest = Manifest(file: "/tmp/learn_scale.toml", plugin: library.descriptor, library: "x.so", sha256: nil, firstParty: false)
        let text = manifest.text()
        #expect(text.contains("backward = true"))
        #expect(text.contains("[[methods.learnables]]\nname = \"a\"\nrule = \"per-channel\""))
        let parsed = try Manifest.parse(text, file: "/tmp/learn_scale.toml")
        #expect(parsed.plugin == library.descriptor)
        let bank = try PluginLibrary.load(path: try Fixtures.library("learn_bank")).descriptor
        #expect(try Manifest.parse(Manifest(file: "/tmp/b.toml", plugin: bank, library: "b.so", sha256: nil, firstParty: false).text(), file: "/tmp/b.toml").plugin == bank)
        let wrongRule = text.replacingOccurrences(of: "rule = \"per-channel\"", with: "rule = \"diagonal\"")
        #expect(message { _ = try Manifest.parse(wrongRule, file: "/tmp/m.toml") }
            .contains("/tmp/m.toml: key 'methods[1].learnables[0].rule' = \"diagonal\"; expected scalar, per-channel"))
    }

    @Test func aManifestWhoseLearnablesDifferFromTheLibraryIsRefused() throws {
        let path = try Fixtures.library("learn_scale")
        let described = try PluginLibrary.load(path: path).descriptor
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-registry-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var manifest = Manifest(file: folder.appendingPathComponent("learn_scale.toml").path, plugin: described,
                                library: path, sha256: try SHA256.hex(fileAt: path), firstParty: false)
        try manifest.write()
        #expect(try Registry.load(try Manifest.read(manifest.file)).descriptor == described)
        manifest.plugin.methods[0].learnables[0].rule = .perChannel
        try manifest.write()
        let text = message { _ = try Registry.load(try Manifest.read(manifest.file)) }
        #expect(text.contains("differs from \(manifest.file) (learnables of 'lsq': s: scalar vs s: per-channel)"), "\(text)")
        manifest.plugin = described
        manifest.plugin.methods[1].hasBackward = false
        manifest.plugin.methods[1].learnables = []
        manifest.plugin.methods[1].hasInitLearnables = false
        try manifest.write()
        let second = message { _ = try Registry.load(try Manifest.read(manifest.file)) }
        #expect(second.contains("(learnables of 'gain': a: per-channel vs none)"), "\(second)")
    }

    // MARK: Instances

    @Test func aLearnedStepQuantizerInitializesQuantizesAndBackpropagates() throws {
        let lsq = try method("learn_scale", "lsq")
        let values: [Float] = [0.3, -1.2, 2.5, 0.05, -0.4, 0.9, -20.0, 1.1]
        let x = try Tensor(values, shape: [2, 4])
        let instance = MethodInstance(method: lsq, params: try lsq.bind(["bits": .int(3)]))
        #expect(!instance.isInitialized && instance.learnables.isEmpty && instance.learnableNames == ["s"])
        let context = CallContext(layer: "fc1", role: .weight, axis: 0)
        try instance.initialize(input: x, context: context)
        let qp = 3.0, qn = 4.0
        let s = Float(2 * (values.map { Double(abs($0)) }.reduce(0, +) / 8) / qp.squareRoot())
        #expect(instance.isInitialized && instance.learnables[0].shape == [1] && instance.learnables[0].requiresGrad)
        #expect(try instance.learnables[0].scalars(as: Float.self) == [s])
        let (output, q) = try instance.quantize(x, context: context)
        let expected = values.map { min(max(($0 / s).rounded(.toNearestOrEven), Float(-qn)), Float(qp)) * s }
        #expect(try output.scalars(as: Float.self) == expected)
        #expect(q.scales == [s] && q.bits == 3 && q.qmin == -4 && q.qmax == 3)
        let g: [Float] = [1, -2, 0.5, 3, -1, 2, 1, -0.5]
        let (dx, grads) = try instance.backward(input: x, gradOutput: try Tensor(g, shape: [2, 4]), context: context)
        var ds = 0.0
        var expectedDx: [Float] = []
        for (v, gi) in zip(values.map { Double($0) / Double(s) }, g) {
            if v <= -qn { ds += Double(gi) * -qn; expectedDx.append(0) }
            else if v >= qp { ds += Double(gi) * qp; expectedDx.append(0) }
            else { ds += Double(gi) * (v.rounded(.toNearestOrEven) - v); expectedDx.append(gi) }
        }
        #expect(try dx.scalars(as: Float.self) == expectedDx)
        #expect(dx.shape == [2, 4] && grads.count == 1 && grads[0].shape == [1])
        let got = try grads[0].scalars(as: Float.self)[0]
        #expect(abs(Double(got) - ds / (8 * qp).squareRoot()) <= 1e-6 * abs(ds))
    }

    @Test func perChannelLearnablesFollowTheContextAxis() throws {
        let gain = try method("learn_scale", "gain")
        let x = try Tensor.randn([3, 5, 2])
        let byRows = MethodInstance(method: gain, params: try gain.bind())
        try byRows.initialize(input: x, context: CallContext(axis: 0))
        #expect(byRows.learnables[0].shape == [3])
        let byColumns = MethodInstance(method: gain, params: try gain.bind())
        _ = try byColumns.quantize(x, context: CallContext(role: .activation, axis: 1))  // the first call initializes
        #expect(byColumns.learnables[0].shape == [5])
        let perTensor = MethodInstance(method: gain, params: try gain.bind())
        try perTensor.initialize(input: x, context: CallContext())
        #expect(perTensor.learnables[0].shape == [1])
        // Learnable values reach the plugin; the gradient of a gain is sum(g x) per channel.
        try byRows.setLearnables([try Tensor([Float(2), 3, -1], shape: [3])])
        let out = try byRows.quantize(x, context: CallContext(axis: 0)).output
        let xs = try x.scalars(as: Float.self)
        #expect(try out.scalars(as: Float.self) == xs.enumerated().map { [2, 3, -1][$0.offset / 10] * $0.element })
        let g = try Tensor.ones([3, 5, 2])
        let (_, grads) = try byRows.backward(input: x, gradOutput: g, context: CallContext(axis: 0))
        let sums = (0..<3).map { c in xs[(c * 10)..<(c * 10 + 10)].reduce(Float(0), +) }
        #expect(zip(try grads[0].scalars(as: Float.self), sums).allSatisfy { abs($0 - $1) <= 1e-5 })
        // One instance serves tensors of one shape.
        let text = message { _ = try byRows.quantize(try Tensor.randn([4, 5, 2]), context: CallContext(axis: 0)) }
        #expect(text.contains("learn_scale/gain: learnable 'a' has shape [3], but its rule gives [4]"), "\(text)")
        let axis = message { _ = try MethodInstance(method: gain, params: try gain.bind()).quantize(x, context: CallContext(axis: 3)) }
        #expect(axis.contains("call context axis 3 is not a dimension of the 3-d input"), "\(axis)")
    }

    @Test func aMethodWithLearnablesIsCalledThroughAnInstance() throws {
        let lsq = try method("learn_scale", "lsq")
        let text = message { _ = try lsq.quantize(try Tensor.randn([4]), params: try lsq.bind()) }
        #expect(text.contains("learn_scale/lsq declares learnables (s): call it through a MethodInstance"), "\(text)")
        let noop = try method("noop", "identity")
        let plain = MethodInstance(method: noop, params: try noop.bind())
        let text2 = message { _ = try plain.backward(input: try Tensor.randn([2]), gradOutput: try Tensor.randn([2]), context: CallContext()) }
        #expect(text2.contains("noop/identity has no backward"), "\(text2)")
    }

    @Test func setLearnablesChecksShapesAndKeepsTheTensors() throws {
        let gain = try method("learn_scale", "gain")
        let instance = MethodInstance(method: gain, params: try gain.bind())
        try instance.initialize(input: try Tensor.randn([2, 3]), context: CallContext(axis: 0))
        let tensor = instance.learnables[0]
        try instance.setLearnables([try Tensor([Float(4), 5], shape: [2])])
        #expect(instance.learnables[0] === tensor)
        #expect(try tensor.scalars(as: Float.self) == [4, 5])
        #expect(message { try instance.setLearnables([try Tensor([Float(1), 2, 3], shape: [3])]) }
            .contains("learnable 'a' has shape [2]; the value given has [3]"))
        #expect(message { try instance.setLearnables([]) }.contains("0 learnable values for 1 declared (a)"))
        #expect(message { try instance.setLearnables([try Tensor([Float.nan, 1], shape: [2])]) }.contains("the value of learnable 'a' is not finite"))
        // Restored from another instance's learnables (which require gradients), a fresh
        // instance's learnables are leaves of their own: gradients reach them.
        let fresh = MethodInstance(method: gain, params: try gain.bind())
        try fresh.setLearnables(instance.learnables)
        let leaf = fresh.learnables[0]
        #expect(leaf !== tensor && leaf.requiresGrad)
        try (try leaf * 3).sum().backward()
        #expect(try leaf.grad?.scalars(as: Float.self) == [3, 3])
        #expect(tensor.grad == nil)
    }

    // MARK: Faults

    @Test func aNaNGradientForALearnableFailsNamingIt() throws {
        let m = try method("learn_faults", "nan_grad")
        let instance = MethodInstance(method: m, params: try m.bind())
        let x = try Tensor.randn([4, 8])
        let text = message { _ = try instance.backward(input: x, gradOutput: try Tensor.ones([4, 8]), context: CallContext()) }
        #expect(text.contains("learn_faults/nan_grad backward returned a non-finite gradient for learnable 's' (NaN or infinity in 1 of 1 elements)"), "\(text)")
    }

    @Test func anUnwrittenInputGradientFails() throws {
        let m = try method("learn_faults", "unwritten")
        let instance = MethodInstance(method: m, params: try m.bind())
        let text = message { _ = try instance.backward(input: try Tensor.randn([4, 8]), gradOutput: try Tensor.ones([4, 8]), context: CallContext()) }
        #expect(text.contains("learn_faults/unwritten backward left 32 of 32 elements of its output 'input gradient' unwritten"), "\(text)")
        let shape = message { _ = try instance.backward(input: try Tensor.randn([4, 8]), gradOutput: try Tensor.ones([8, 4]), context: CallContext()) }
        #expect(shape.contains("learn_faults/unwritten backward: the output gradient has shape [8, 4]; expected the input's [4, 8]"), "\(shape)")
    }

    @Test func aStateRequestOverTheLimitFailsTheCallNamingTheBytes() throws {
        let m = try method("learn_faults", "huge_state")
        let instance = MethodInstance(method: m, params: try m.bind())
        let text = message { _ = try instance.quantize(try Tensor.randn([4]), context: CallContext()) }
        #expect(text.contains("learn_faults/huge_state: the host refused its state request: host->state: requested 1073741825 bytes; a state buffer holds 1 to 1073741824 bytes"), "\(text)")
        #expect(instance.stateBytes == nil)
    }

    @Test func theStateSizeIsFixedByTheFirstRequest() throws {
        let m = try method("learn_faults", "resize")
        let instance = MethodInstance(method: m, params: try m.bind())
        _ = try instance.quantize(try Tensor.randn([4]), context: CallContext())
        let size = try #require(instance.stateBytes).count
        let text = message { _ = try instance.quantize(try Tensor.randn([4]), context: CallContext()) }
        #expect(text.contains("learn_faults/resize: the host refused its state request: host->state: requested \(size + 64) bytes, but the instance's state buffer was fixed at \(size) bytes"), "\(text)")
    }

    // MARK: Losses, state and context

    /// The bank's state: calls, step, total steps, epoch, total epochs, sample index sum, dataset size, layer/role/axis code.
    func state(_ instance: MethodInstance) throws -> [Int64] {
        let bytes = try #require(instance.stateBytes)
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
    }

    @Test func aLossKeepsStateAcrossCallsAndSeesTheCallContext() throws {
        let m = try method("learn_bank", "offset")
        let instance = MethodInstance(method: m, params: try m.bind(["dim": .int(3)]))
        let student = try Tensor.randn([2, 5]), teacher = try Tensor.randn([2, 5])
        let labels = try Tensor([Int64(0), 1], shape: [2])
        let context = CallContext(layer: "logits", role: .logits, axis: 1, step: 7, totalSteps: 100, epoch: 2, totalEpochs: 10,
                                  sampleIndices: [11, 30], datasetSize: 60)
        let first = try instance.loss(student: student, teacher: teacher, labels: labels, context: context)
        #expect(instance.learnables[0].shape == [3] && first.learnableGrads[0].shape == [3])
        #expect(try state(instance) == [1, 7, 100, 2, 10, 41, 60, 6 * 100 + 4 * 10 + 2])
        let second = try instance.loss(student: student, teacher: teacher, labels: labels, context: CallContext())
        #expect(try state(instance) == [2, -1, 0, -1, 0, -1, 0, 0])
        // The loss is weighted 1 / (1 + earlier calls): the state persisted.
        #expect(abs(second.loss - first.loss / 2) <= 1e-12 * abs(first.loss))
        // The learnable gradient is -2 w sum r / (B D) over the elements j mod 3 = k.
        let s = try student.scalars(as: Float.self), t = try teacher.scalars(as: Float.self)
        let v = try instance.learnables[0].scalars(as: Float.self)
        var expected = [Double](repeating: 0, count: 3)
        for b in 0..<2 {
            for j in 0..<5 {
                let r = Double(s[b * 5 + j]) - Double(t[b * 5 + j]) - Double(v[j % 3])
                expected[j % 3] -= 2 * r / 10
            }
        }
        #expect(zip(try first.learnableGrads[0].scalars(as: Float.self), expected).allSatisfy { abs(Double($0) - $1) <= 1e-5 })
    }

    @Test func stateAndLearnablesRestoreIntoAFreshInstance() throws {
        let m = try method("learn_bank", "offset")
        let params = try m.bind()
        let original = MethodInstance(method: m, params: params)
        let student = try Tensor.randn([3, 4]), teacher = try Tensor.randn([3, 4])
        let labels = try Tensor([Int64](repeating: 0, count: 3), shape: [3])
        _ = try original.loss(student: student, teacher: teacher, labels: labels, context: CallContext())
        let saved = try #require(original.stateBytes)
        #expect(saved.count == 64)
        let restored = MethodInstance(method: m, params: params)
        try restored.setLearnables(original.learnables)
        try restored.setState(saved)
        let a = try original.loss(student: student, teacher: teacher, labels: labels, context: CallContext())
        let b = try restored.loss(student: student, teacher: teacher, labels: labels, context: CallContext())
        #expect(a.loss == b.loss && restored.stateBytes == original.stateBytes)
        #expect(message { try restored.setState([1, 2, 3]) }.contains("learn_bank/offset: the saved state has 3 bytes; this instance's state buffer has 64"))
    }

    @Test func sampleIndicesAreChecked() throws {
        let m = try method("learn_bank", "offset")
        let instance = MethodInstance(method: m, params: try m.bind())
        let s = try Tensor.randn([2, 4]), labels = try Tensor([Int64(0), 1], shape: [2])
        #expect(message { _ = try instance.loss(student: s, teacher: s, labels: labels, context: CallContext(sampleIndices: [1], datasetSize: 5)) }
            .contains("learn_bank/offset: 1 sample indices for a batch of 2"))
        #expect(message { _ = try instance.loss(student: s, teacher: s, labels: labels, context: CallContext(sampleIndices: [1, 5], datasetSize: 5)) }
            .contains("sample indices must lie in [0, dataset size 5)"))
        #expect(!instance.isInitialized, "a refused call initializes nothing")
    }

    @Test func learnableShapesThatCannotBeFormedAreRefused() throws {
        let group = ParamSpec(name: "g", type: .i64, defaultValue: 32, minValue: 0, maxValue: 1e12)
        let descriptor = MethodDescriptor(
            id: "m", title: "M", kind: .quantizer, flags: [], params: [group],
            learnables: [LearnableDescriptor(name: "w", rule: .perGroup, sizeParam: "g")], hasBackward: true, hasInitLearnables: true)
        let never: lathe_function = {}
        let method = try PluginMethod(plugin: "p", descriptor: descriptor, entries: MethodEntries(function: never, initLearnables: never, backward: never))
        func shapes(_ g: Int64, _ shape: [Int]) -> String {
            message {
                let instance = MethodInstance(method: method, params: try method.bind(["g": .int(g)]))
                // An expanded scalar: the shape without the memory.
                _ = try instance.learnableShapes([try Tensor.zeros(shape.map { _ in 1 }).expanded(shape)], context: CallContext())
            }
        }
        let fits = MethodInstance(method: method, params: try method.bind(["g": .int(32)]))
        #expect(try fits.learnableShapes([try Tensor.zeros([4, 100])], context: CallContext()) == [[4, 4]])
        #expect(shapes(0, [4, 100]).contains("p/m: learnable 'w' (per-group): size_param 'g' = 0; expected 1...67108864"))
        #expect(shapes(1 << 39, [4, 100]).contains("size_param 'g' = 549755813888; expected 1...67108864"))
        #expect(shapes(1, [1 << 14, 1 << 13]).contains("p/m: learnable 'w' (per-group): shape [16384, 8192] makes the learnables hold more than 67108864 elements"))
        #expect(shapes(4, [0, 8]).contains("needs an input with a non-empty batch dimension"))
    }

    /// An instance reuses its output tensors only once the caller has dropped them: results the
    /// caller keeps are never written over by later calls.
    @Test func laterCallsNeverWriteOverResultsTheCallerKeeps() throws {
        let instance = MethodInstance(method: try method("learn_scale", "lsq"), params: try method("learn_scale", "lsq").bind())
        let context = CallContext()
        let x1 = try Tensor.randn([3, 5]), x2 = try Tensor.randn([3, 5]), g = try Tensor.randn([3, 5])
        let first = try instance.quantize(x1, context: context).output
        let firstValues = try first.scalars(as: Float.self)
        let firstBackward = try instance.backward(input: x1, gradOutput: g, context: context)
        let firstGrads = try ([firstBackward.gradInput] + firstBackward.learnableGrads).map { try $0.scalars(as: Float.self) }
        for _ in 0..<3 {
            let second = try instance.quantize(x2, context: context).output
            #expect(second !== first)
            _ = try instance.backward(input: x2, gradOutput: try g * 2, context: context)
        }
        #expect(try first.scalars(as: Float.self) == firstValues)
        #expect(try ([firstBackward.gradInput] + firstBackward.learnableGrads).map { try $0.scalars(as: Float.self) } == firstGrads)
        // Dropped results are reused, and hold the new call's values.
        let again = try instance.quantize(x1, context: context).output
        #expect(try again.scalars(as: Float.self) == firstValues)
    }
}
