// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmCore",
  products: [
    .library(name: "ErmCore", targets: ["ErmCore"]),
    .executable(name: "ermcore-bench", targets: ["ermcore-bench"]),
  ],
  traits: [
    // `swift build --traits Lockless`: the lock-free backends become the default
    // (`Configuration.locking`); both stay available at run time.
    .trait(name: "Lockless", description: "Lock-free namespace and descriptor table by default (ERMFS_LOCKLESS)."),
  ],
  dependencies: [
    .package(path: "../ErmAlloc"),
    .package(path: "../ErmCompress"),
    .package(path: "../ErmLockless"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    .target(
      name: "ErmCore",
      dependencies: [
        .product(name: "ErmAlloc", package: "ErmAlloc"),
        .product(name: "ErmCompress", package: "ErmCompress"),
        .product(name: "ErmLockless", package: "ErmLockless"),
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      swiftSettings: [.define("ERMFS_LOCKLESS", .when(traits: ["Lockless"]))]
    ),
    // Design-choice benchmark (scripts/bench/25-ermcore.sh builds it -c release).
    .executableTarget(
      name: "ermcore-bench",
      dependencies: ["ErmCore", .product(name: "SystemPackage", package: "swift-system")]
    ),
    // Linux calls only the differential test (ErmFS against a tmpfs directory) makes.
    .target(name: "CErmCoreTestSupport", path: "Tests/CErmCoreTestSupport"),
    .testTarget(
      name: "ErmCoreTests",
      dependencies: [
        "ErmCore",
        "CErmCoreTestSupport",
        .product(name: "ErmAlloc", package: "ErmAlloc"),
        .product(name: "ErmCompress", package: "ErmCompress"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
