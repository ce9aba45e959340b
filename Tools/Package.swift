// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Tools",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ermfs-tool", targets: ["ermfs-tool"]),
    ],
    traits: [
        // `swift build --traits Lockless`: ErmCore's lock-free backends by default (forwarded).
        .trait(name: "Lockless", description: "ErmCore's lock-free backends by default (ERMFS_LOCKLESS)."),
    ],
    dependencies: [
        .package(path: "../Packages/ErmCore", traits: [.trait(name: "Lockless", condition: .when(traits: ["Lockless"]))]),
        .package(path: "../Packages/ErmCompress"),
        .package(path: "../Packages/ErmFD", traits: [.trait(name: "Lockless", condition: .when(traits: ["Lockless"]))]),
        .package(path: "../Packages/ArenaBPF"),
        .package(path: "../Packages/ErmFUSE", traits: [.trait(name: "Lockless", condition: .when(traits: ["Lockless"]))]),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "ermfs-tool",
            dependencies: [
                .product(name: "ErmCore", package: "ErmCore"),
                .product(name: "ErmCompress", package: "ErmCompress"),
                .product(name: "ErmFD", package: "ErmFD"),
                .product(name: "ArenaBPF", package: "ArenaBPF"),
                .product(name: "ErmFUSE", package: "ErmFUSE"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ]
)
