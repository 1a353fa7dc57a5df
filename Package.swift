// swift-tools-version:6.0
import PackageDescription

// Layers (bottom up): CKernels → VLTensor → VLNN → VLFiles (configs, atomic writes) → VLIO (checkpoints, configs) → VLModels → VLTraining (recipes) · VLServer (HTTP) → vlkit.
// A lower layer never imports a higher one.
let swift5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "VLKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VLTensor", targets: ["VLTensor"]),
        .library(name: "VLNN", targets: ["VLNN"]),
        .library(name: "VLFiles", targets: ["VLFiles"]),
        .library(name: "VLIO", targets: ["VLIO"]),
        .library(name: "VLTokenizers", targets: ["VLTokenizers"]),
        .library(name: "VLTemplates", targets: ["VLTemplates"]),
        .library(name: "VLImaging", targets: ["VLImaging"]),
        .library(name: "VLModels", targets: ["VLModels"]),
        .library(name: "VLTraining", targets: ["VLTraining"]),
        .library(name: "VLServer", targets: ["VLServer"]),
        .executable(name: "vlkit", targets: ["vlkit"]),
        .executable(name: "vlkit-bench", targets: ["vlkit-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Innermost micro-kernels only, with runtime CPU dispatch (see shared/notes/cpu-kernels.md).
        .target(name: "CKernels"),
        .target(name: "VLTensor", dependencies: ["CKernels"], swiftSettings: swift5),
        .target(name: "VLNN", dependencies: ["CKernels", "VLTensor"], swiftSettings: swift5),
        // config.json reading, JSON value quirks, atomic file writes: below everything that reads or writes files.
        .target(name: "VLFiles", swiftSettings: swift5),
        .target(name: "VLIO", dependencies: ["VLFiles", "VLTensor", "VLNN"], swiftSettings: swift5),
        .target(name: "VLTokenizers", swiftSettings: swift5),
        // Chat templates: the jinja subset Hugging Face templates use, bounded against hostile ones.
        .target(name: "VLTemplates", swiftSettings: swift5),
        .systemLibrary(
            name: "CLibJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .target(name: "CImageCodecs", dependencies: ["CLibJPEG", "CLibPNG"]),
        .target(name: "VLImaging", dependencies: ["VLTensor", "VLFiles", "CImageCodecs"], swiftSettings: swift5),
        .target(
            name: "VLModels",
            dependencies: ["VLTensor", "VLNN", "VLFiles", "VLIO", "VLTokenizers", "VLTemplates", "VLImaging"],
            swiftSettings: swift5),
        .target(
            name: "VLTraining",
            dependencies: [
                "VLTensor", "VLNN", "VLFiles", "VLIO", "VLTokenizers", "VLImaging", "VLModels",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swift5),
        // The OpenAI-compatible HTTP server: schema, validation, the batching scheduler, routes.
        .target(
            name: "VLServer",
            dependencies: [
                "VLTensor", "VLFiles", "VLIO", "VLModels", "VLImaging", "VLTokenizers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift5),
        .executableTarget(
            name: "vlkit",
            dependencies: [
                "VLTensor", "VLNN", "VLIO", "VLModels", "VLImaging", "VLTokenizers", "VLTraining", "VLServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swift5),
        // The benchmarks against numpy / PyTorch / llama.cpp (their Python peers are read from tools/bench/ at run time).
        .executableTarget(
            name: "vlkit-bench",
            dependencies: [
                "CKernels", "VLTensor", "VLNN", "VLIO", "VLModels", "VLImaging", "VLServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swift5),
        // What the test targets share: fixture paths, the gradient check, temporary folders.
        .target(name: "VLTestSupport", dependencies: ["VLTensor"], path: "Tests/VLTestSupport", swiftSettings: swift5),
        .testTarget(
            name: "VLTensorTests", dependencies: ["VLTestSupport", "CKernels", "VLTensor", "VLIO"],
            swiftSettings: swift5),
        .testTarget(
            name: "VLNNTests", dependencies: ["VLTestSupport", "VLTensor", "VLNN", "VLIO"], swiftSettings: swift5),
        .testTarget(name: "VLIOTests", dependencies: ["VLTestSupport", "VLTensor", "VLIO"], swiftSettings: swift5),
        .testTarget(
            name: "VLModelsTests",
            dependencies: [
                "VLTestSupport", "VLTensor", "VLNN", "VLFiles", "VLIO", "VLTokenizers", "VLTemplates", "VLImaging",
                "VLModels",
            ],
            swiftSettings: swift5),
        .testTarget(name: "VLTokenizersTests", dependencies: ["VLTokenizers"], swiftSettings: swift5),
        .testTarget(name: "VLTemplatesTests", dependencies: ["VLTestSupport", "VLTemplates"], swiftSettings: swift5),
        .testTarget(
            name: "VLTrainingTests",
            dependencies: [
                "VLTestSupport", "VLTensor", "VLNN", "VLIO", "VLTokenizers", "VLImaging", "VLModels", "VLTraining",
            ],
            swiftSettings: swift5),
        .testTarget(
            name: "VLImagingTests", dependencies: ["VLTensor", "VLFiles", "VLIO", "VLImaging"], swiftSettings: swift5),
        .testTarget(
            name: "VLServerTests",
            dependencies: [
                "VLTestSupport", "VLTensor", "VLNN", "VLIO", "VLTokenizers", "VLImaging", "VLModels", "VLTraining",
                "VLServer",
            ],
            swiftSettings: swift5),
        // Runs the built binaries; the dependencies make sure they are built first.
        .testTarget(name: "vlkitTests", dependencies: ["vlkit", "vlkit-bench"], swiftSettings: swift5),
    ]
)
