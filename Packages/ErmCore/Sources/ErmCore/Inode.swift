import ErmLockless
import Synchronization
import SystemPackage

/// A file, directory, symbolic link or special file.
///
/// Metadata are atomics, so `stat` and the tree operations never wait for a file's
/// contents lock. A regular file's bytes sit behind `contents`, one lock per inode (see
/// docs/decisions/core-locking.md).
///
/// An inode lives while anything refers to it: its names, open file descriptions, the
/// kernel's lookups (FUSE), a call working on it. `references` counts them (one for all of
/// its names); the release that takes it to zero frees a regular file's contents, exactly
/// once, and nothing can take a reference after that (`retainIfNotZero`), so a lookup
/// racing the last unlink or close never revives a freed file (InodeLifetime.swift).
final class Inode: Sendable {
  let number: UInt64
  let type: FileType
  /// Permission bits, `0o7777` (setuid, setgid and sticky included).
  let permissionBits: Atomic<UInt32>
  /// Owner and group in one word (uid in the high half), so `chown` is one store.
  private let ownerWord: Atomic<UInt64>
  /// Device number of a character or block special file (`st_rdev`); 0 otherwise.
  let device: UInt64
  /// A symbolic link's target, fixed at creation (empty for other types).
  let symbolicLinkTarget: [UInt8]

  /// Directory entries naming this inode (for a directory: 2 + subdirectories). Never
  /// goes up again once it reached 0 (`addLinkIfLinked`).
  let linkCount: Atomic<Int>
  /// Open file descriptions referring to this inode; the last close of a modified file
  /// compresses it.
  let openCount = Atomic<Int>(0)
  /// Lookups the kernel has not forgotten (FUSE `lookup`/`forget`), kept by `InodeTable`;
  /// 0 for library use.
  let lookupCount = Atomic<Int>(0)
  /// One reference for all of the names, one per open file description, one while the
  /// kernel holds lookups, one per call holding the inode for a moment.
  let references: AtomicReferenceCount

  /// Mirrors of the contents' sizes for `stat`, updated under `contents`. For a
  /// directory `size` is tmpfs's: 40 bytes plus 20 per entry.
  let size = Atomic<Int>(0)
  let storedSize = Atomic<Int>(0)
  let accessTime: AtomicTimestamp
  let modificationTime: AtomicTimestamp
  let changeTime: AtomicTimestamp

  /// The lock-free namespace's `DirectoryNode` of this directory (`Unmanaged` bits with a
  /// +1; 0 otherwise), so a lock-free walk goes from a directory straight to its entries.
  /// Owned by `LocklessNamespace`: set before the directory can be reached, cleared when
  /// it is removed or the namespace goes (a switch of mode, the file system's end).
  let directoryNodeBits = Atomic<UInt>(0)

  /// A regular file's bytes (unused for other types).
  let contents = Mutex(FileContentsState())
  /// While the bytes are compressed: the `CompressedView` readers decompress without the
  /// contents lock (`Unmanaged` bits with a +1; 0 otherwise). Written under `contents`
  /// by `FileStorage.publish`, read by `FileStorage.compressedView(of:)`.
  let compressedViewBits = Atomic<UInt>(0)
  /// Extended attributes (`user.*`, `trusted.*`, `security.*`).
  let attributes = Mutex(ExtendedAttributes())

  /// - Parameter holds: references taken for the creator besides the names' one (an open
  ///   that creates the file, a caller that must hold it until it is remembered).
  init(number: UInt64, type: FileType, permissions: UInt32, owner: Ownership,
       device: UInt64 = 0, symbolicLinkTarget: [UInt8] = [], now: ErmFS.Timestamp, holds: Int = 0) {
    self.number = number
    self.references = AtomicReferenceCount(1 + holds)
    self.type = type
    self.permissionBits = Atomic(permissions & 0o7777)
    self.ownerWord = Atomic(owner.packed)
    self.device = device
    self.symbolicLinkTarget = symbolicLinkTarget
    self.linkCount = Atomic(type == .directory ? 2 : 1)
    self.accessTime = AtomicTimestamp(now)
    self.modificationTime = AtomicTimestamp(now)
    self.changeTime = AtomicTimestamp(now)
    if type == .directory { size.store(Inode.emptyDirectorySize, ordering: .relaxed) }
    if type == .symbolicLink { size.store(symbolicLinkTarget.count, ordering: .relaxed) }
  }

