import ErmLockless
import Synchronization

/// One locking mode's namespace and descriptor table. `ErmFS` uses one at a time;
/// `setLocklessMode` builds the other from the tree, publishes it and retires this one.
final class FileSystemBackend: Sendable {
  let locking: ErmFS.Locking
  let namespace: any Namespace
  let descriptors: any DescriptorTable
  /// Set by a switch of mode before it waits for the calls in flight: a call that finds it
  /// set waits for the new backend instead.
  let retired = Atomic<Bool>(false)

  /// An empty tree (just `root`).
  init(_ locking: ErmFS.Locking, root: Inode, limit: Int, domain: EpochDomain, lifetime: InodeLifetime) {
    self.locking = locking
    switch locking {
    case .locked:
      namespace = LockedNamespace(root: root, lifetime: lifetime)
      descriptors = LockedDescriptorTable(limit: limit)
    case .lockless:
      namespace = LocklessNamespace(root: root, domain: domain, lifetime: lifetime)
      descriptors = SlotDescriptorTable(limit: limit, domain: domain)
    }
  }

  /// The tree `image` carried over from the other mode, with no descriptor open.
  init(_ locking: ErmFS.Locking, image: TreeImage, limit: Int, domain: EpochDomain, lifetime: InodeLifetime) {
    self.locking = locking
    switch locking {
    case .locked:
      namespace = LockedNamespace(image: image, lifetime: lifetime)
      descriptors = LockedDescriptorTable(limit: limit)
    case .lockless:
      namespace = LocklessNamespace(image: image, domain: domain, lifetime: lifetime)
      descriptors = SlotDescriptorTable(limit: limit, domain: domain)
    }
  }
}
