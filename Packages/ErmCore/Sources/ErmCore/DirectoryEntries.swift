/// The entries of one directory, each with a cookie: a position that `readdir` hands out
/// as its offset and that stays valid while the directory changes.
///
/// Cookies grow with every insertion and are never reused, so a listing resumed at a
/// cookie returns every entry that was there all along exactly once: entries removed
/// meanwhile are skipped, entries added meanwhile may or may not appear (as POSIX
/// allows). Cookies 1 and 2 are `.` and `..`; entries start at 3.
struct DirectoryEntries: Sendable {
  struct Entry: Sendable {
    let inode: Inode
    let cookie: UInt64
  }

  private struct Position: Sendable {
    let cookie: UInt64
    /// nil once removed (compacted away when removals pile up).
    var name: FileName?
  }

  private(set) var byName: [FileName: Entry] = [:]
  /// Ascending by cookie: insertion order.
  private var positions: [Position] = []
  private var removedPositions = 0
  private var nextCookie: UInt64 = DirectoryEntries.firstCookie

  /// `.` is cookie 1, `..` cookie 2.
  static let firstCookie: UInt64 = 3

  var count: Int { byName.count }
  var isEmpty: Bool { byName.isEmpty }

  subscript(name: FileName) -> Entry? { byName[name] }

  /// Adds `name` (which must be absent) at the end of the listing order.
  mutating func insert(_ inode: Inode, named name: FileName) {
    let cookie = nextCookie
    nextCookie += 1
    byName[name] = Entry(inode: inode, cookie: cookie)
    positions.append(Position(cookie: cookie, name: name))
  }

  /// Removes `name`; returns what it named.
  @discardableResult
  mutating func remove(_ name: FileName) -> Inode? {
    guard let entry = byName.removeValue(forKey: name) else { return nil }
    if let at = index(ofFirstCookieAtLeast: entry.cookie), positions[at].cookie == entry.cookie {
      positions[at].name = nil
      removedPositions += 1
    }
    if removedPositions > 32 && removedPositions > positions.count / 2 {
      // A new array, not removeAll(where:): that keeps the old capacity.
      positions = positions.filter { $0.name != nil }
      removedPositions = 0
    }
    if byName.capacity > 64 && byName.count * 8 < byName.capacity {
      // Dictionaries keep their capacity when emptied: a directory that held 100k
      // entries once would keep ~5 MiB of buckets for a handful.
      var fresh = [FileName: Entry](minimumCapacity: byName.count)
      for (key, value) in byName { fresh[key] = value }
      byName = fresh
    }
    return entry.inode
  }

  /// Up to `limit` entries whose cookie is greater than `cookie`, in cookie order.
  func list(after cookie: UInt64, limit: Int) -> [(cookie: UInt64, name: FileName, inode: Inode)] {
    var out: [(cookie: UInt64, name: FileName, inode: Inode)] = []
    guard limit > 0, var at = index(ofFirstCookieAtLeast: cookie &+ 1) else { return out }
    while at < positions.count && out.count < limit {
      if let name = positions[at].name, let entry = byName[name] {
        out.append((positions[at].cookie, name, entry.inode))
      }
      at += 1
    }
    return out
  }

  /// Binary search: the first position whose cookie is >= `cookie`, nil if none.
  private func index(ofFirstCookieAtLeast cookie: UInt64) -> Int? {
    var low = 0, high = positions.count
    while low < high {
      let mid = (low + high) / 2
      if positions[mid].cookie < cookie { low = mid + 1 } else { high = mid }
    }
    return low < positions.count ? low : nil
  }
}
