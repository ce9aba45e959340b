import ArenaBPF
import Foundation
import Testing

/// clang 21 miscompiles a RELAXED BPF fetch-op whose result is used into a non-fetching
/// `lock ... +=` (the old value is lost). These tests disassemble what the build
/// actually embeds and reject any non-fetching read-modify-write, and show that the
/// detector catches the raw builtin while the wrapper is safe.
@Suite("Codegen: no non-fetching BPF read-modify-write")
struct CodegenTests {
  /// The directory holding `swift`, its clang and llvm-objdump.
  static func toolchainDirectory() throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    for directory in path.split(separator: ":") {
      let candidate = URL(fileURLWithPath: String(directory)).appending(path: "swift")
      if FileManager.default.isExecutableFile(atPath: candidate.path) {
        return candidate.resolvingSymlinksInPath().deletingLastPathComponent()
      }
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "swift not on PATH"])
  }

  static let includeDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appending(path: "../../../../bpf/include").standardizedFileURL

  static func run(_ tool: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = try toolchainDirectory().appending(path: tool)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: output, as: UTF8.self)
    guard process.terminationStatus == 0 else {
      throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(tool) failed: \(text)"])
    }
    return text
  }

  static func disassemble(_ bytes: [UInt8], name: String) throws -> String {
    let file = FileManager.default.temporaryDirectory.appending(path: "ermfs-codegen-\(UUID().uuidString)-\(name).o")
    try Data(bytes).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    return try run("llvm-objdump", ["-d", "--no-show-raw-insn", file.path])
  }

  /// Non-fetching BPF atomics print as `lock *(u64 *)(r1 + 0x0) += r2` (also &=, |=, ^=).
  static func nonFetchingRMW(in disassembly: String) -> [String] {
    disassembly.split(separator: "\n").map(String.init).filter { $0.contains("lock *(") }
  }

  /// The multiarch directory holding <asm/types.h>, which <linux/bpf.h> needs.
  static var multiarchIncludeDirectory: String {
    #if arch(x86_64)
      return "/usr/include/x86_64-linux-gnu"
    #else
      return "/usr/include/aarch64-linux-gnu"
    #endif
  }

  /// Compiles `source` for BPF as the build plugin compiles bpf/*.bpf.c; with
  /// `kernelHeaders` it may include ermfs_bpf.h (<linux/bpf.h>, libbpf's helpers).
  static func compileSnippet(_ source: String, kernelHeaders: Bool = false) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory
    let stem = "ermfs-codegen-\(UUID().uuidString)"
    let input = directory.appending(path: "\(stem).c")
    let output = directory.appending(path: "\(stem).o")
    try Data(source.utf8).write(to: input)
    defer {
      try? FileManager.default.removeItem(at: input)
      try? FileManager.default.removeItem(at: output)
    }
    _ = try run(
      "clang",
      ["-target", "bpf", "-mcpu=v4", "-O2", "-g", "-I", includeDirectory.path]
        + (kernelHeaders ? ["-idirafter", multiarchIncludeDirectory] : [])
        + ["-c", input.path, "-o", output.path])
    return [UInt8](try Data(contentsOf: output))
  }

  @Test func embeddedObjectsHaveNoNonFetchingReadModifyWrite() throws {
    #expect(!EmbeddedBPFObject.all.isEmpty)
    for object in EmbeddedBPFObject.all {
      let text = try Self.disassemble(object.bytes, name: object.name)
      #expect(Self.nonFetchingRMW(in: text).isEmpty, "\(object.name): \(Self.nonFetchingRMW(in: text))")
    }
  }

  @Test func structureObjectsUseRealAcquireReleaseAndFetchingCAS() throws {
    for object in EmbeddedBPFObject.all where ["arena_lane", "file_events"].contains(object.name) {
      let text = try Self.disassemble(object.bytes, name: object.name)
      #expect(text.contains("cmpxchg_64"), "\(object.name): expected the structures' CAS")
      #expect(text.contains("load_acquire("), "\(object.name)")
      #expect(text.contains("store_release("), "\(object.name)")
    }
  }

  @Test func detectorFlagsTheRawRelaxedBuiltin() throws {
    let bytes = try Self.compileSnippet(
      """
      unsigned long long f(unsigned long long *p) { return __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
      """)
    #expect(Self.nonFetchingRMW(in: try Self.disassemble(bytes, name: "raw")).count == 1)
  }

  @Test func relaxedWrapperStillFetches() throws {
    let bytes = try Self.compileSnippet(
      """
      #include "arena_atomic.h"
      arena_u64 add(arena_u64 __arena *p) { return arena_atomic_add(p, 1, ARENA_RELAXED); }
      arena_u32 sub(arena_u32 __arena *p) { return arena_atomic_sub(p, 1, ARENA_RELAXED); }
      void count(arena_u64 __arena *p) { arena_atomic_inc(p, ARENA_RELAXED); }
      """)
    let text = try Self.disassemble(bytes, name: "wrapped")
    #expect(Self.nonFetchingRMW(in: text).isEmpty, "\(Self.nonFetchingRMW(in: text))")
    #expect(text.contains("atomic_fetch_add"))
  }
}
