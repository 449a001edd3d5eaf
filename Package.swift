// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "yolo-compile",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "YoloCompile", targets: ["YoloCompile"]),
        .executable(name: "yolo-compile", targets: ["yolo-compile"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Reading torch.save's zip container (central directory, stored entries, CRC checks).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // libprotobuf-c: the ONNX wire format is read and written by the C runtime, never by hand.
        .systemLibrary(
            name: "CProtobufC",
            path: "Sources/CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // The C that protoc-c generates from proto/onnx.proto (regenerate with tools/regen-proto.sh).
        .target(
            name: "COnnxProto",
            dependencies: ["CProtobufC"],
            path: "Sources/COnnxProto"
        ),
        // Inner loops that need vector code (activations, sigmoid, softmax), and OpenBLAS for the
        // interpreter's matrix products, loaded at first use (Debian's libopenblas0; blas.c says why).
        .target(name: "CKernels", path: "Sources/CKernels", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "YoloCompile",
            dependencies: [
                "COnnxProto", "CProtobufC", "CKernels",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            path: "Sources/YoloCompile"
        ),
        .executableTarget(
            name: "yolo-compile",
            dependencies: [
                "YoloCompile",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/yolo-compile"
        ),
        .testTarget(
            name: "YoloCompileTests",
            dependencies: ["YoloCompile", "CKernels"],
            path: "Tests/YoloCompileTests",
            exclude: ["Fixtures", "PassCases"]
        ),
    ]
)

// libFuzzer targets (Tests/Fuzz), only when YOLO_FUZZ is set: they need `-sanitize=fuzzer`, which
// provides their main. tools/fuzz.sh builds and runs them.
if Context.environment["YOLO_FUZZ"] != nil {
    package.targets.append(.target(name: "FuzzDriver", path: "Tests/Fuzz/FuzzDriver"))
    for name in ["FuzzConfig", "FuzzOnnx", "FuzzTorch", "FuzzSafetensors", "FuzzNpy"] {
        // gold fails to link libFuzzer's runtime with SwiftPM's renamed entry point; lld does.
        package.targets.append(.executableTarget(name: name, dependencies: ["YoloCompile", "FuzzDriver"], path: "Tests/Fuzz/\(name)",
                                                 linkerSettings: [.unsafeFlags(["-use-ld=lld"])]))
    }
}
