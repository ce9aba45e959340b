// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ArenaBPF",
  products: [
    .library(name: "ArenaBPF", targets: ["ArenaBPF"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.0")
  ],
  targets: [
    // The bpf/include structure headers compiled for user space (symlinked, so the
    // kernel programs and the consumers build from the very same files).
    .target(name: "CArenaStructures"),
    // libbpf behind plain C types: open from memory, map_extra, load, arena mmap,
    // attach, BPF_PROG_TEST_RUN, capability probe.
    .target(name: "CLibBPF", linkerSettings: [.linkedLibrary("bpf")]),
    // Turns a compiled BPF object into a Swift source embedding its bytes.
    .executableTarget(name: "bpf-embed"),
    // Compiles ../../bpf/*.bpf.c with the toolchain's clang during `swift build`.
    .plugin(
      name: "BPFObjectPlugin",
      capability: .buildTool(),
      dependencies: ["bpf-embed"]
    ),
    .target(
      name: "ArenaBPF",
      dependencies: [
        "CArenaStructures",
        "CLibBPF",
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      plugins: ["BPFObjectPlugin"]
    ),
    // Benchmarks (scripts/bench/40-arena*.sh): creation->consumer latency against
    // inotify and a BPF ring buffer, and per-structure throughput against a mutex ring.
    .executableTarget(name: "arena-bench", dependencies: ["ArenaBPF"]),
    // Creating system calls made exactly as named (no glibc rerouting), for the tests.
    .target(name: "CArenaTestSupport", path: "Tests/CArenaTestSupport"),
    .testTarget(name: "ArenaBPFTests", dependencies: ["ArenaBPF", "CArenaStructures", "CArenaTestSupport"]),
  ]
)
