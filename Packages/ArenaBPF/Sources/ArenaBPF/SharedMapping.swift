#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
import SystemPackage

/// A zero-filled `MAP_SHARED | MAP_ANONYMOUS` mapping: plain shared memory laid out
/// exactly like an arena, for user-space use of the structures without a kernel arena.
/// The mapping is released in deinit. The corresponding C function is `mmap`.
public final class SharedMapping: @unchecked Sendable {
  // @unchecked: the bytes are shared on purpose; every access goes through the
  // arena_atomic wrappers of the C headers.
  public let baseAddress: UnsafeMutableRawPointer
  public let byteCount: Int

  /// Maps `byteCount` bytes (rounded up to whole pages).
  /// - Throws: `.invalidArgument` for sizes <= 0 or >= 4 GiB (offsets are 32-bit),
  ///   `.system(.noMemory)` when the kernel refuses.
  public init(byteCount: Int) throws(ArenaError) {
    guard byteCount > 0, byteCount < (1 << 32) else { throw .invalidArgument }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let rounded = (byteCount + page - 1) / page * page
    let address = mmap(nil, rounded, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
    guard let address, address != MAP_FAILED else { throw .system(Errno(rawValue: Glibc.errno)) }
    self.baseAddress = address
    self.byteCount = rounded
  }

  deinit {
    munmap(baseAddress, byteCount)
  }
}
