// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmFUSE",
  products: [
    .library(name: "ErmFUSE", targets: ["ErmFUSE"]),
  ],
  traits: [
    // Forwarded to ErmCore: its lock-free backends become the default.
    .trait(name: "Lockless", description: "ErmCore's lock-free backends by default (ERMFS_LOCKLESS)."),
  ],
  dependencies: [
    .package(path: "../ErmCore", traits: [.trait(name: "Lockless", condition: .when(traits: ["Lockless"]))]),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    // The only code that includes libfuse's headers (fuse_lowlevel.h, FUSE_USE_VERSION
    // 314): Swift sees plain C types, opaque handles and a table of C function pointers.
    .target(
      name: "CErmFUSE",
      linkerSettings: [.linkedLibrary("fuse3"), .linkedLibrary("pthread")]
    ),
    .target(
      name: "ErmFUSE",
      dependencies: [
        "CErmFUSE",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // Linux calls only the tests make (copy_file_range, renameat2, setfsuid, mincore).
    .target(name: "CErmFUSETestSupport", path: "Tests/CErmFUSETestSupport"),
    .testTarget(
      name: "ErmFUSETests",
      dependencies: [
        "ErmFUSE", "CErmFUSE", "CErmFUSETestSupport",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
