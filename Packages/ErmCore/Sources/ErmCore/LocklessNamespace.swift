import ErmLockless
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The lock-free mode's directory tree (docs/decisions/lockless-core.md): one lock-free
/// map per directory (name -> `DirectoryLink`), a lock-free map from inode number to
/// `DirectoryNode` for every directory but the root, atomic counts. Every operation runs
/// pinned in the file system's epoch domain, so links, nodes and inodes it found stay
/// valid while it works.
///
/// Lookups, creates (`open` with `O_CREAT`, `mknod`, `mkdir`, `symlink`, `link`) and
/// `unlink` take no lock. `rename` and `rmdir` take the one structure lock: each moves or
/// removes an entry together with checks on other entries (the destination, emptiness,
/// the ancestor rule) that must not change under it; the two exclude each other and
/// nothing else. A create or unlink that meets an entry a rename has claimed waits for
/// that rename only (`DirectoryLink.waitWhileMoving`); `rmdir` waits out creates and
/// unlinks in flight in the directory it removes.
final class LocklessNamespace: TreeNamespace {
  let root: Inode
  /// `root`, for walks (held by `root`).
  fileprivate let rootHandle: InodeHandle
  let domain: EpochDomain
  fileprivate let rootNode: DirectoryNode
  /// Every directory but the root, by inode number.
  fileprivate let nodes: LockFreeHashMap<UInt64, DirectoryNode>
  /// Taken by `rename` and `rmdir` only.
  fileprivate let structureLock = Mutex<Void>(())
  fileprivate let nextNumber = Atomic<UInt64>(2)
  fileprivate let fileCount = Atomic<Int>(0)
  fileprivate let directoryCount = Atomic<Int>(0)
  fileprivate let lifetime: InodeLifetime

  init(root: Inode, domain: EpochDomain, lifetime: InodeLifetime) {
    self.root = root
    rootHandle = InodeHandle(root)
    self.domain = domain
    self.lifetime = lifetime
    rootNode = DirectoryNode(inode: root, parent: root.number, domain: domain)
    nodes = LockFreeHashMap(minimumCapacity: 64, domain: domain)
    publish(rootNode)
  }

  deinit { releaseInodes() }

  /// Makes `node` reachable from its inode and by number, before its name can be seen.
  fileprivate func publish(_ node: DirectoryNode) {
    if node.inode !== root { nodes.insertIfAbsent(node, forKey: node.inode.number) }
    let previous = node.inode.directoryNodeBits.exchange(UInt(bitPattern: Unmanaged.passRetained(node).toOpaque()),
                                                         ordering: .acquiringAndReleasing)
    precondition(previous == 0, "a directory got a second entry table")
  }

  /// Takes the node of a removed directory away; a walk that found it may go on using it
  /// (it is retired, freed after the grace period).
  fileprivate func unpublishNode(of directory: Inode) {
    nodes.remove(directory.number)
    nodes.shrinkIfSparse()
    let bits = directory.directoryNodeBits.exchange(0, ordering: .acquiringAndReleasing)
    guard let raw = UnsafeRawPointer(bitPattern: bits) else { return }
    let node = Unmanaged<DirectoryNode>.fromOpaque(raw)
    domain.retire(node.takeUnretainedValue())
    node.release()
  }

  /// Lets go of every node an inode holds for this namespace (the inodes outlive it when
  /// the mode switches; a node and its inode would otherwise keep each other alive). Only
  /// its own nodes: a later lock-free namespace may have set the field since.
  func releaseInodes() {
    domain.withPinnedThread {
      for node in [rootNode] + nodes.snapshot().map(\.value) {
        let own = Unmanaged.passUnretained(node)
        if node.inode.directoryNodeBits.compareExchange(
          expected: UInt(bitPattern: own.toOpaque()), desired: 0, ordering: .acquiringAndReleasing).exchanged {
          own.release()
        }
      }
    }
  }

