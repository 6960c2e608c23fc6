import Foundation
import Testing
@testable import LatheData

@Suite("CIFAR-10 binary batches")
struct CIFAR10Tests {
    @Test func readsRecordsAsCHW() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var record = [UInt8](repeating: 0, count: 3073)
        record[0] = 7
        record[1] = 255          // channel 0, pixel 0
        record[1 + 1024] = 51    // channel 1, pixel 0
        try Data(record + record.map { _ in 3 }).write(to: URL(fileURLWithPath: dir + "/test_batch.bin"))
        let test = try CIFAR10.load(split: .test, directory: dir)
        #expect(test.count == 2)
        #expect(test.channels == 3 && test.height == 32 && test.width == 32)
        #expect(test.labels == [7, 3])
        #expect(test.images[0] == Float(1))
        #expect(test.images[1024] == Float(51) / 255)
    }

    @Test func truncatedRecordIsAnError() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/test_batch.bin"
        try Data([UInt8](repeating: 1, count: 3073 + 100)).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DataError.self) { try CIFAR10.load(split: .test, directory: dir) }
        #expect(error?.description.hasPrefix(path) == true)
    }
}

@Suite("Batching, splits, normalisation")
struct DatasetTests {
    private func toy(_ n: Int) throws -> ImageDataset {
        try ImageDataset(images: (0..<(n * 4)).map { Float($0) }, labels: (0..<n).map { Int64($0 % 3) }, channels: 1, height: 2, width: 2, classCount: 3)
    }

    @Test func batchPlanCoversEveryIndexOncePerEpoch() {
        let plan = BatchPlan(count: 103, batchSize: 10, shuffle: true, seed: 1, epoch: 0)
        let all = plan.flatMap { $0 }
        #expect(all.count == 103)
        #expect(Set(all) == Set(0..<103))
        #expect(plan.batches.count == 11)
        #expect(BatchPlan(count: 103, batchSize: 10, shuffle: true, seed: 1, epoch: 0, dropLast: true).batches.count == 10)
    }

    @Test func batchOrderDependsOnSeedAndEpochOnly() {
        let a = BatchPlan(count: 50, batchSize: 8, shuffle: true, seed: 9, epoch: 2).flatMap { $0 }
        let b = BatchPlan(count: 50, batchSize: 8, shuffle: true, seed: 9, epoch: 2).flatMap { $0 }
        let c = BatchPlan(count: 50, batchSize: 8, shuffle: true, seed: 9, epoch: 3).flatMap { $0 }
        #expect(a == b)
        #expect(a != c)
        #expect(BatchPlan(count: 5, batchSize: 2, shuffle: false, seed: 0, epoch: 0).flatMap { $0 } == [0, 1, 2, 3, 4])
    }

    @Test func splitIsDisjointSizedAndSeeded() throws {
        let data = try toy(100)
        let (train, validation) = try data.split(validationFraction: 0.2, seed: 5)
        #expect(train.count == 80 && validation.count == 20)
        let firstPixels = Set(train.images.enumerated().filter { $0.offset % 4 == 0 }.map(\.element))
        let heldPixels = Set(validation.images.enumerated().filter { $0.offset % 4 == 0 }.map(\.element))
        #expect(firstPixels.isDisjoint(with: heldPixels))
        #expect(try data.split(validationFraction: 0.2, seed: 5).validation.labels == validation.labels)
        #expect(throws: DataError.self) { try data.split(validationFraction: 1.5, seed: 5) }
    }

    @Test func normalisationGivesZeroMeanUnitStd() throws {
        let data = try toy(30)
        let (mean, std) = data.channelStatistics()
        let normalized = data.normalized(mean: mean, std: std)
        let (m2, s2) = normalized.channelStatistics()
        #expect(abs(m2[0]) < 1e-4)
        #expect(abs(s2[0] - 1) < 1e-4)
    }

    @Test func gatherCopiesTheRequestedSamples() throws {
        let (pixels, labels) = try toy(5).gather([3, 1][...])
        #expect(pixels == [12, 13, 14, 15, 4, 5, 6, 7])
        #expect(labels == [0, 1])
    }

    @Test func invalidConstructionIsRejected() {
        #expect(throws: DataError.self) { try ImageDataset(images: [0, 0], labels: [0], channels: 1, height: 2, width: 2, classCount: 2) }
        #expect(throws: DataError.self) { try ImageDataset(images: [0, 0, 0, 0], labels: [5], channels: 1, height: 2, width: 2, classCount: 2) }
    }
}
