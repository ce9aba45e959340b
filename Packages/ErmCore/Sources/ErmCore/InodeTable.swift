import Synchronization
import SystemPackage

/// Inode number -> inode, for the inodes the kernel holds lookups on (FUSE addresses
/// inodes by number). An inode is in the table while its `lookupCount` is above zero;
/// the root always is. Library use through paths never touches it.
final class InodeTable: Sendable {
  private let table: Mutex<[UInt64: Inode]>
  let root: Inode

  init(root: Inode) {
    self.root = root
    table = Mutex([root.number: root])
  }

  /// One more kernel lookup on `inode` (FUSE's entry replies).
  func remember(_ inode: Inode) {
    table.withLock { table in
      if inode.lookupCount.add(1, ordering: .sequentiallyConsistent).newValue == 1 {
        table[inode.number] = inode
      }
    }
  }

  /// `count` lookups fewer; returns the inode when that was the last (it has left the
  /// table), so the caller can free it if nothing else refers to it.
  func forget(_ number: UInt64, count: Int) -> Inode? {
    table.withLock { table -> Inode? in
      guard let inode = table[number], number != root.number else { return nil }
      let current = inode.lookupCount.load(ordering: .sequentiallyConsistent)
      let remaining = max(0, current - count)
      inode.lookupCount.store(remaining, ordering: .sequentiallyConsistent)
      guard remaining == 0 else { return nil }
      table[number] = nil
      return inode
    }
  }

  /// The inode behind `number`.
  ///
  /// - Throws: ESTALE when the kernel names an inode it holds no lookup on.
  func inode(_ number: UInt64) throws(Errno) -> Inode {
    guard let inode = table.withLock({ $0[number] }) else { throw .staleNFSFileHandle }
    return inode
  }

  /// Inodes the kernel holds lookups on (the root included).
  var count: Int { table.withLock { $0.count } }
}
