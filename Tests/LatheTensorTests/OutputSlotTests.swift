import Testing
@testable import LatheTensor

@Suite("Output slots: reuse only what no one else holds")
struct OutputSlotTests {
    @Test func reusesTheTensorOnceTheCallerDropsIt() throws {
        var slot = OutputSlot()
        let first = ObjectIdentifier(try slot.tensor([2, 3]))
        let second = try slot.tensor([2, 3])
        #expect(ObjectIdentifier(second) == first)
        #expect(second.shape == [2, 3])
    }

    @Test func aHeldResultIsNeverHandedOutAgain() throws {
        var slot = OutputSlot()
        let held = try slot.tensor([4])
        try held.copy_(Tensor([1, 2, 3, 4] as [Float]))
        let next = try slot.tensor([4])
        #expect(next !== held)
        try next.copy_(Tensor([9, 9, 9, 9] as [Float]))
        #expect(try held.scalars(as: Float.self) == [1, 2, 3, 4])
    }

    /// Another libtorch handle or a view on the same storage keeps the data in use after the
    /// caller drops the Swift object that the slot made: the slot must not write over it.
    @Test func aViewOrSecondHandleOnTheStorageBlocksReuse() throws {
        for derive in [{ (t: Tensor) in try t.reshaped([4]) }, { (t: Tensor) in try t.detached() }] {
            var slot = OutputSlot()
            let other: Tensor = try {
                let t = try slot.tensor([2, 2])
                try t.copy_(Tensor([1, 2, 3, 4] as [Float], shape: [2, 2]))
                return try derive(t)
            }()
            let next = try slot.tensor([2, 2])
            try next.copy_(Tensor.zeros([2, 2]))
            #expect(try other.scalars(as: Float.self) == [1, 2, 3, 4])
        }
    }

    @Test func shapeDtypeAndGradientDecideReuse() throws {
        var slot = OutputSlot()
        let three = ObjectIdentifier(try slot.tensor([3]))
        #expect(ObjectIdentifier(try slot.tensor([4])) != three)
        let four = ObjectIdentifier(try slot.tensor([4]))
        let double = try slot.tensor([4], dtype: .float64)
        #expect(ObjectIdentifier(double) != four)
        #expect(double.dtype == .float64)
        let needsGrad: ObjectIdentifier = try {
            let t = try slot.tensor([4], dtype: .float64)
            _ = try t.requiringGrad()
            return ObjectIdentifier(t)
        }()
        let fresh = try slot.tensor([4], dtype: .float64)
        #expect(ObjectIdentifier(fresh) != needsGrad)
        #expect(!fresh.requiresGrad)
    }

    /// A tensor that libtorch's autograd keeps (a custom function's value) is not written over
    /// while the graph holds it, though the caller dropped its own reference.
    @Test func aTensorInAGraphIsNotReused() throws {
        var slot = OutputSlot()
        let x = try Tensor([1, 2] as [Float]).requiringGrad()
        let out: Tensor = try {
            let value = try slot.tensor([2])
            try value.copy_(x.detached())
            return try Tensor.custom(value: value, inputs: [x]) { g in [g] }
        }()
        let next = try slot.tensor([2])
        try next.copy_(Tensor([7, 7] as [Float]))
        #expect(try out.scalars(as: Float.self) == [1, 2])
    }
}
