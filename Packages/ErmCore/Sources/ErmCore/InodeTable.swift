import ErmLockless
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Inode number -> inode, for the inodes the kernel holds lookups on (FUSE addresses
/// inodes by number). An inode is in the table while its `lookupCount` is above zero, and
/// holds one reference for all of those lookups; the root always is. Library use through
/// paths never touches it. A lock-free map in both locking modes (it is the mount's hot
/// path: every `getattr` and `open` by number goes through it).
///
/// `lookupCount` is -1 while the first lookup puts the inode in the table or the last
/// `forget` takes it out; a lookup or forget of that same inode meanwhile waits for it.
final class InodeTable: Sendable {
  private let table: LockFreeHashMap<UInt64, Inode>
  let root: Inode
  private static let moving = -1

  init(root: Inode, domain: EpochDomain) {
    self.root = root
    table = LockFreeHashMap(minimumCapacity: 64, domain: domain)
    table.insertIfAbsent(root, forKey: root.number)
  }

  /// One more kernel lookup on `inode` (FUSE's entry replies). False when the inode died
  /// since the caller found it (its last name went and nothing held it): look it up again.
  func remember(_ inode: Inode) -> Bool {
    if inode === root { return true }
    while true {
      let current = inode.lookupCount.load(ordering: .sequentiallyConsistent)
      if current == Self.moving {
        sched_yield()
        continue
      }
      if current > 0 {
        if inode.lookupCount.compareExchange(expected: current, desired: current + 1,
                                             ordering: .sequentiallyConsistent).exchanged { return true }
        continue
      }
      guard inode.lookupCount.compareExchange(expected: 0, desired: Self.moving,
                                              ordering: .sequentiallyConsistent).exchanged else { continue }
      guard inode.references.retainIfNotZero() else {
        inode.lookupCount.store(0, ordering: .sequentiallyConsistent)
        return false
      }
      table.insertIfAbsent(inode, forKey: inode.number)
      inode.lookupCount.store(1, ordering: .sequentiallyConsistent)
      return true
    }
  }

  /// `count` lookups fewer; returns the inode when that was the last (it has left the
  /// table): the caller drops the lookups' reference.
  func forget(_ number: UInt64, count: Int) -> Inode? {
    guard number != root.number, count > 0, let inode = table.get(number) else { return nil }
    while true {
      let current = inode.lookupCount.load(ordering: .sequentiallyConsistent)
      if current == Self.moving {
        sched_yield()
        continue
      }
      guard current > 0 else { return nil }
      if current > count {
        if inode.lookupCount.compareExchange(expected: current, desired: current - count,
                                             ordering: .sequentiallyConsistent).exchanged { return nil }
        continue
      }
      guard inode.lookupCount.compareExchange(expected: current, desired: Self.moving,
                                              ordering: .sequentiallyConsistent).exchanged else { continue }
      _ = table.remove(number, ifIdenticalTo: inode)
      inode.lookupCount.store(0, ordering: .sequentiallyConsistent)
      table.shrinkIfSparse()  // 100k files looked up once must not keep 100k slots
      return inode
    }
  }

  /// The inode behind `number`.
  ///
  /// - Throws: ESTALE when the kernel names an inode it holds no lookup on.
  func inode(_ number: UInt64) throws(Errno) -> Inode {
    guard let inode = table.get(number) else { throw .staleNFSFileHandle }
    return inode
  }

  /// Inodes the kernel holds lookups on (the root included).
  var count: Int { table.count }

  /// Slots of the table (tests: it shrinks again after many forgets).
  var capacity: Int { table.capacity }
}
