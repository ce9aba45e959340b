@testable import ArenaBPF
import Foundation
import Testing

/// Disassembly cannot tell whether the kernel accepts an instruction: the x86-64 JIT
/// refuses fetching and/or/xor on arena memory ("BPF_ATOMIC stores into R1 arena is not
/// allowed") although clang emits them happily. These tests load and run each wrapper.
@Suite("Kernel: arena atomics load and run", .serialized, .enabled(if: KernelSupport.allowed, "the kernel forbids BPF"))
struct KernelAtomicsTests {
  /// Compiles `body` into a SEC("syscall") program `run` (with the arena map), loads
  /// it, lets `prepare` write the arena, runs it once and hands the arena to `check`.
  static func runProgram(
    _ body: String, prepare: (UnsafeMutableRawPointer) -> Void, check: (UnsafeMutableRawPointer) -> Void
  ) throws {
    let source = """
      #include "ermfs_bpf.h"
      char LICENSE[] SEC("license") = "GPL";
      SEC("syscall")
      int run(void *ctx)
      {
      \tERMFS_USE_ARENA();
      \(body)
      \treturn 0;
      }
      """
    let bytes = try CodegenTests.compileSnippet(source, kernelHeaders: true)
    let set = try BPFProgramSet(bytes: bytes, name: "atomics", programs: ["run"])
    defer { set.close() }
    let (base, _) = try set.mapArena()
    prepare(base)
    #expect(try set.run("run") == 0)
    check(base)
  }

  @Test func orAndAndOnArenaWordsLoadAndApplyEveryOrdering() throws {
    try Self.runProgram(
      """
      \tarena_u64 __arena *word = ARENA_PTR(0, arena_u64, 4096);
      \tarena_u32 __arena *half = ARENA_PTR(0, arena_u32, 4104);
      \tarena_atomic_or(word, 0xf0, ARENA_RELAXED);
      \tarena_atomic_and(word, 0x3c, ARENA_SEQ_CST);
      \tarena_atomic_or(word, 0x100, ARENA_RELEASE);
      \tarena_atomic_and(word, ~0x4ull, ARENA_ACQ_REL);
      \tarena_atomic_or(half, 0x5, ARENA_ACQUIRE);
      \tarena_atomic_and(half, 0x6, ARENA_RELAXED);
      """,
      prepare: { base in
        base.storeBytes(of: 0x0f, toByteOffset: 4096, as: UInt64.self)
        base.storeBytes(of: 0x10, toByteOffset: 4104, as: UInt32.self)
      },
      check: { base in
        #expect(base.load(fromByteOffset: 4096, as: UInt64.self) == ((0x0f | 0xf0) & 0x3c | 0x100) & ~0x4)
        #expect(base.load(fromByteOffset: 4104, as: UInt32.self) == (0x10 | 0x5) & 0x6)
      })
  }

  @Test func fetchingAddExchangeAndCompareExchangeLoadAndReturnTheOldValue() throws {
    try Self.runProgram(
      """
      \tarena_u64 __arena *word = ARENA_PTR(0, arena_u64, 4096);
      \tarena_u64 __arena *out = ARENA_PTR(0, arena_u64, 4160);
      \tout[0] = arena_atomic_add(word, 5, ARENA_RELAXED);
      \tout[1] = arena_atomic_sub(word, 2, ARENA_RELEASE);
      \tout[2] = arena_atomic_exchange(word, 40, ARENA_ACQ_REL);
      \tout[3] = arena_atomic_cmpxchg(word, 40, 41, ARENA_ACQ_REL, ARENA_ACQUIRE);
      \tout[4] = arena_atomic_cmpxchg(word, 40, 99, ARENA_ACQ_REL, ARENA_ACQUIRE);
      """,
      prepare: { base in base.storeBytes(of: 10, toByteOffset: 4096, as: UInt64.self) },
      check: { base in
        let out = (0..<5).map { base.load(fromByteOffset: 4160 + 8 * $0, as: UInt64.self) }
        #expect(out == [10, 15, 13, 40, 41])
        #expect(base.load(fromByteOffset: 4096, as: UInt64.self) == 41)
      })
  }
}
