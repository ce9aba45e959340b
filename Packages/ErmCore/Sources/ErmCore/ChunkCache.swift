import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Decompressed chunks kept per open file description: a run of consecutive chunks, so
/// reads smaller than a chunk decompress each chunk once, and a sequential reader gets
/// the next chunks decompressed ahead, in parallel on the worker pool. A reader that
/// jumps around gets one chunk at a time (a random 4 KiB read decompresses one chunk).
/// Its memory comes from `malloc` (ENOMEM when there is none, never a trap) and is
/// counted in `Accounting.cacheBytes`.
///
/// Not synchronised: a `~Copyable` value owned by its open file description's state and
/// only touched under that description's lock. `@unchecked Sendable` because it uniquely
/// owns its memory (non-copyable: no second reference can exist), so moving it to
/// another thread, as the lock does, shares nothing.
struct ChunkCache: ~Copyable, @unchecked Sendable {
  /// Chunks decompressed ahead for a sequential reader.
  static let readAheadChunks = 8

  private var storage: UnsafeMutableRawBufferPointer?
  private var firstChunk = -1
  private var chunkCount = 0
  private var generation: UInt64 = 0
  private var valid = false
  /// The last chunk a read touched: the next read is sequential if it is this one or the
  /// one after.
  private var lastChunkRead = -2
  private let accounting: Accounting

  init(accounting: Accounting) { self.accounting = accounting }

  deinit {
    if let storage {
      free(storage.baseAddress)
      accounting.adjustCache(-storage.count)
    }
  }

  func holds(chunk: Int, generation: UInt64) -> Bool {
    valid && self.generation == generation && chunk >= firstChunk && chunk < firstChunk + chunkCount
  }

  /// How many chunks to decompress when `chunk` is missing: a window after a sequential
  /// read, one chunk otherwise.
  func window(at chunk: Int) -> Int {
    chunk == lastChunkRead || chunk == lastChunkRead + 1 ? ChunkCache.readAheadChunks : 1
  }

  mutating func noteRead(_ chunk: Int) { lastChunkRead = chunk }

  /// Space for `capacity` bytes, marked invalid until `fill`.
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

  /// Marks `count` chunks from `firstChunk` as held (decompressed back to back).
  mutating func fill(firstChunk: Int, count: Int, generation: UInt64) {
    self.firstChunk = firstChunk
    chunkCount = count
    self.generation = generation
    valid = true
  }

  mutating func invalidate() { valid = false }

  /// Copies `count` bytes starting `offset` bytes into held chunk `chunk`.
  func copy(chunk: Int, chunkSize: Int, offset: Int, count: Int, into target: UnsafeMutableRawBufferPointer) {
    guard let storage else { return }
    let start = (chunk - firstChunk) * chunkSize + offset
    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[start..<(start + count)]))
  }
}
