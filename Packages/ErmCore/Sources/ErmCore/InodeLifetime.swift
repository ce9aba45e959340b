import Synchronization

/// Ends inodes' lives: whoever drops an inode's last reference (`Inode.references`) frees
/// a regular file's memory here, exactly once. Shared by both namespace backends, so
/// every removal, close and `forget` ends in the same place.
///
/// Who holds a reference: the names (one for all of them, dropped when the link count
/// reaches 0), each open file description, the kernel while it holds lookups (FUSE), and
/// a call working on the inode for a moment (`truncate`, `withContents`). Taking one
/// after the last is gone is impossible (`retainIfNotZero`), which is what makes a
/// lock-free lookup racing the last unlink or close safe: it fails and looks again.
final class InodeLifetime: Sendable {
  let storage: FileStorage
  private let deaths = Atomic<Int>(0)

  init(storage: FileStorage) { self.storage = storage }

  /// Drops one reference; the last one frees the inode.
  func release(_ inode: Inode) {
    guard inode.references.release() else { return }
    if inode.isRegular { storage.release(inode) }
    deaths.add(1, ordering: .relaxed)
  }

  /// Drops an open file description's reference: the last close of a modified file that
  /// still has a name compresses it (while this reference still holds it), then the
  /// reference goes.
  func releaseOpen(_ inode: Inode) {
    let remaining = inode.openCount.subtract(1, ordering: .sequentiallyConsistent).newValue
    if remaining == 0, inode.isRegular, inode.linkCount.load(ordering: .sequentiallyConsistent) > 0 {
      storage.compress(inode)
    }
    release(inode)
  }

  /// Inodes freed so far (every type; for tests that count frees).
  var deathCount: Int { deaths.load(ordering: .relaxed) }
}
