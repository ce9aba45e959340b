// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmLockless",
  products: [
    .library(name: "ErmLockless", targets: ["ErmLockless"]),
    .executable(name: "ermlockless-bench", targets: ["ermlockless-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    .target(
      name: "ErmLockless",
      dependencies: [.product(name: "SystemPackage", package: "swift-system")]
    ),
    // Lock-free vs Mutex baseline (scripts/bench/26-ermlockless.sh builds it -c release).
    .executableTarget(
      name: "ermlockless-bench",
      dependencies: ["ErmLockless", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(
      name: "ErmLocklessTests",
      dependencies: ["ErmLockless", .product(name: "SystemPackage", package: "swift-system")]
    ),
  ],
  swiftLanguageModes: [.v6]
)