  deinit {
    let view = compressedViewBits.load(ordering: .acquiring)
    // Nothing can reach a dying inode, so no reader can be loading the view.
    if view != 0 { Unmanaged<CompressedView>.fromOpaque(UnsafeRawPointer(bitPattern: view)!).release() }
    let bits = directoryNodeBits.load(ordering: .acquiring)
    if let node = UnsafeRawPointer(bitPattern: bits) { Unmanaged<AnyObject>.fromOpaque(node).release() }
  }

  /// tmpfs's directory sizes (`BOGO_DIRENT_SIZE`): programs that print `ls -l` output
  /// see the same numbers as on tmpfs.
  static let emptyDirectorySize = 40
  static let directoryEntrySize = 20

  // MARK: Links and references

  /// One more name, unless the inode has none left (`link` to a file whose last name went
  /// meanwhile is ENOENT, as on Linux: a link count never comes back from 0).
  func addLinkIfLinked() -> Bool {
    var current = linkCount.load(ordering: .sequentiallyConsistent)
    while current > 0 {
      let (exchanged, seen) = linkCount.compareExchange(
        expected: current, desired: current + 1, ordering: .sequentiallyConsistent)
      if exchanged { return true }
      current = seen
    }
    return false
  }

  /// One name fewer; true when it was the last (the caller then drops the names' reference).
  func dropLink() -> Bool {
    linkCount.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
  }

  /// Takes an open file description's reference and counts the open; false when the
  /// inode died since the caller found it (its name went and nothing held it).
  func retainOpen() -> Bool {
    guard references.retainIfNotZero() else { return false }
    openCount.add(1, ordering: .sequentiallyConsistent)
    return true
  }

  var isDirectory: Bool { type == .directory }
  var isRegular: Bool { type == .regular }
  var isSymbolicLink: Bool { type == .symbolicLink }

  var owner: Ownership {
    get { Ownership(packed: ownerWord.load(ordering: .relaxed)) }
  }

  func setOwner(_ owner: Ownership) { ownerWord.store(owner.packed, ordering: .relaxed) }

  var permissions: UInt32 { permissionBits.load(ordering: .relaxed) }

  func status() -> ErmFS.FileStatus {
    ErmFS.FileStatus(
      inode: number,
      mode: FileMode(type: type, permissions: FilePermissions(rawValue: permissions)),
      linkCount: linkCount.load(ordering: .sequentiallyConsistent),
      userID: owner.userID, groupID: owner.groupID, device: device,
      size: Int64(size.load(ordering: .relaxed)),
      storedSize: Int64(storedSize.load(ordering: .relaxed)),
      accessTime: accessTime.load(),
      modificationTime: modificationTime.load(),
      changeTime: changeTime.load())
  }

  /// Marks a data change (`mtime` and `ctime`).
  func touchModified(_ now: ErmFS.Timestamp = .now()) {
    modificationTime.store(now)
    changeTime.store(now)
  }

  /// Marks a metadata change (`ctime`).
  func touchChanged(_ now: ErmFS.Timestamp = .now()) {
    changeTime.store(now)
  }

  /// Marks a read, with Linux's default `relatime` rule: the access time moves only when
  /// it is not newer than the modification or change time, or is a day old.
  func touchAccessed(_ now: ErmFS.Timestamp = .now()) {
    let atime = accessTime.load()
    if atime <= modificationTime.load() || atime <= changeTime.load()
      || now.seconds - atime.seconds >= 24 * 3600 {
      accessTime.store(now)
    }
  }
}

/// Who owns an inode: `st_uid` and `st_gid`.
public struct Ownership: Sendable, Hashable {
  /// The owner's user ID.
  public var userID: UInt32
  /// The owning group's ID.
  public var groupID: UInt32

  /// - Parameters:
  ///   - userID: owner (`st_uid`).
  ///   - groupID: group (`st_gid`).
  public init(userID: UInt32, groupID: UInt32) {
    self.userID = userID
    self.groupID = groupID
  }

  /// uid 0, gid 0.
  public static let root = Ownership(userID: 0, groupID: 0)

  init(packed: UInt64) {
    self.init(userID: UInt32(truncatingIfNeeded: packed >> 32), groupID: UInt32(truncatingIfNeeded: packed))
  }

  var packed: UInt64 { UInt64(userID) << 32 | UInt64(groupID) }
}
