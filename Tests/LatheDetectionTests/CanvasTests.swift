import Foundation
import LatheData
@testable import LatheDetection
import LatheIO
import Synchronization
import Testing

/// fmnist-detect / fmnist-seg from the installed Fashion-MNIST: the rules of `CanvasConfig`,
/// no leak of test images, and the checksummed cache.
@Suite("fmnist-detect and fmnist-seg canvases", .serialized)
struct CanvasTests {
    static var small: CanvasConfig {
        var c = CanvasConfig()
        (c.trainCount, c.validationCount, c.testCount, c.seed) = (300, 60, 100, 5)
        return c
    }

    @Test func cacheVerifiesRegeneratesAndRepeats() throws {
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        var first: [CanvasSplit: CanvasSet] = [:]
        let made = try FMNISTCanvases.prepare(config: Self.small, cacheDirectory: dir) { first[$0.count == 300 ? .train : $0.count == 60 ? .val : .test] = $0 }
        let seconds = Date().timeIntervalSince(start)
        #expect(made.map(\.generated) == [true, true, true] && made.map(\.canvases) == [300, 60, 100])
        for file in made { #expect(try SHA256.hex(fileAt: file.path) == file.sha256) }
        // Cached: verified, not regenerated, and the same canvases.
        let again = try FMNISTCanvases.prepare(config: Self.small, cacheDirectory: dir)
        #expect(again.map(\.generated) == [false, false, false] && again.map(\.sha256) == made.map(\.sha256))
        #expect(try FMNISTCanvases.load(.val, config: Self.small, cacheDirectory: dir) == first[.val])
        // A corrupted file fails its checksum and is regenerated, byte for byte the same.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: made[0].path)))
        bytes[bytes.count - 100] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: made[0].path))
        let repaired = try FMNISTCanvases.prepare(config: Self.small, cacheDirectory: dir)
        #expect(repaired.map(\.generated) == [true, false, false] && repaired.map(\.sha256) == made.map(\.sha256))
        // Another seed is another folder with other canvases.
        var other = Self.small
        other.seed = 6
        #expect(FMNISTCanvases.folder(config: other, cacheDirectory: dir) != FMNISTCanvases.folder(config: Self.small, cacheDirectory: dir))
        #expect(try FMNISTCanvases.load(.val, config: other, cacheDirectory: dir).images != first[.val]?.images)
        print("canvases: 460 generated and cached in \(String(format: "%.2f", seconds)) s; sha256 train \(made[0].sha256.prefix(12)) (\(made[0].bytes) bytes)")
    }

    /// Two preparations of one configuration at once (a sweep's first trials): the lock makes
    /// one generate every split and the other verify what it wrote, never both generate.
    @Test func concurrentPreparationsGenerateOnce() throws {
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let results = Mutex<[[Bool]]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let made = (try? FMNISTCanvases.prepare(config: Self.small, cacheDirectory: dir).map(\.generated)) ?? []
            results.withLock { $0.append(made) }
        }
        let both = results.withLock { $0 }.sorted { $0.filter { $0 }.count < $1.filter { $0 }.count }
        #expect(both == [[false, false, false], [true, true, true]], "\(both)")
    }

    @Test func canvasesFollowTheRulesAndTestImagesDoNotLeak() throws {
        let dir = try Oracle.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = Self.small
        let train = try FashionMNIST.load(split: .train), test = try FashionMNIST.load(split: .test)
        let trainPool = Set(try CanvasGenerator.pool(.train, config: config, sourceCount: train.count))
        let valPool = Set(try CanvasGenerator.pool(.val, config: config, sourceCount: train.count))
        #expect(trainPool.isDisjoint(with: valPool) && trainPool.count + valPool.count == 60_000 && valPool.count == 6_000)
        for split in CanvasSplit.allCases {
            let set = try FMNISTCanvases.load(split, config: config, cacheDirectory: dir)
            let source = split == .test ? test : train
            let s = set.size, plane = s * s
            var perCanvas = [Int](repeating: 0, count: set.count)
            for o in set.objects {
                perCanvas[o.canvas] += 1
                #expect(o.category == Int(source.labels[o.source]) + 1)
                switch split {
                case .train: #expect(trainPool.contains(o.source))
                case .val: #expect(valPool.contains(o.source))
                case .test: #expect(o.source < test.count)
                }
                // Tight: every edge of the box holds a pixel of the item's class.
                let m = set.mask(o.canvas), base = m.startIndex
                func at(_ x: Int, _ y: Int) -> Bool { Int(m[base + y * s + x]) == o.category }
                #expect((o.x..<(o.x + o.width)).contains { at($0, o.y) } && (o.x..<(o.x + o.width)).contains { at($0, o.y + o.height - 1) })
                #expect((o.y..<(o.y + o.height)).contains { at(o.x, $0) } && (o.y..<(o.y + o.height)).contains { at(o.x + o.width - 1, $0) })
            }
            #expect(perCanvas.allSatisfy { (1...6).contains($0) })
            #expect(Set(perCanvas).count >= 4, "item counts vary")
            // Foreground is exactly the pixels at or above the threshold, and every labelled pixel
            // belongs to one visible item: the areas add up.
            #expect(zip(set.images, set.masks).allSatisfy { (Int($0) >= config.threshold) == ($1 != 0) })
            #expect(set.objects.reduce(0) { $0 + $1.area } == set.masks.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
            #expect(set.images.count == set.count * plane)
        }
    }
}
