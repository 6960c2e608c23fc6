// swift-tools-version:6.0
import PackageDescription

// libtorch location. Debian's `libtorch-dev` is the default (headers under /usr/include,
// libraries on the default search path). Point LATHE_LIBTORCH at another installation
// (the official zip, Homebrew's `pytorch`) to build against it instead: it must hold
// `include/` and `lib/`.
let libtorchRoot = Context.environment["LATHE_LIBTORCH"]
let torchIncludes: [String] = {
    guard let root = libtorchRoot else { return ["/usr/include/torch/csrc/api/include"] }
    return ["\(root)/include", "\(root)/include/torch/csrc/api/include"]
}()
let torchLinkerFlags: [String] = {
    guard let root = libtorchRoot else { return [] }
    return ["-L\(root)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(root)/lib"]
}()

let package = Package(
    name: "Lathe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lathe", targets: ["LatheCLI"]),
        .library(name: "LatheTensor", targets: ["LatheTensor"]),
        .library(name: "LatheData", targets: ["LatheData"]),
        .library(name: "LatheModels", targets: ["LatheModels"]),
        .library(name: "LatheTrain", targets: ["LatheTrain"]),
        .library(name: "LathePlugins", targets: ["LathePlugins"]),
        .library(name: "LatheONNX", targets: ["LatheONNX"]),
        .library(name: "LatheDetection", targets: ["LatheDetection"]),
        // First-party compression plugins: shared libraries built from Plugins/ against the SDK
        // header only (the Rust one is built by scripts/build-plugins.sh with rustc).
        .library(name: "LatheUniform", type: .dynamic, targets: ["UniformQuantizerPlugin"]),
        .library(name: "LatheKD", type: .dynamic, targets: ["KDLossPlugin"]),
        .library(name: "LatheDistillLosses", type: .dynamic, targets: ["DistillLossPlugin"]),
        .library(name: "LatheLowBit", type: .dynamic, targets: ["LowBitQuantizerPlugin"]),
        .library(name: "LatheLearnable", type: .dynamic, targets: ["LearnableQuantizerPlugin"]),
        .library(name: "LatheFormats", type: .dynamic, targets: ["FormatsQuantizerPlugin"]),
        .library(name: "LatheCalib", type: .dynamic, targets: ["CalibPlugin"]),
        .library(name: "LatheLowRank", type: .dynamic, targets: ["LowRankPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // ONNX's protobuf messages (LatheONNX). scripts/gen-onnx-proto.sh builds protoc-gen-swift of
        // this version; change both together.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // MARK: Engine
        .target(
            name: "CTorch",
            cxxSettings: [
                .unsafeFlags(torchIncludes.flatMap { ["-isystem", $0] } + ["-O2", "-std=c++17"]),
            ],
            linkerSettings: [
                .linkedLibrary("torch_cpu"),
                .linkedLibrary("c10"),
                .unsafeFlags(torchLinkerFlags),
            ]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CFFI", path: "Sources/CFFI"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // fork/exec of child processes (process group, parent-death signal before exec).
        .target(name: "CProcess"),
        // Whole-file writes that never leave a partial file (atomicWrite); no dependencies, so
        // every module that writes files can use it.
        .target(name: "LatheIO"),
        // The plugin SDK: one C header (plus DLPack's). LatheTensor uses its DLTensor too, so the
        // DLPack types come from exactly one Clang module.
        .target(name: "CLathePlugin", exclude: ["rust", "README.md"]),
        .target(name: "LatheTensor", dependencies: ["CTorch", "CLathePlugin"]),

        // MARK: Data -> models -> training
        .target(name: "LatheData", dependencies: ["CZlib", "LatheIO"]),
        // Detection and segmentation data (fmnist-detect / fmnist-seg, COCO JSON, VOC PNG masks)
        // and their metrics (COCO mAP, mIoU): plain Swift, no tensors, so any layer can use them.
        .target(name: "LatheDetection", dependencies: ["LatheData", "LatheIO", "CZlib"]),
        .target(name: "LatheModels", dependencies: ["LatheTensor"]),
        .target(name: "LatheTrain", dependencies: ["LatheTensor", "LatheData", "LatheModels", "LatheIO", "LatheDetection"]),

        // MARK: Plugins: loader, registry, libffi calls, conformance checks
        .target(
            name: "LathePlugins",
            dependencies: [
                "CLathePlugin", "CFFI", "CProcess", "LatheTensor", "LatheIO",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            // The SDK's files (symlinks to Sources/CLathePlugin), compiled into the binary so that
            // `lathe plugins sdk` and `lathe plugins new` work without the source tree.
            resources: [.embedInCode("SDK/lathe_plugin.h"), .embedInCode("SDK/lathe_plugin.rs"), .embedInCode("SDK/README.md")]
        ),

        // MARK: Method workflows in the host: quantization, pruning, distillation
                // Calibration statistics of layer inputs (abs-max, mean square, Gram) for plugins [ABI 1.2].
        .target(name: "LatheCalibration", dependencies: ["LatheTrain", "LathePlugins"]),
        .target(name: "LatheQuant", dependencies: ["LatheTrain", "LathePlugins", "LatheCalibration"]),
        .target(name: "LathePruning", dependencies: ["LatheTrain", "LathePlugins", "LatheCalibration", "LatheIO"]),
        // Layer solvers (GPTQ, SparseGPT) applied layer by layer through the network [ABI 1.2].
        .target(name: "LatheSolve", dependencies: ["LatheTrain", "LathePlugins", "LatheCalibration", "LatheIO", "LatheQuant"]),
        // Channel scaling (SmoothQuant, AWQ) folded into the graph [ABI 1.3].
        .target(name: "LatheScale", dependencies: ["LatheTrain", "LathePlugins", "LatheCalibration", "LatheIO", "LatheSolve"]),
        // Low-rank factorization (SVD, ASVD), the fourth method family [ABI 1.3].
        .target(name: "LatheFactorize", dependencies: ["LatheTrain", "LathePlugins", "LatheCalibration", "LatheIO"]),
        .target(name: "LatheDistill", dependencies: ["LatheTrain", "LathePlugins", "LatheIO"]),

        // MARK: Sweeps: results database, trial execution, reports
        .target(name: "LatheResults", dependencies: ["CSQLite"]),
        .target(name: "LatheReport", dependencies: ["LatheResults", "LatheIO"]),
        .target(
            name: "LatheSweep",
            dependencies: [
                "LatheResults", "LatheQuant", "LathePruning", "LatheDistill", "LatheSolve", "LatheScale", "LatheFactorize", "LatheIO", "LatheONNX",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // MARK: First-party compression plugins (Plugins/, not SwiftPM package plugins)
        .target(name: "LathePluginSupport", dependencies: ["CLathePlugin"], path: "Plugins/c-support"),
        .target(name: "UniformQuantizerPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-uniform", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "KDLossPlugin", dependencies: ["CLathePlugin"], path: "Plugins/swift-kd"),
        .target(name: "LowBitQuantizerPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-lowbit", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "LearnableQuantizerPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-learnable", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "FormatsQuantizerPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-formats", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "CalibPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-calib", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "LowRankPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-lowrank", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "DistillLossPlugin", dependencies: ["CLathePlugin", "LathePluginSupport"], path: "Plugins/c-distill", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])]),

        // MARK: ONNX: the schema's messages (Generated/onnx.pb.swift, committed; made from Proto/onnx.proto
        // by scripts/gen-onnx-proto.sh) and model-file reading and writing.
        .target(
            name: "LatheONNX",
            dependencies: ["LatheIO", "LatheModels", "LatheTensor", "LatheTrain", "LatheQuant", "LathePlugins", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto"]
        ),

        // MARK: Host executable
        .executableTarget(
            name: "LatheCLI",
            dependencies: [
                "LatheTrain", "LathePlugins", "LatheQuant", "LathePruning", "LatheDistill", "LatheSolve", "LatheScale", "LatheFactorize", "LatheSweep", "LatheReport", "LatheIO", "LatheONNX", "LatheDetection",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .target(name: "LatheTestSupport", path: "Tests/LatheTestSupport"),
        .testTarget(name: "LatheIOTests", dependencies: ["LatheIO"]),
        .testTarget(name: "LatheTensorTests", dependencies: ["LatheTensor"]),
        .testTarget(name: "LatheDataTests", dependencies: ["LatheData", "LatheTestSupport"]),
        .testTarget(name: "LatheDetectionTests", dependencies: ["LatheDetection", "LatheData", "LatheIO", "LatheTestSupport"]),
        .testTarget(name: "LatheModelsTests", dependencies: ["LatheModels", "LatheTestSupport"]),
        .testTarget(name: "LatheTrainTests", dependencies: ["LatheTrain", "LatheData", "LatheDetection", "LatheTestSupport"]),
        .testTarget(name: "LathePluginsTests", dependencies: ["LathePlugins", "LatheTestSupport"]),
        .testTarget(name: "LatheQuantTests", dependencies: ["LatheQuant", "LatheTestSupport"]),
        .testTarget(name: "LatheCalibrationTests", dependencies: ["LatheCalibration", "LatheSolve", "LatheScale", "LatheFactorize", "LathePruning", "LatheTestSupport"]),
        .testTarget(name: "LathePruningTests", dependencies: ["LathePruning", "LatheCalibration", "LatheTestSupport"]),
        .testTarget(name: "LatheDistillTests", dependencies: ["LatheDistill", "LatheTestSupport"]),
        .testTarget(name: "LatheReportTests", dependencies: ["LatheReport", "LatheTestSupport"]),
        .testTarget(name: "LatheSweepTests", dependencies: ["LatheSweep", "LatheSolve", "LatheTestSupport"]),
        .testTarget(name: "LatheONNXTests", dependencies: ["LatheONNX", "LatheModels", "LatheTensor", "LathePruning", "LatheTrain", "LatheData", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "LatheCLITests", dependencies: ["LatheCLI", "LatheTestSupport"]),
    ],
    cxxLanguageStandard: .cxx17
)
