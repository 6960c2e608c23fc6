import Foundation
import LatheModels

extension GraphConverter {
    /// Reshaping operators and the shape computations exporters emit around them (`Shape`,
    /// `Gather`, `Unsqueeze`, `Concat` of sizes), folded at import time with the batch symbolic.
    mutating func reshaping(_ node: Onnx_NodeProto) throws {
        let x = node.input.first ?? ""
        let out = node.output.first ?? ""
        switch node.opType {
        case "Constant":
            values[out] = try constantAttribute(node)
        case "Shape":
            let s: [Int]
            switch values[x] {
            case let .shape(entries)?: s = [entries.count]
            case let .constant(c)?: s = c.shape
            default: s = try activation(x, node)
            }
            let rank = s.count
            let start = try Self.axis(node.int("start", default: 0), rank: rank + 1, node)
            let end = min(rank, max(start, node.int("end", default: rank) < 0 ? node.int("end", default: rank) + rank : node.int("end", default: rank)))
            values[out] = .shape(s[start..<end].map { $0 == -1 ? .batch : .size($0) })
        case "Cast":
            switch values[x] {
            case let .constant(c)?:
                let to = node.int("to", default: 1)
                let float = to == Int(Onnx_TensorProto.DataType.float.rawValue) || to == Int(Onnx_TensorProto.DataType.double.rawValue)
                values[out] = .constant(float ? .float(c.doubles.map { Float($0) }, shape: c.shape) : .int(c.doubles.map { Int64($0) }, shape: c.shape))
            case let .shape(entries)?: values[out] = .shape(entries)
            default:
                guard node.int("to", default: 0) == Int(Onnx_TensorProto.DataType.float.rawValue) else {
                    throw ImportProblem("node '\(node.label)' (Cast): casting a computed tensor to type \(node.int("to", default: 0)) is not supported (float tensors only)")
                }
                emit(node, .identity, inputs: [x], shape: try activation(x, node))
            }
        case "Flatten":
            let s = try activation(x, node)
            let axis = try Self.axis(node.int("axis", default: 1), rank: s.count + 1, node)
            guard axis >= 1, s.prefix(axis).filter({ $0 == -1 }).count == 1 || !s.contains(-1), !s.dropFirst(axis).contains(-1) else {
                throw ImportProblem("node '\(node.label)' (Flatten): axis \(axis) of \(s) merges the batch dimension with others")
            }
            let lead = s.prefix(axis).filter { $0 != -1 }.reduce(1, *)
            if axis == 1 || lead == 1 {
                emit(node, axis == 1 ? .flatten(axis: 1) : .reshape(shape: [-1, s.dropFirst(axis).reduce(1, *)]), inputs: [x], shape: [-1, s.dropFirst(axis).reduce(1, *)])
            } else {
                throw ImportProblem("node '\(node.label)' (Flatten): axis \(axis) of \(s) merges the batch dimension with others")
            }
        case "Reshape":
            guard node.input.count == 2, let target = values[node.input[1]]?.shapeEntries else {
                throw ImportProblem("node '\(node.label)' (Reshape): its shape input must be a constant or computed from shapes")
            }
            if case let .shape(entries)? = values[x] {
                // A shape vector reshaped to 1-D (PyTorch does this around Expand).
                return values[out] = .shape(entries)
            }
            if case let .constant(c)? = values[x] {
                let shape = try resolve(target, input: c.shape, node)
                return values[out] = .constant(ConstantTensor(shape: shape, floats: c.floats, ints: c.ints, isFloat: c.isFloat, source: c.source))
            }
            let s = try activation(x, node)
            let shape = try resolve(target, input: s, node, allowZero: node.int("allowzero", default: 0) == 1)
            // `x.view(x.size(0), -1)`: a flatten, which keeps working when pruning shrinks the channels.
            let flattens = s.first == -1 && shape.count == 2 && shape[0] == -1
            emit(node, flattens ? .flatten(axis: 1) : .reshape(shape: shape), inputs: [x], shape: shape)
        case "Transpose":
            let s = try activation(x, node)
            let perm = node.ints("perm") ?? Array((0..<s.count).reversed())
            guard perm.sorted() == Array(0..<s.count) else { throw ImportProblem("node '\(node.label)' (Transpose): perm \(perm) is not a permutation of \(s.count) axes") }
            emit(node, .transpose(permutation: perm), inputs: [x], shape: perm.map { s[$0] })
        case "Concat":
            try concat(node)
        case "Gather":
            try gather(node)
        case "Unsqueeze", "Squeeze":
            let axes = try optionalInput(node, 1).map { try constant($0, node, "axes").integers } ?? node.ints("axes")
            switch values[x] {
            case let .shape(entries)?:
                return values[out] = .shape(entries)
            case let .constant(c)? where !c.isFloat && c.count <= 1:
                // A scalar size becomes a 1-element vector and back.
                return values[out] = .constant(.int(c.ints, shape: node.opType == "Unsqueeze" ? [c.count] : []))
            default: break
            }
            let s = try activation(x, node)
            if node.opType == "Unsqueeze" {
                guard let axes, !axes.isEmpty else { throw ImportProblem("node '\(node.label)' (Unsqueeze) has no axes") }
                let rank = s.count + axes.count
                let normalized = try axes.map { try Self.axis($0, rank: rank, node) }.sorted()
                var shape = s
                for a in normalized { shape.insert(1, at: a) }
                emit(node, .unsqueeze(axes: normalized), inputs: [x], shape: shape)
            } else {
                let normalized = try (axes ?? s.indices.filter { s[$0] == 1 }).map { try Self.axis($0, rank: s.count, node) }
                guard normalized.allSatisfy({ s[$0] == 1 }) else { throw ImportProblem("node '\(node.label)' (Squeeze): axes \(normalized) of \(s) are not all 1") }
                emit(node, .squeeze(axes: normalized), inputs: [x], shape: s.enumerated().filter { !normalized.contains($0.offset) }.map(\.element))
            }
        case "Expand":
            guard node.input.count == 2, let target = values[node.input[1]]?.shapeEntries else {
                throw ImportProblem("node '\(node.label)' (Expand): its shape input must be a constant or computed from shapes")
            }
            let (value, s) = try operand(x, node)
            let wanted = target.map { entry -> Int in if case let .size(n) = entry { return n } else { return -1 } }
            let shape = try Self.broadcast(s, wanted, node)
            emit(node, .expand(shape: shape), inputs: [value], shape: shape)
        case "Slice":
            try slice(node)
        case "ConstantOfShape", "Equal", "Where":
            values[out] = try foldShapeLogic(node)
        default:
            throw ImportProblem("node '\(node.label)': operator \(node.opType) is not supported (Lathe imports: \(Self.supportedOps.sorted().joined(separator: ", ")))")
        }
    }

