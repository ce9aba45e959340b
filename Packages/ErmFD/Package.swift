// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmFD",
  products: [
    .library(name: "ErmFD", targets: ["ErmFD"]),
    // The C API (ermfs.h): ermfs_export_memfd and friends, for C callers.
    .library(name: "ErmFSC", targets: ["ErmFDC", "CErmFSAPI"]),
  ],
  traits: [
    // Forwarded to ErmCore: its lock-free backends become the default.
    .trait(name: "Lockless", description: "ErmCore's lock-free backends by default (ERMFS_LOCKLESS)."),
  ],
  dependencies: [
    .package(path: "../ErmCore", traits: [.trait(name: "Lockless", condition: .when(traits: ["Lockless"]))]),
    .package(path: "../ErmCompress"),
    .package(path: "../ErmIOUring"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
  ],
  targets: [
    // memfd, seals, fexecve, SCM_RIGHTS and SO_PEERCRED: Swift's Glibc lacks them
    // (they need _GNU_SOURCE), so a small C target exposes them as plain functions.
    .target(name: "CErmFD"),
    .target(
      name: "ErmFD",
      dependencies: [
        "CErmFD",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "ErmCompress", package: "ErmCompress"),  // the worker pool
        .product(name: "ErmIOUring", package: "ErmIOUring"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // ermfs.h and the C-only part of the C API.
    .target(name: "CErmFSAPI"),
    // The C API's Swift side: @_cdecl functions over a process-wide ErmFS.
    .target(
      name: "ErmFDC",
      dependencies: [
        "ErmFD", "CErmFSAPI",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // A C program linking the C API, run by CAPITests.
    .executableTarget(name: "ermfd-c-test", dependencies: ["ErmFDC", "CErmFSAPI"]),
    // Benchmarks (scripts/bench/35-ermfd.sh, built -c release).
    .executableTarget(
      name: "ermfd-bench",
      dependencies: [
        "ErmFD", "CErmFD",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "ErmIOUring", package: "ErmIOUring"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // setresuid for ermfd-peer (a real peer of another user); test-only.
    .target(name: "CErmFDPeer"),
    // The second process of the fd-passing tests (client or server across a real
    // process boundary). Not a product: tests find it beside their own binary.
    .executableTarget(
      name: "ermfd-peer",
      dependencies: [
        "ErmFD", "CErmFD", "CErmFDPeer",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .testTarget(
      name: "ErmFDTests",
      dependencies: [
        "ErmFD", "CErmFD", "ermfd-peer", "ermfd-c-test", "ErmFDC",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "ErmCompress", package: "ErmCompress"),  // codecs that hold a test's server
        .product(name: "ErmIOUring", package: "ErmIOUring"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
