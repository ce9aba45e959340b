import Synchronization
import SystemPackage

/// An open file description: what one `open` call created. Descriptors point at it; it
/// holds the offset, the access mode and the chunk cache.
final class OpenFile: Sendable {
  let inode: Inode
  let canRead: Bool
  let canWrite: Bool
  let appends: Bool
  /// Held for the whole of each read/write/seek, so operations on one description are
  /// atomic with respect to each other and `close` waits for the ones in flight.
  let state = Mutex(OpenFileState())

  init(inode: Inode, canRead: Bool, canWrite: Bool, appends: Bool) {
    self.inode = inode
    self.canRead = canRead
    self.canWrite = canWrite
    self.appends = appends
  }
}

struct OpenFileState {
  var offset = 0
  var closed = false
  /// Allocated on the first read of a compressed file.
  var cache: ChunkCache?
}