    /// `ConstantOfShape`, `Equal` and `Where` on constants and shape values: what PyTorch emits
    /// for `expand(n, -1, -1)` (the sizes to keep are found by comparing with -1).
    private func foldShapeLogic(_ node: Onnx_NodeProto) throws -> ImportValue {
        func entries(_ i: Int) throws -> [ShapeEntry] {
            guard i < node.input.count, let e = values[node.input[i]]?.shapeEntries else {
                throw ImportProblem("node '\(node.label)' (\(node.opType)): Lathe folds it on constants and shape values only")
            }
            return e
        }
        switch node.opType {
        case "ConstantOfShape":
            let dims = try entries(0).map { entry -> Int in
                guard case let .size(n) = entry, n >= 0, n <= 1 << 24 else {
                    throw ImportProblem("node '\(node.label)' (ConstantOfShape): its shape depends on the batch size")
                }
                return n
            }
            var fill = ConstantTensor.float([0], shape: [])
            if let t = node.attribute("value")?.t { fill = try ConstantTensor.decode(t, what: "node '\(node.label)' value") }
            let count = dims.reduce(1, *)
            return .constant(fill.isFloat ? .float(Array(repeating: fill.floats.first ?? 0, count: count), shape: dims)
                             : .int(Array(repeating: fill.ints.first ?? 0, count: count), shape: dims))
        case "Equal":
            let (a, b) = (try entries(0), try entries(1))
            guard a.count == b.count || a.count == 1 || b.count == 1 else {
                throw ImportProblem("node '\(node.label)' (Equal): \(a.count) and \(b.count) entries")
            }
            let n = max(a.count, b.count)
            let result = try (0..<n).map { i -> Int64 in
                switch (a[a.count == 1 ? 0 : i], b[b.count == 1 ? 0 : i]) {
                case let (.size(x), .size(y)): return x == y ? 1 : 0
                case (.batch, .batch): return 1
                case let (.batch, .size(v)), let (.size(v), .batch):
                    // The batch size is positive: it never equals -1 or 0; other sizes are unknown.
                    guard v <= 0 else { throw ImportProblem("node '\(node.label)' (Equal): compares the batch size with \(v)") }
                    return 0
                }
            }
            return .constant(.int(result, shape: [n]))
        default:
            let (c, x, y) = (try entries(0), try entries(1), try entries(2))
            let n = max(c.count, x.count, y.count)
            guard [c.count, x.count, y.count].allSatisfy({ $0 == n || $0 == 1 }) else {
                throw ImportProblem("node '\(node.label)' (Where): \(c.count), \(x.count) and \(y.count) entries")
            }
            let picked = (0..<n).map { i -> ShapeEntry in
                let chosen = c[c.count == 1 ? 0 : i] != .size(0)
                return chosen ? x[x.count == 1 ? 0 : i] : y[y.count == 1 ? 0 : i]
            }
            if picked.contains(.batch) { return .shape(picked) }
            return .constant(.int(picked.map { if case let .size(v) = $0 { Int64(v) } else { 0 } }, shape: [n]))
        }
    }