  /// A tree carried over from the other backend (`ErmFS.setLocklessMode`).
  convenience init(image: TreeImage, domain: EpochDomain, lifetime: InodeLifetime) {
    self.init(root: image.root, domain: domain, lifetime: lifetime)
    for directory in image.directories where directory.inode !== root {
      publish(DirectoryNode(inode: directory.inode, parent: directory.parent.number, domain: domain))
    }
    for directory in image.directories {
      guard let node = directory.inode === root ? rootNode : nodes.get(directory.inode.number) else { continue }
      for entry in directory.entries {
        _ = node.countEntry()
        node.links.insertIfAbsent(DirectoryLink(inode: entry.inode, cookie: node.takeCookie()), forKey: entry.name)
      }
    }
    nextNumber.store(image.nextNumber, ordering: .relaxed)
    fileCount.store(image.files, ordering: .relaxed)
    directoryCount.store(image.directoryCount, ordering: .relaxed)
  }

  // Operations run pinned in `domain`: ErmFS calls every namespace operation inside
  // `withBackend`, which pins the calling thread there (pinning again would only cost).

  func reading<R>(_ body: (borrowing LocklessTree) throws(Errno) -> R) throws(Errno) -> R {
    try body(LocklessTree(self))
  }

  func changing<R>(_ access: TreeAccess, _ body: (inout LocklessTree) throws(Errno) -> R) throws(Errno) -> R {
    var tree = LocklessTree(self)
    guard access == .restructure else { return try body(&tree) }
    return try structureLock.withLock { _ throws(Errno) -> R in try body(&tree) }
  }

  var counts: (files: Int, directories: Int) {
    (fileCount.load(ordering: .relaxed), directoryCount.load(ordering: .relaxed))
  }

  // MARK: Switching modes, statistics

  func image() -> TreeImage {
    domain.withPinnedThread {
      var directories: [TreeImage.Directory] = []
      for node in [rootNode] + nodes.snapshot().map(\.value) {
        let entries = node.links.snapshot().filter { !$0.value.isDead }
          .sorted { $0.value.cookie < $1.value.cookie }
          .map { (name: $0.key, inode: $0.value.inode) }
        let parentNumber = node.parent.load(ordering: .acquiring)
        let parent = parentNumber == root.number ? root : (nodes.get(parentNumber)?.inode ?? root)
        directories.append(TreeImage.Directory(inode: node.inode, parent: parent, entries: entries))
      }
      return TreeImage(root: root, directories: directories,
                       nextNumber: nextNumber.load(ordering: .relaxed),
                       files: fileCount.load(ordering: .relaxed),
                       directoryCount: directoryCount.load(ordering: .relaxed))
    }
  }

  /// Directories with a node (the root included) and the entries of every map, for leak tests.
  var sizes: (directories: Int, entries: Int) {
    domain.withPinnedThread {
      var entries = rootNode.links.count
      let others = nodes.snapshot()
      for (_, node) in others { entries += node.links.count }
      return (others.count + 1, entries)
    }
  }
}

/// The lock-free namespace as the rules see it, for one operation (pinned by the caller).
/// It points at its namespace without a reference count (the caller holds the namespace
/// for longer), so making one per operation writes nothing shared.
struct LocklessTree: DirectoryTree {
  private unowned(unsafe) let namespace: LocklessNamespace

  init(_ namespace: LocklessNamespace) { self.namespace = namespace }

  var root: Inode { namespace.root }
  var rootHandle: InodeHandle { namespace.rootHandle }

  // MARK: Nodes

  /// The entry table of `directory` (nil: not a directory, or removed).
  private func directoryNode(of directory: Inode) -> DirectoryNode? {
    let bits = directory.directoryNodeBits.load(ordering: .acquiring)
    guard let raw = UnsafeRawPointer(bitPattern: bits) else { return nil }
    return Unmanaged<DirectoryNode>.fromOpaque(raw).takeUnretainedValue()
  }

  /// `body` with the entry table of `directory`, without retaining it (hot path).
  @inline(__always)
  private func withNode<R>(of directory: Inode, _ body: (DirectoryNode?) -> R) -> R {
    let bits = directory.directoryNodeBits.load(ordering: .acquiring)
    guard let raw = UnsafeRawPointer(bitPattern: bits) else { return body(nil) }
    return Unmanaged<DirectoryNode>.fromOpaque(raw)._withUnsafeGuaranteedRef { body($0) }
  }

  // MARK: DirectoryLookup

  func child(of directory: Inode, named name: FileName) -> Inode? {
    childHandle(of: InodeHandle(directory), named: name)?.inode
  }

  func parent(of directory: Inode) -> Inode { parentHandle(of: InodeHandle(directory)).inode }

