import ErmLockless
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One entry of a directory in the lock-free namespace: a name's link to an inode, with
/// its listing cookie. A rename or unlink never changes a link; it replaces or removes it
/// in the directory's map, after claiming it through `state`:
///
/// - live: the entry is there.
/// - moving: a rename has claimed it and is putting the new entries in place; lookups still
///   see it, an unlink waits for the rename to finish, then looks again.
/// - moved: a rename replaced it by a link under the new name (its inode still has a
///   name): a lookup that found it before still counts it (it came before the rename), an
///   unlink looks again.
/// - dead: removed (the unlink's linearization point: lookups treat it as absent, and a
///   create that meets it in the map removes it for the unlink and goes on).
final class DirectoryLink: Sendable {
  enum State: UInt8 {
    case live = 0
    case moving = 1
    case moved = 2
    case dead = 3
  }

  let inode: Inode
  /// `inode` without a reference count, for walks (held by `inode`).
  let inodeHandle: InodeHandle
  let cookie: UInt64
  private let word: Atomic<UInt8>

  init(inode: Inode, cookie: UInt64) {
    self.inode = inode
    inodeHandle = InodeHandle(inode)
    self.cookie = cookie
    word = Atomic(State.live.rawValue)
  }

  var state: State { State(rawValue: word.load(ordering: .sequentiallyConsistent))! }
  var isDead: Bool { state == .dead }

  /// Moves the link from `expected` to `desired`; returns the state it found (`expected`
  /// when it moved it).
  func claim(from expected: State, to desired: State) -> State {
    let (_, found) = word.compareExchange(expected: expected.rawValue, desired: desired.rawValue,
                                          ordering: .sequentiallyConsistent)
    return State(rawValue: found)!
  }

  /// Sets the state of a link the caller has claimed (`moving`): back to live (a rename
  /// that gave up), moved or dead (done).
  func settle(_ state: State) { word.store(state.rawValue, ordering: .sequentiallyConsistent) }

  /// Waits until the rename that claimed this link has finished with it.
  func waitWhileMoving() {
    var spins = 0
    while state == .moving {
      spins += 1
      if spins < 64 { sched_yield() } else {
        var nap = timespec(tv_sec: 0, tv_nsec: 20_000)
        nanosleep(&nap, nil)
      }
    }
  }
}

/// One directory of the lock-free namespace: its entries in a lock-free map, its `..`, its
/// cookie counter, and one word that says how many entries it holds and whether it was
/// removed.
final class DirectoryNode: Sendable {
  let inode: Inode
  /// `inode` without a reference count, for walks (held by `inode`).
  let inodeHandle: InodeHandle
  let links: LockFreeHashMap<FileName, DirectoryLink>
  /// Inode number of `..` (changed by renames, under the structure lock).
  let parent: Atomic<UInt64>
  /// `entries << 1 | removed`. Every entry is counted before it can be seen and uncounted
  /// after it is gone, so `rmdir`'s single compare-exchange from 0 (no entry, none on its
  /// way in or out) to `removed` is atomic with the emptiness check, and no create can
  /// count itself in once it is set (it then fails with ENOENT).
  let occupancy = Atomic<Int>(0)
  /// The next listing cookie (`.` is 1, `..` is 2).
  let nextCookie = Atomic<UInt64>(DirectoryEntries.firstCookie)
  /// Odd while a rename changes this directory's entries; a listing that saw it change
  /// takes its snapshot again, so it sees a rename whole (never both names, never neither).
  let renames = Atomic<UInt64>(0)

  init(inode: Inode, parent: UInt64, domain: EpochDomain) {
    self.inode = inode
    inodeHandle = InodeHandle(inode)
    self.parent = Atomic(parent)
    links = LockFreeHashMap(minimumCapacity: 8, domain: domain)
  }

  private static let removedBit = 1
  private static let entry = 2

  /// Counts one entry on its way in; false once the directory was removed.
  func countEntry() -> Bool {
    var current = occupancy.load(ordering: .sequentiallyConsistent)
    while current & Self.removedBit == 0 {
      let (exchanged, seen) = occupancy.compareExchange(
        expected: current, desired: current + Self.entry, ordering: .sequentiallyConsistent)
      if exchanged { return true }
      current = seen
    }
    return false
  }

  /// Uncounts an entry that is gone (or never went in).
  func uncountEntry() { occupancy.subtract(Self.entry, ordering: .sequentiallyConsistent) }

  /// Marks the directory removed if it counts no entry at all.
  func removeIfUncounted() -> Bool {
    occupancy.compareExchange(expected: 0, desired: Self.removedBit, ordering: .sequentiallyConsistent).exchanged
  }

  /// Whether some entry is live or being renamed now.
  var hasEntries: Bool {
    var found = false
    links.forEach { _, link in if !link.isDead { found = true } }
    return found
  }

  /// A fresh cookie for a new entry.
  func takeCookie() -> UInt64 { nextCookie.wrappingAdd(1, ordering: .relaxed).oldValue }
}
