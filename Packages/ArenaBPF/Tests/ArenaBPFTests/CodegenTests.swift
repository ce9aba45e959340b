import ArenaBPF
import Foundation
import Testing

/// What the BPF code compiles to, checked on the instructions themselves:
/// - every publish site of bpf/ (a line marked `/* site: publish */`) is a
///   `store_release` or a fetching atomic, never a plain store, and every consume site
///   (`/* site: consume */`) a `load_acquire` or a fetching atomic, never a plain load;
///   checked in the shipped programs and in one program using every structure operation;
/// - no non-fetching add anywhere (clang 21 emits `lock +=` for a relaxed fetch-add and
///   hands back the operand instead of the old value when the value is used).
@Suite("Codegen: publish/consume sites and fetching read-modify-writes")
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

  static let bpfDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appending(path: "../../../../bpf").standardizedFileURL
  static let includeDirectory = bpfDirectory.appending(path: "include")

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

  static func temporaryFile(_ suffix: String) -> URL {
    FileManager.default.temporaryDirectory.appending(path: "ermfs-codegen-\(UUID().uuidString)\(suffix)")
  }

  /// Instructions only (no file header): equal texts mean equal code.
  static func disassemble(_ bytes: [UInt8], name: String, lineNumbers: Bool = false) throws -> String {
    let file = temporaryFile("-\(name).o")
    try Data(bytes).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let text = try run("llvm-objdump", ["-d", "--no-show-raw-insn"] + (lineNumbers ? ["-l"] : []) + [file.path])
    return text.split(separator: "\n").filter { !$0.contains("file format") }.joined(separator: "\n")
  }

  /// Non-fetching adds print as `lock *(u64 *)(r1 + 0x0) += r2`. (The non-fetching
  /// `lock |=`/`&=` of arena_atomic_or/and are intended: they return nothing.)
  static func nonFetchingAdds(in disassembly: String) -> [String] {
    disassembly.split(separator: "\n").map(String.init).filter { $0.contains("lock *(") && $0.contains("+=") }
  }

  /// The multiarch directory holding <asm/types.h>, which <linux/bpf.h> needs.
  static var multiarchIncludeDirectory: String {
    #if arch(x86_64)
      return "/usr/include/x86_64-linux-gnu"
    #else
      return "/usr/include/aarch64-linux-gnu"
    #endif
  }

  /// The build plugin's flags (Plugins/BPFObjectPlugin), DWARF kept for line numbers.
  static var pluginFlags: [String] {
    #if arch(x86_64)
      let targetArch = "x86"
    #else
      let targetArch = "arm64"
    #endif
    return [
      "-target", "bpf", "-mcpu=v4", "-O2", "-g", "-Wall", "-Werror", "-D__TARGET_ARCH_\(targetArch)",
      "-I", includeDirectory.path, "-idirafter", multiarchIncludeDirectory,
    ]
  }

  static func compile(_ input: URL, flags: [String]) throws -> [UInt8] {
    let output = temporaryFile(".o")
    defer { try? FileManager.default.removeItem(at: output) }
    _ = try run("clang", flags + ["-c", input.path, "-o", output.path])
    return [UInt8](try Data(contentsOf: output))
  }

  /// Compiles `source` for BPF as the build plugin compiles bpf/*.bpf.c; with
  /// `kernelHeaders` it may include ermfs_bpf.h (<linux/bpf.h>, libbpf's helpers).
  static func compileSnippet(_ source: String, kernelHeaders: Bool = false) throws -> [UInt8] {
    let input = temporaryFile(".c")
    try Data(source.utf8).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let flags =
      ["-target", "bpf", "-mcpu=v4", "-O2", "-g", "-I", includeDirectory.path]
      + (kernelHeaders ? ["-idirafter", multiarchIncludeDirectory] : [])
    return try compile(input, flags: flags)
  }

  // MARK: publish and consume sites

  /// A line of bpf/ marked as the point where one side hands data to the other.
  struct Site: Hashable, CustomStringConvertible {
    enum Kind: String { case publish, consume }
    var file: String
    var line: Int
    var kind: Kind
    var description: String { "\(file):\(line) (\(kind))" }
  }

  static func markedSites() throws -> [Site] {
    var sites: [Site] = []
    let sources =
      try FileManager.default.contentsOfDirectory(atPath: includeDirectory.path).map { "include/\($0)" }
      + FileManager.default.contentsOfDirectory(atPath: bpfDirectory.path).filter { $0.hasSuffix(".bpf.c") }
    for source in sources where source.hasSuffix(".h") || source.hasSuffix(".c") {
      let text = try String(contentsOf: bpfDirectory.appending(path: source), encoding: .utf8)
      for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        for kind in [Site.Kind.publish, .consume] where line.contains("/* site: \(kind.rawValue) */") {
          sites.append(Site(file: URL(fileURLWithPath: source).lastPathComponent, line: index + 1, kind: kind))
        }
      }
    }
    return sites
  }

  /// One instruction with the function and source line `llvm-objdump -d -l` gives it.
  struct Instruction {
    var function: String
    var file: String
    var line: Int
    var text: String
  }

  static func instructions(inLineNumbered disassembly: String) -> [Instruction] {
    var result: [Instruction] = []
    var function = ""
    var file = ""
    var line = 0
    for raw in disassembly.split(separator: "\n") {
      let text = String(raw)
      if let match = text.wholeMatch(of: /[0-9a-f]+ <(.+)>:/) {
        // Local labels (LBB0_12) print like functions; they stay in the function.
        if match.1.wholeMatch(of: /LBB\d+_\d+/) == nil { function = String(match.1) }
        (file, line) = ("", 0)
      } else if text.wholeMatch(of: /; .+\(\):/) != nil {
        // A new inlined-function context: what follows has no line until one is printed.
        (file, line) = ("", 0)
      } else if let match = text.wholeMatch(of: /; (.+):(\d+)/) {
        file = URL(fileURLWithPath: String(match.1)).lastPathComponent
        line = Int(match.2)!
      } else if let match = text.wholeMatch(of: /\s+[0-9a-f]+:\s+(.+)/) {
        result.append(Instruction(function: function, file: file, line: line, text: String(match.1)))
      }
    }
    return result
  }

  static func isFetchingAtomic(_ text: String) -> Bool {
    text.contains("cmpxchg") || text.contains("xchg") || text.contains("atomic_fetch_")
  }

  /// A plain (not acquire/release) load or store of memory other than the BPF stack.
  static func plainAccess(_ text: String) -> (load: Bool, store: Bool) {
    let memory = #/\*\([us](8|16|32|64) \*\)\((r\d+) [+-] 0x[0-9a-f]+\)/#
    guard let match = text.firstMatch(of: memory), match.2 != "r10", !text.hasPrefix("lock ") else {
      return (false, false)
    }
    let isStore = text.hasPrefix("*(")
    return (!isStore, isStore)
  }

  /// Checks every marked site found in `disassembly`; returns the sites it saw and the
  /// problems, one line each.
  static func checkSites(_ sites: [Site], in disassembly: String, object: String) -> (seen: Set<Site>, problems: [String]) {
    let bySite = Dictionary(grouping: instructions(inLineNumbered: disassembly)) { "\($0.file):\($0.line)" }
    var seen: Set<Site> = []
    var problems: [String] = []
    for site in sites {
      guard let found = bySite["\(site.file):\(site.line)"] else { continue }
      seen.insert(site)
      for (function, group) in Dictionary(grouping: found, by: \.function) {
        let texts = group.map(\.text)
        let where_ = "\(object) <\(function)> \(site)"
        switch site.kind {
        case .publish:
          if !texts.contains(where: { $0.hasPrefix("store_release(") || isFetchingAtomic($0) }) {
            problems.append("\(where_): no store_release or fetching atomic in \(texts)")
          }
          for text in texts where plainAccess(text).store {
            problems.append("\(where_): plain store \(text)")
          }
        case .consume:
          if !texts.contains(where: { $0.contains("load_acquire(") || isFetchingAtomic($0) }) {
            problems.append("\(where_): no load_acquire or fetching atomic in \(texts)")
          }
          for text in texts where plainAccess(text).load {
            problems.append("\(where_): plain load \(text)")
          }
        }
      }
    }
    return (seen, problems)
  }

  /// Every structure operation and the pool, each in a function of its own.
  static let everyOperation = """
    #include "arena_hashset.h"
    #include "arena_mpmc.h"
    #include "arena_msqueue.h"
    #include "arena_spsc.h"
    #include "arena_treiber.h"
    #include "arena_uring.h"
    #define EACH(s) \\
      int s##_push(arena_off_t at, arena_u64 v) { return arena_##s##_push(0, at, v); } \\
      int s##_pop(arena_off_t at, arena_u64 *v) { return arena_##s##_pop(0, at, v); }
    EACH(spsc) EACH(mpmc) EACH(msqueue) EACH(treiber) EACH(uring) EACH(hashset)
    int uring_take(arena_off_t at, arena_u64 *u, arena_u64 *a) { return arena_uring_take(0, at, u, a); }
    int uring_complete(arena_off_t at, arena_u64 u) { return arena_uring_complete(0, at, u, 1); }
    int uring_reap(arena_off_t at, arena_u64 *u, arena_s64 *r) { return arena_uring_reap(0, at, u, r); }
    int hashset_contains(arena_off_t at, arena_u64 k) { return arena_hashset_contains(0, at, k); }
    arena_off_t pool_alloc(arena_off_t at, int *status) { return arena_pool_alloc(0, at, status); }
    int pool_free(arena_off_t at, arena_off_t node) { return arena_pool_free(0, at, node); }
    void pool_park(arena_off_t at, arena_off_t node) { arena_pool_park(0, at, node); }
    """

  @Test func everyMarkedSiteIsAReleaseOrAnAcquireInEveryFunctionUsingIt() throws {
    let sites = try Self.markedSites()
    #expect(sites.count >= 30, "found only \(sites)")
    var seen: Set<Site> = []
    var problems: [String] = []

    let operations = try Self.compileSnippet(Self.everyOperation)
    let checked = Self.checkSites(sites, in: try Self.disassemble(operations, name: "ops", lineNumbers: true), object: "operations")
    seen.formUnion(checked.seen)
    problems += checked.problems

    // The shipped programs, compiled again with the plugin's flags plus DWARF: the same
    // instructions as the embedded objects (checked), now with source lines.
    for object in EmbeddedBPFObject.all {
      let source = Self.bpfDirectory.appending(path: "\(object.name).bpf.c")
      let bytes = try Self.compile(source, flags: Self.pluginFlags)
      #expect(
        try Self.disassemble(bytes, name: object.name) == Self.disassemble(object.bytes, name: object.name),
        "\(object.name): the recompiled program differs from the embedded one")
      let shipped = Self.checkSites(sites, in: try Self.disassemble(bytes, name: object.name, lineNumbers: true), object: object.name)
      seen.formUnion(shipped.seen)
      problems += shipped.problems
    }
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    let unchecked = Set(sites).subtracting(seen)
    #expect(unchecked.isEmpty, "marked sites no compiled program contains: \(unchecked)")
  }

  @Test func siteCheckRejectsARelaxedPublishAndARelaxedConsume() throws {
    // The check's own negative control: the same shapes with relaxed orderings fail.
    let relaxed = try Self.compileSnippet(
      """
      #include "arena_atomic.h"
      void publish(arena_u64 __arena *p, arena_u64 v) {
        arena_atomic_store(p, v, ARENA_RELAXED); /* site: publish */
      }
      arena_u64 consume(arena_u64 __arena *p) {
        return arena_atomic_load(p, ARENA_RELAXED); /* site: consume */
      }
      """)
    let text = try Self.disassemble(relaxed, name: "relaxed", lineNumbers: true)
    let file = Self.instructions(inLineNumbered: text).first { $0.function == "publish" }?.file ?? "?"
    let sites = [Site(file: file, line: 3, kind: .publish), Site(file: file, line: 6, kind: .consume)]
    let checked = Self.checkSites(sites, in: text, object: "relaxed")
    #expect(checked.seen == Set(sites))
    #expect(checked.problems.count == 4, "\(checked.problems)")
  }

  // MARK: fetching read-modify-writes

  @Test func embeddedObjectsHaveNoNonFetchingAdd() throws {
    #expect(!EmbeddedBPFObject.all.isEmpty)
    for object in EmbeddedBPFObject.all {
      let text = try Self.disassemble(object.bytes, name: object.name)
      #expect(Self.nonFetchingAdds(in: text).isEmpty, "\(object.name): \(Self.nonFetchingAdds(in: text))")
    }
  }

  @Test func detectorFlagsANonFetchingAdd() throws {
    // Positive control that does not depend on the compiler bug: an add whose value is
    // unused is legitimately non-fetching.
    let bytes = try Self.compileSnippet(
      """
      void f(unsigned long long *p) { __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
      """)
    #expect(Self.nonFetchingAdds(in: try Self.disassemble(bytes, name: "raw")).count == 1)
  }

  @Test func everyValueReturningWrapperFetches() throws {
    let bytes = try Self.compileSnippet(
      """
      #include "arena_atomic.h"
      arena_u64 add(arena_u64 __arena *p) { return arena_atomic_add(p, 1, ARENA_RELAXED); }
      arena_u32 sub(arena_u32 __arena *p) { return arena_atomic_sub(p, 1, ARENA_RELAXED); }
      arena_u64 inc(arena_u64 __arena *p) { return arena_atomic_inc(p, ARENA_RELAXED); }
      void count(arena_u64 __arena *p) { arena_atomic_inc(p, ARENA_RELAXED); }
      """)
    let text = try Self.disassemble(bytes, name: "wrapped")
    #expect(Self.nonFetchingAdds(in: text).isEmpty, "\(Self.nonFetchingAdds(in: text))")
    #expect(text.components(separatedBy: "atomic_fetch_add").count - 1 == 4, "\(text)")
  }
}