    private func constantAttribute(_ node: Onnx_NodeProto) throws -> ImportValue {
        guard let a = node.attribute.first else { throw ImportProblem("node '\(node.label)' (Constant) has no value") }
        switch a.name {
        case "value":
            var c = try ConstantTensor.decode(a.t, what: "node '\(node.label)' (Constant) value")
            c.source = node.output.first
            return .constant(c)
        case "value_float": return .constant(.float([a.f], shape: []))
        case "value_floats": return .constant(.float(a.floats, shape: [a.floats.count]))
        case "value_int": return .constant(.int([a.i], shape: []))
        case "value_ints": return .constant(.int(a.ints, shape: [a.ints.count]))
        default: throw ImportProblem("node '\(node.label)' (Constant): attribute \(a.name) is not supported")
        }
    }

    private mutating func concat(_ node: Onnx_NodeProto) throws {
        let inputs = node.input
        let all = inputs.map { values[$0] }
        if all.allSatisfy({ $0?.shapeEntries != nil }), all.contains(where: { if case .shape = $0 { true } else { false } }) {
            values[node.output.first ?? ""] = .shape(all.flatMap { $0?.shapeEntries ?? [] })
            return
        }
        if all.allSatisfy({ if case .constant(let c)? = $0 { !c.isFloat && c.shape.count == 1 } else { false } }) {
            let ints: [Int64] = all.flatMap { value -> [Int64] in
                guard case let .constant(c)? = value else { return [] }
                return c.ints
            }
            values[node.output.first ?? ""] = .constant(.int(ints, shape: [ints.count]))
            return
        }
        var operands: [(String, [Int])] = []
        for name in inputs { operands.append(try operand(name, node)) }
        guard let rank = operands.first?.1.count else { throw ImportProblem("node '\(node.label)' (Concat) has no inputs") }
        let axis = try Self.axis(node.int("axis", default: 0), rank: rank, node)
        var shape = operands[0].1
        for (_, s) in operands.dropFirst() {
            guard s.count == rank, zip(s, shape).enumerated().allSatisfy({ $0.offset == axis || $0.element.0 == $0.element.1 }) else {
                throw ImportProblem("node '\(node.label)' (Concat): shapes \(operands.map(\.1)) do not join along axis \(axis)")
            }
            shape[axis] += s[axis]
        }
        guard !operands.contains(where: { $0.1[axis] == -1 }) else {
            throw ImportProblem("node '\(node.label)' (Concat): joins along the batch dimension")
        }
        emit(node, .concat(axis: axis), inputs: operands.map(\.0), shape: shape)
    }

