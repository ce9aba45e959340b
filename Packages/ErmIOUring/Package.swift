// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmIOUring",
  products: [
    .library(name: "ErmIOUring", targets: ["ErmIOUring"]),
    .executable(name: "ermiouring-bench", targets: ["ermiouring-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    // The only code that includes liburing.h: Swift importing it directly fails on a
    // clean build (fd_set / __fds_bits clash), so Swift sees plain C types only.
    .target(
      name: "CErmIOUring",
      linkerSettings: [.linkedLibrary("uring")]
    ),
    .target(
      name: "ErmIOUring",
      dependencies: [
        "CErmIOUring",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // io_uring batches vs a pwrite() loop vs swift-system's IORing
    // (run by scripts/bench/30-ermiouring.sh, built -c release).
    .executableTarget(
      name: "ermiouring-bench",
      dependencies: [
        "ErmIOUring", "CErmIOUring",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .testTarget(
      name: "ErmIOUringTests",
      dependencies: [
        "ErmIOUring", "CErmIOUring",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
