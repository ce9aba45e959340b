// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmAlloc",
  products: [
    .library(name: "ErmAlloc", targets: ["ErmAlloc"]),
    .executable(name: "ermalloc-churn", targets: ["ermalloc-churn"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    // mmap/mremap/madvise/mincore with the GNU flags Swift's Glibc module does not export.
    .target(name: "CErmAlloc"),
    .target(
      name: "ErmAlloc",
      dependencies: [
        "CErmAlloc",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // Churn benchmark (scripts/bench/10-ermalloc-churn.sh builds it with -c release).
    .executableTarget(name: "ermalloc-churn", dependencies: ["ErmAlloc", "CErmAlloc"]),
    .testTarget(
      name: "ErmAllocTests",
      dependencies: [
        "ErmAlloc", "CErmAlloc",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