  // The walk's forms retain nothing: pinned, every link, node and inode found stays valid.

  func childHandle(of directory: InodeHandle, named name: FileName) -> InodeHandle? {
    directory.with { directory in
      withNode(of: directory) { node in
        node?.links.withValue(forKey: name) { link -> InodeHandle? in
          guard let link, !link.isDead else { return nil }
          return link.inodeHandle
        }
      }
    }
  }

  func parentHandle(of directory: InodeHandle) -> InodeHandle {
    guard let number = directory.with({ directory in withNode(of: directory) { $0?.parent.load(ordering: .acquiring) } }),
          number != namespace.root.number else { return rootHandle }
    return namespace.nodes.withValue(forKey: number) { $0?.inodeHandle } ?? rootHandle
  }

  // MARK: DirectoryTree

  func isEmpty(_ directory: Inode) -> Bool { !(directoryNode(of: directory)?.hasEntries ?? false) }

  func entries(of directory: Inode, after cookie: UInt64,
               limit: Int) -> [(cookie: UInt64, name: FileName, inode: Inode)] {
    guard limit > 0, let node = directoryNode(of: directory) else { return [] }
    var out = consistentSnapshot(of: node).filter { $0.cookie > cookie }
    out.sort { $0.cookie < $1.cookie }
    return out.count > limit ? Array(out.prefix(limit)) : out
  }

  /// The directory's entries, taken while no rename changed it (so a rename shows whole:
  /// never both names, never neither); after a few tries, under the structure lock,
  /// which renames hold. An entry counts if its link was not dead when the walk met it.
  private func consistentSnapshot(of node: DirectoryNode) -> [(cookie: UInt64, name: FileName, inode: Inode)] {
    func walk() -> [(cookie: UInt64, name: FileName, inode: Inode)] {
      var out: [(cookie: UInt64, name: FileName, inode: Inode)] = []
      node.links.forEach { name, link in
        if !link.isDead { out.append((link.cookie, name, link.inode)) }
      }
      return out
    }
    for _ in 0..<16 {
      let before = node.renames.load(ordering: .sequentiallyConsistent)
      if before & 1 == 1 {
        sched_yield()
        continue
      }
      let snapshot = walk()
      if node.renames.load(ordering: .sequentiallyConsistent) == before { return snapshot }
    }
    return namespace.structureLock.withLock { _ in walk() }
  }

  func allocateNumber() -> UInt64 { namespace.nextNumber.wrappingAdd(1, ordering: .relaxed).oldValue }

  func attach(_ inode: Inode, named name: FileName, in directory: Inode) throws(Errno) {
    guard let node = directoryNode(of: directory), node.countEntry() else { throw .noSuchFileOrDirectory }
    if inode.isDirectory {
      // Its node exists before its name can be seen, so a walk into it finds its entries.
      namespace.publish(DirectoryNode(inode: inode, parent: directory.number, domain: namespace.domain))
    }
    let link = DirectoryLink(inode: inode, cookie: node.takeCookie())
    while let existing = node.links.insertIfAbsent(link, forKey: name) {
      if existing.isDead {
        // An unlink marked it dead and is about to remove it: remove it for it, try again.
        _ = node.links.remove(name, ifIdenticalTo: existing)
        continue
      }
      node.uncountEntry()
      if inode.isDirectory { namespace.unpublishNode(of: inode) }
      throw .fileExists
    }
  }

  func detach(_ name: FileName, naming inode: Inode, from directory: Inode) -> Bool {
    guard let node = directoryNode(of: directory) else { return false }
    while true {
      guard let link = node.links.get(name), link.inode === inode else { return false }
      switch link.claim(from: .live, to: .dead) {
      case .live:
        _ = node.links.remove(name, ifIdenticalTo: link)
        node.uncountEntry()
        node.links.shrinkIfSparse()  // a directory that held many entries once
        return true
      case .moving:
        link.waitWhileMoving()  // a rename of this very entry: see where it went
      case .moved, .dead:
        return false
      }
    }
  }

