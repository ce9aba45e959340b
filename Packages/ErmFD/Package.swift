// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ErmFD",
  products: [
    .library(name: "ErmFD", targets: ["ErmFD"]),
  ],
  dependencies: [
    .package(path: "../ErmCore"),
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
        .product(name: "ErmIOUring", package: "ErmIOUring"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // The second process of the fd-passing tests (client or server across a real
    // process boundary). Not a product: tests find it beside their own binary.
    .executableTarget(
      name: "ermfd-peer",
      dependencies: [
        "ErmFD", "CErmFD",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .testTarget(
      name: "ErmFDTests",
      dependencies: [
        "ErmFD", "CErmFD", "ermfd-peer",
        .product(name: "ErmCore", package: "ErmCore"),
        .product(name: "ErmIOUring", package: "ErmIOUring"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
