import ArgumentParser
import Foundation
import LatheData
import LatheDetection
import LatheTrain

/// `lathe data`: prepares (generates or verifies) the derived data sets and exports their
/// annotations in the formats other tools read.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Generate or verify the fmnist-detect / fmnist-seg canvases and export their COCO annotations.",
        discussion: """
        The canvases are made from the installed Fashion-MNIST with a fixed seed, cached under \
        --cache (default $LATHE_CACHE/datasets, else runs/cache/datasets) with a sha256 manifest: \
        a file that does not verify is made again.
        """)

    @Argument(help: "fmnist-detect or fmnist-seg (the same canvases: boxes or masks).") var dataset: DataSource
    @Option(help: "Fashion-MNIST directory (default /usr/share/datasets/fashion-mnist).") var data: String?
    @Option(help: "Cache folder of the canvases.") var cache: String?
    @Option(help: "Canvases of the train split (default 20000; fewer: the first N, which equal the default's first N).") var limitTrain: Int?
    @Option(help: "Canvases of the val split (default 2000).") var limitVal: Int?
    @Option(help: "Canvases of the test split (default 4000).") var limitTest: Int?
    @Option(help: "Also write the test split's boxes as COCO ground-truth JSON to this file.") var cocoOut: String?

    func validate() throws {
        guard dataset == .fmnistDetect || dataset == .fmnistSeg else {
            throw ValidationError("'\(dataset.rawValue)': lathe data prepares fmnist-detect or fmnist-seg (the other data sets are read as installed)")
        }
        for (flag, value) in [("--limit-train", limitTrain), ("--limit-val", limitVal), ("--limit-test", limitTest)] {
            if let value, value < 1 { throw ValidationError("\(flag) \(value): expected at least 1") }
        }
    }

    func run() throws {
        let config = CanvasConfig.limited(train: limitTrain, val: limitVal, test: limitTest)
        let started = Date()
        var test: CanvasSet?
        let files = try FMNISTCanvases.prepare(config: config, splits: [.train, .val, .test], cacheDirectory: cache ?? FMNISTCanvases.defaultCacheDirectory,
                                               fashionMNIST: data ?? FashionMNIST.defaultDirectory) { set in test = set }
        for f in files {
            print("\(f.split.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(f.generated ? "generated" : "verified ") \(f.canvases) canvases, \(f.objects) items, \(f.bytes) bytes, sha256 \(f.sha256)  \(f.path)")
        }
        print(String(format: "%@: %.1f s", dataset.rawValue, Date().timeIntervalSince(started)))
        if let cocoOut, let test {
            try test.cocoGroundTruth().write(path: cocoOut)
            print("COCO ground truth of the test split: \(cocoOut)")
        }
    }
}
