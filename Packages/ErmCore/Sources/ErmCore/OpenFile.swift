import ErmLockless
import Synchronization
import SystemPackage

/// An open file description: what one `open` created. Descriptors point at it; it holds
/// the offset, the access mode and the chunk cache. No lock, in either locking mode:
///
/// - `users` counts the descriptor table's reference plus one per call in flight. `close`
///   drops the table's; whoever drops the last (close, or the last call still running on
///   the description) finishes the close, so the inode's open reference outlives every
///   call that started before the close, and a call that starts after it gets EBADF.
/// - `offset` is claimed atomically (`AtomicFileOffset`): two threads reading or writing
///   through one descriptor get distinct, adjacent ranges, as on Linux.
/// - The chunk cache belongs to one call at a time; a call that finds it busy (another
///   thread reading through the same descriptor) uses a cache of its own for that call.
final class OpenFile: Sendable {
  let inode: Inode
  let canRead: Bool
  let canWrite: Bool
  let appends: Bool
  let users = AtomicReferenceCount(1)
  /// The file offset; for a directory, unused by `readdir` (which takes cookies).
  let offset = AtomicFileOffset()
  let cache: ChunkCacheSlot

  init(inode: Inode, canRead: Bool, canWrite: Bool, appends: Bool, accounting: Accounting) {
    self.inode = inode
    self.canRead = canRead
    self.canWrite = canWrite
    self.appends = appends
    cache = ChunkCacheSlot(accounting: accounting)
  }

  /// Starts a call on the description.
  ///
  /// - Throws: EBADF when the description has been closed meanwhile.
  func beginCall() throws(Errno) {
    guard users.retainIfNotZero() else { throw .badFileDescriptor }
  }

  /// Ends a call (or, for `close`, drops the descriptor table's reference); true when that
  /// was the last user: the caller finishes the close (`ErmFS.finishClose`).
  func endCall() -> Bool { users.release() }
}

/// One open file description's chunk cache (`ChunkCache`), lent to one call at a time,
/// made by the first read that needs one and dropped at the close.
///
/// `@unchecked Sendable`: `cache` is only touched by the call that set `busy` (acquire on
/// the set, release on the clear), so no two threads ever touch it at once. `accounting`
/// is not retained here (it is the file system's, which outlives every call); each
/// `ChunkCache` holds its own reference.
final class ChunkCacheSlot: @unchecked Sendable {
  private let busy = Atomic<Bool>(false)
  private var cache: ChunkCache?
  private unowned(unsafe) let accounting: Accounting

  init(accounting: Accounting) { self.accounting = accounting }

  /// Runs `body` with the description's cache, or with a cache of its own (freed after
  /// the call) when another call holds it.
  func withCache<R, E: Error>(_ body: (inout ChunkCache) throws(E) -> R) throws(E) -> R {
    if busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
      defer { busy.store(false, ordering: .releasing) }
      if cache == nil { cache = ChunkCache(accounting: accounting) }
      return try body(&cache!)
    }
    var own = ChunkCache(accounting: accounting)
    return try body(&own)
  }

  /// Gives the cache's memory back (the last user of a closed description).
  func drop() {
    guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
    cache = nil
    busy.store(false, ordering: .releasing)
  }
}
