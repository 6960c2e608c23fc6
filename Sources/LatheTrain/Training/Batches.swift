import LatheData
import LatheTensor

extension ImageDataset {
    /// The samples at `indices` as an NCHW float tensor and their target: int64 labels `[N]`
    /// (classification), int64 masks `[N, H, W]` (segmentation), or CenterNet's encoded target
    /// `[N, classes + 5, H/4, W/4]` (detection, `CenterNetCoding.encode`). Where `mirrored` (one
    /// flag per index, or empty for none) is true, the sample is flipped left to right, image and
    /// target alike: the mask's rows, and each box's left edge `x` becomes `width − x − w`.
    public func batch(_ indices: ArraySlice<Int>, mirrored: [Bool] = []) throws -> (images: Tensor, labels: Tensor) {
        guard mirrored.isEmpty || mirrored.count == indices.count else {
            throw TrainingError.dataModelMismatch("batch: \(mirrored.count) mirror flags for \(indices.count) samples (expected one per sample, or none)")
        }
        var (pixels, labels) = gather(indices)
        var targets = targets(indices)
        let flipped = mirrored.indices.filter { mirrored[$0] }
        if !flipped.isEmpty {
            Self.mirrorRows(&pixels, samples: flipped, rowsPerSample: channels * height, width: width)
            switch targets {
            case nil: break
            case var .masks(masks):
                Self.mirrorRows(&masks, samples: flipped, rowsPerSample: height, width: width)
                targets = .masks(masks)
            case var .boxes(boxes):
                for i in flipped {
                    boxes[i] = boxes[i].map { LabelledBox(label: $0.label, x: Double(width) - $0.x - $0.width, y: $0.y, width: $0.width, height: $0.height) }
                }
                targets = .boxes(boxes)
            }
        }
        let images = try Tensor(pixels, shape: [indices.count, channels, height, width])
        switch targets {
        case nil: return (images, try Tensor(labels))
        case let .masks(masks): return (images, try Tensor(masks.map(Int64.init), shape: [indices.count, height, width]))
        case let .boxes(boxes): return (images, try CenterNetCoding.encode(boxes, classes: classCount, height: height, width: width))
        }
    }

    /// Reverses every row of `width` values of the given samples (`rowsPerSample` rows each).
    private static func mirrorRows<T>(_ values: inout [T], samples: [Int], rowsPerSample: Int, width: Int) {
        for sample in samples {
            for row in 0..<rowsPerSample {
                let start = (sample * rowsPerSample + row) * width
                values[start..<(start + width)].reverse()
            }
        }
    }
}

/// Random horizontal flips (`Recipe.horizontalFlip`): which samples of a batch are mirrored,
/// each with probability ½, drawn from `(seed, epoch, sample index)` alone, so that a run, a
/// resumed run and any batch order repeat the same flips.
public enum HorizontalFlip {
    /// One flag per index in `indices`.
    public static func mirrored(_ indices: some Collection<Int>, seed: UInt64, epoch: Int) -> [Bool] {
        let epochSeed = (seed &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03)
        return indices.map { index in
            var generator = SeededGenerator(seed: epochSeed ^ (UInt64(truncatingIfNeeded: index) &* 0x8CB9_2BA7_2F3D_8DD7) ^ 0x5EED_F11B)
            return generator.next() >> 63 == 1
        }
    }
}
