// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmCompress",
  products: [
    .library(name: "ErmCompress", targets: ["ErmCompress"]),
    .executable(name: "ermcompress-bench", targets: ["ermcompress-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    // The only place that includes zlib.h; its public header has plain C types only.
    // One C shim per library; each is the only place that includes that library's headers,
    // and its public header has plain C types only.
    .target(name: "CErmZlib", linkerSettings: [.linkedLibrary("z")]),
    .target(name: "CErmISAL", linkerSettings: [.linkedLibrary("isal")]),
    .target(name: "CErmLibdeflate", linkerSettings: [.linkedLibrary("deflate")]),
    .target(
      name: "ErmCompress",
      dependencies: [
        "CErmZlib", "CErmISAL", "CErmLibdeflate",
        .product(name: "SystemPackage", package: "swift-system"),
      ]),
    .executableTarget(name: "ermcompress-bench", dependencies: ["ErmCompress"]),
    // The shims too: tests call ISA-L's raw inflate directly to show what it does not check.
    .testTarget(name: "ErmCompressTests", dependencies: ["ErmCompress", "CErmZlib", "CErmISAL", "CErmLibdeflate"]),
  ],
  swiftLanguageModes: [.v6]
)
