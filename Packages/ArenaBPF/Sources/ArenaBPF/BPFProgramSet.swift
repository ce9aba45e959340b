import CLibBPF
import SystemPackage

/// One embedded BPF object loaded into the kernel with a chosen set of its programs,
/// its arena mapped at a fixed address. Closing detaches every link, unmaps the arena
/// and closes the object. Used from one thread at a time.
final class BPFProgramSet: @unchecked Sendable {
  // @unchecked: not internally synchronised; owners serialise use (FileCreationFeed
  // keeps it under a Mutex, KernelLane has a single owner).
  private var handle: OpaquePointer?
  let name: String

  /// Opens `object`, sets the arena's `map_extra` (its user address), enables only
  /// `programs`, and loads them. The corresponding C functions are
  /// `bpf_object__open_mem`, `bpf_map__set_map_extra` and `bpf_object__load`.
  convenience init(_ object: EmbeddedBPFObject, programs: [String]) throws(ArenaError) {
    try self.init(bytes: object.bytes, name: object.name, programs: programs)
  }

  /// Loads an object given as ELF bytes (tests load objects they compile themselves).
  init(bytes: [UInt8], name: String, programs: [String]) throws(ArenaError) {
    self.name = name
    var log = [CChar](repeating: 0, count: 16 * 1024)
    var out: OpaquePointer?
    let status = Self.withCStrings(programs) { names in
      bytes.withUnsafeBytes { raw in
        ermfs_bpf_object_load(
          raw.baseAddress, raw.count, name, ermfs_bpf_next_arena_address(),
          names.baseAddress, Int32(names.count), &out, &log, log.count)
      }
    }
    guard status == 0, let out else {
      throw .kernel(Errno(rawValue: -status), detail: Self.trimmed(log))
    }
    handle = out
  }

  deinit { close() }

  /// Maps the arena (MAP_SHARED | MAP_FIXED_NOREPLACE at its fixed address).
  /// The corresponding C function is `mmap`.
  func mapArena() throws(ArenaError) -> (base: UnsafeMutableRawPointer, byteCount: Int) {
    guard let handle else { throw .invalidArgument }
    var size: UInt64 = 0
    var error: Int32 = 0
    guard let base = ermfs_bpf_object_arena(handle, &size, &error) else {
      throw .system(Errno(rawValue: error))
    }
    return (base, Int(size))
  }

  /// Attaches program `program`. The corresponding C function is `bpf_program__attach`.
  func attach(_ program: String) throws(ArenaError) {
    guard let handle else { throw .invalidArgument }
    var log = [CChar](repeating: 0, count: 4096)
    let status = ermfs_bpf_object_attach(handle, program, &log, log.count)
    guard status == 0 else { throw .kernel(Errno(rawValue: -status), detail: Self.trimmed(log)) }
  }

  /// Runs a SEC("syscall") program once and returns its return value.
  /// The corresponding C function is `bpf_prog_test_run_opts`.
  func run(_ program: String) throws(ArenaError) -> Int32 {
    guard let handle else { throw .invalidArgument }
    var result: Int32 = 0
    let status = ermfs_bpf_object_run(handle, program, &result)
    guard status == 0 else { throw .kernel(Errno(rawValue: -status), detail: "running \(program)") }
    return result
  }

  /// The shim handle, for shim calls that need the loaded object.
  var rawHandle: OpaquePointer? { handle }

  func close() {
    if let handle { ermfs_bpf_object_close(handle) }
    handle = nil
  }

  static func trimmed(_ log: [CChar]) -> String {
    let text = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    // The verifier's log ends with its reason; keep the tail readable.
    let lines = text.split(separator: "\n").suffix(12)
    return lines.joined(separator: "\n")
  }

  static func withCStrings<R>(_ strings: [String], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { body($0) }
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