  func detachEmptyDirectory(_ name: FileName, naming child: Inode, from directory: Inode) -> Bool {
    guard let node = directoryNode(of: directory), let childNode = directoryNode(of: child),
          let link = node.links.get(name), link.inode === child, !link.isDead,
          removeIfEmpty(childNode) else { return false }
    // Removed: nothing can be added to it any more. Under the structure lock nobody else
    // changes an entry naming a directory.
    link.settle(.dead)
    _ = node.links.remove(name, ifIdenticalTo: link)
    node.uncountEntry()
    namespace.unpublishNode(of: child)
    return true
  }

  /// Marks `node` removed if it holds no entry, waiting out creates and unlinks that are
  /// between their map change and their count change. False if it holds an entry.
  private func removeIfEmpty(_ node: DirectoryNode) -> Bool {
    while !node.removeIfUncounted() {
      if node.hasEntries { return false }
      sched_yield()
    }
    return true
  }

  func move(_ name: FileName, naming moving: Inode, in directory: Inode,
            to newName: FileName, replacing target: Inode?, in newDirectory: Inode,
            exchange: Bool) -> Bool {
    guard let node = directoryNode(of: directory), let newNode = directoryNode(of: newDirectory),
          let source = node.links.get(name), source.inode === moving,
          source.claim(from: .live, to: .moving) == .live else { return false }
    var replaced: DirectoryLink?
    if let target {
      guard let link = newNode.links.get(newName), link.inode === target,
            link.claim(from: .live, to: .moving) == .live else {
        source.settle(.live)
        return false
      }
      replaced = link
      if target.isDirectory && !exchange {
        guard let targetNode = directoryNode(of: target), removeIfEmpty(targetNode) else {
          source.settle(.live)
          link.settle(.live)
          return false
        }
      }
    } else if !newNode.countEntry() {
      source.settle(.live)
      return false
    }

    // Listings of both directories take their snapshot again while this runs.
    node.renames.add(1, ordering: .sequentiallyConsistent)
    if newNode !== node { newNode.renames.add(1, ordering: .sequentiallyConsistent) }
    defer {
      node.renames.add(1, ordering: .sequentiallyConsistent)
      if newNode !== node { newNode.renames.add(1, ordering: .sequentiallyConsistent) }
    }
    // A directory that moves gets its new `..` before its new name can be seen.
    let movingNode = moving.isDirectory ? directoryNode(of: moving) : nil
    movingNode?.parent.store(newDirectory.number, ordering: .releasing)

    if exchange, let target, let replaced {
      if target.isDirectory { directoryNode(of: target)?.parent.store(directory.number, ordering: .releasing) }
      let swappedIn = node.links.replace(name, ifIdenticalTo: source,
                                         with: DirectoryLink(inode: target, cookie: node.takeCookie()))
      let swappedOut = newNode.links.replace(newName, ifIdenticalTo: replaced,
                                             with: DirectoryLink(inode: moving, cookie: newNode.takeCookie()))
      precondition(swappedIn && swappedOut, "a claimed link changed under its rename")
    } else {
      let moved = DirectoryLink(inode: moving, cookie: newNode.takeCookie())
      if let replaced {
        let swapped = newNode.links.replace(newName, ifIdenticalTo: replaced, with: moved)
        precondition(swapped, "a claimed link changed under its rename")
        if target?.isDirectory == true { namespace.unpublishNode(of: replaced.inode) }
      } else {
        while let existing = newNode.links.insertIfAbsent(moved, forKey: newName) {
          if existing.isDead {
            _ = newNode.links.remove(newName, ifIdenticalTo: existing)
            continue
          }
          // Created since the checks: undo, and let the rule check again.
          newNode.uncountEntry()
          movingNode?.parent.store(directory.number, ordering: .releasing)
          source.settle(.live)
          return false
        }
      }
      _ = node.links.remove(name, ifIdenticalTo: source)
      node.uncountEntry()
    }
    // The moving inode keeps a name; so does the target of an exchange. A replaced target
    // lost its name.
    source.settle(.moved)
    replaced?.settle(exchange ? .moved : .dead)
    return true
  }

  func orphaned(_ inode: Inode) { namespace.lifetime.release(inode) }

  var counts: (files: Int, directories: Int) { namespace.counts }

  func adjustCounts(files: Int, directories: Int) {
    if files != 0 { namespace.fileCount.add(files, ordering: .relaxed) }
    if directories != 0 { namespace.directoryCount.add(directories, ordering: .relaxed) }
  }
}
