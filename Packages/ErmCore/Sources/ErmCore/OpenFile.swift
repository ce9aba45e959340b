import Synchronization
import SystemPackage

/// An open file description: what one `open` created. Descriptors point at it; it holds
/// the offset, the access mode and the chunk cache.
final class OpenFile: Sendable {
  let inode: Inode
  let canRead: Bool
  let canWrite: Bool
  let appends: Bool
  /// Held for the whole of each read/write/seek, so operations on one description are
  /// atomic with respect to each other (two threads sharing a descriptor get distinct
  /// ranges, as on Linux) and `close` waits for the ones in flight.
  let state: Mutex<OpenFileState>

  init(inode: Inode, canRead: Bool, canWrite: Bool, appends: Bool, accounting: Accounting) {
    self.inode = inode
    self.canRead = canRead
    self.canWrite = canWrite
    self.appends = appends
    state = Mutex(OpenFileState(cache: ChunkCache(accounting: accounting)))
  }
}

struct OpenFileState: ~Copyable {
  /// The file offset; for a directory, the cookie `readdir` continues after.
  var offset = 0
  var closed = false
  /// Memory only once a compressed file is read in pieces smaller than a chunk.
  var cache: ChunkCache
}
