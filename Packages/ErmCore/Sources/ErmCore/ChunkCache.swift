import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One decompressed chunk, kept per open file description so that reads smaller than a
/// chunk decompress each chunk once. Its memory comes from `malloc` (ENOMEM when there is
/// none, never a trap) and is counted in `Accounting.cacheBytes`.
///
/// Not synchronised: it is a `~Copyable` value owned by its open file description's
/// state and only ever touched under that description's lock. `@unchecked Sendable`
/// because it uniquely owns its memory (non-copyable: no second reference can exist), so
/// moving it to another thread, as the lock does, shares nothing.
struct ChunkCache: ~Copyable, @unchecked Sendable {
  private var storage: UnsafeMutableRawBufferPointer?
  private var chunk = -1
  private var generation: UInt64 = 0
  private var valid = false
  private let accounting: Accounting

  init(accounting: Accounting) { self.accounting = accounting }

  deinit {
    if let storage {
      free(storage.baseAddress)
      accounting.adjustCache(-storage.count)
    }
  }

  func holds(chunk: Int, generation: UInt64) -> Bool {
    valid && self.chunk == chunk && self.generation == generation
  }

  /// Space for one chunk of `capacity` bytes, marked invalid until `fill`.
  ///
  /// - Throws: ENOMEM when `malloc` fails.
  mutating func prepare(capacity: Int) throws(Errno) -> UnsafeMutableRawBufferPointer {
    valid = false
    if let storage, storage.count >= capacity { return storage }
    if let storage {
      free(storage.baseAddress)
      accounting.adjustCache(-storage.count)
      self.storage = nil
    }
    guard let base = malloc(capacity) else { throw .noMemory }
    let fresh = UnsafeMutableRawBufferPointer(start: base, count: capacity)
    accounting.adjustCache(capacity)
    storage = fresh
    return fresh
  }

  mutating func fill(chunk: Int, generation: UInt64) {
    self.chunk = chunk
    self.generation = generation
    valid = true
  }

  mutating func invalidate() { valid = false }

  func copy(from offset: Int, count: Int, into target: UnsafeMutableRawBufferPointer) {
    guard let storage else { return }
    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[offset..<(offset + count)]))
  }
}