    private mutating func gather(_ node: Onnx_NodeProto) throws {
        guard node.input.count == 2 else { throw ImportProblem("node '\(node.label)' (Gather) needs data and indices") }
        let indices = try constant(node.input[1], node, "indices")
        let out = node.output.first ?? ""
        if let entries = values[node.input[0]]?.shapeEntries, values[node.input[0]].map({ if case .activation = $0 { false } else { true } }) ?? false {
            let picked = try indices.integers.map { i -> ShapeEntry in
                let j = i < 0 ? i + entries.count : i
                guard entries.indices.contains(j) else { throw ImportProblem("node '\(node.label)' (Gather): index \(i) out of range for \(entries.count) entries") }
                return entries[j]
            }
            if picked.allSatisfy({ $0 != .batch }) {
                let ints: [Int64] = picked.map { entry -> Int64 in
                    guard case let .size(n) = entry else { return 0 }
                    return Int64(n)
                }
                values[out] = .constant(.int(ints, shape: indices.shape))
            } else {
                values[out] = .shape(picked)
            }
            return
        }
        let s = try activation(node.input[0], node)
        let axis = try Self.axis(node.int("axis", default: 0), rank: s.count, node)
        guard indices.count == 1, s[axis] != -1 else {
            throw ImportProblem("node '\(node.label)' (Gather): Lathe gathers one constant index along a non-batch axis (indices \(indices.shape), axis \(axis) of \(s))")
        }
        let i = indices.integers[0] < 0 ? indices.integers[0] + s[axis] : indices.integers[0]
        guard (0..<s[axis]).contains(i) else { throw ImportProblem("node '\(node.label)' (Gather): index \(indices.integers[0]) out of range for size \(s[axis])") }
        if indices.shape.isEmpty {
            var shape = s
            shape.remove(at: axis)
            emit(node, .select(axis: axis, index: i), inputs: [node.input[0]], shape: shape)
        } else {
            var shape = s
            shape[axis] = 1
            emit(node, .slice(axis: axis, start: i, length: 1), inputs: [node.input[0]], shape: shape)
        }
    }

    private mutating func slice(_ node: Onnx_NodeProto) throws {
        guard node.input.count >= 3 else { throw ImportProblem("node '\(node.label)' (Slice): Lathe reads starts and ends as inputs (opset ≥ 10)") }
        let starts = try constant(node.input[1], node, "starts").integers, ends = try constant(node.input[2], node, "ends").integers
        if let entries = values[node.input[0]]?.shapeEntries, starts.count == 1, ends.count == 1 {
            if case .activation? = values[node.input[0]] {} else {
                let n = entries.count
                let start = min(max(starts[0] < 0 ? starts[0] + n : starts[0], 0), n), end = min(max(ends[0] < 0 ? ends[0] + n : ends[0], 0), n)
                return values[node.output.first ?? ""] = .shape(Array(entries[start..<max(start, end)]))
            }
        }
        let s = try activation(node.input[0], node)
        let axes = try optionalInput(node, 3).map { try constant($0, node, "axes").integers } ?? Array(0..<starts.count)
        let steps = try optionalInput(node, 4).map { try constant($0, node, "steps").integers } ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.allSatisfy({ $0 == 1 }) else {
            throw ImportProblem("node '\(node.label)' (Slice): Lathe slices with step 1 (starts \(starts), ends \(ends), axes \(axes), steps \(steps))")
        }
        var current = node.input[0], shape = s
        for (k, a) in axes.enumerated() {
            let axis = try Self.axis(a, rank: s.count, node)
            let size = shape[axis]
            guard size != -1 else { throw ImportProblem("node '\(node.label)' (Slice): slices the batch dimension") }
            func clampIndex(_ v: Int) -> Int { min(max(v < 0 ? v + size : v, 0), size) }
            let start = clampIndex(starts[k]), end = clampIndex(ends[k])
            guard end > start else { throw ImportProblem("node '\(node.label)' (Slice): empty slice [\(starts[k]), \(ends[k])) of size \(size)") }
            shape[axis] = end - start
            let output = k == axes.count - 1 ? (node.output.first ?? "") : "\(node.output.first ?? "")#\(k)"
            emit(node, .slice(axis: axis, start: start, length: end - start), inputs: [current], shape: shape, output: output)
            current = output
        }
    }
}
