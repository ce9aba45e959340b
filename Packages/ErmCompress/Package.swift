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
    .target(name: "CErmZlib", linkerSettings: [.linkedLibrary("z")]),
    .target(
      name: "ErmCompress",
      dependencies: ["CErmZlib", .product(name: "SystemPackage", package: "swift-system")]),
    .executableTarget(name: "ermcompress-bench", dependencies: ["ErmCompress"]),
    .testTarget(name: "ErmCompressTests", dependencies: ["ErmCompress"]),
  ],
  swiftLanguageModes: [.v6]
)
