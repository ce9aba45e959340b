import Synchronization

/// Word encodings of a slot (the states of Click's NonBlockingHashMap, as tagged words).
///
/// Key word: 0 = never used, `blocked` = never used and closed by a table copy, otherwise
/// a `HashMapKey` pointer (+1 owned by the word) with the top 16 bits of the key's hash in
/// its top 16 bits (user-space pointers fit in 48 bits on x86-64 and arm64), so a probe
/// passes over other keys without touching their boxes. Once set, a key word never
/// changes.
///
/// Value word: 0 = never had a value, `tombstone` = removed, a value pointer (+1 owned by
/// the word), or *frozen* for a copy (`frozenBit`): frozen with a pointer = copy pending,
/// frozen with `copiedBit` = done. Heap objects are 16-byte aligned, so the low 3 bits of
/// a pointer are free for tags.
enum SlotWord {
  static let empty: UInt = 0
  static let blocked: UInt = 4
  static let tombstone: UInt = 4
  static let frozenBit: UInt = 1
  static let copiedBit: UInt = 2
  static let tagMask: UInt = 7
  /// Frozen and done with nothing inside: a removed value after a copy.
  static let frozenTombstone: UInt = 7
  /// Frozen and done with nothing inside, and never given a value in this table: a copy
  /// into this table that has not landed yet follows the key into the next table.
  static let frozenNeverSet: UInt = 3

  @inline(__always) static func isFrozen(_ word: UInt) -> Bool { word & frozenBit != 0 }
  @inline(__always) static func pointer(_ word: UInt) -> UInt { word & ~tagMask }
  /// A live, unfrozen value.
  @inline(__always) static func isValue(_ word: UInt) -> Bool { word & tagMask == 0 && word != 0 }
  /// A key word holding a key.
  @inline(__always) static func isKey(_ word: UInt) -> Bool { word != empty && word != blocked }
  static let keyPointerMask: UInt = (1 << 48) - 1
  /// The bits of a key word that come from the hash.
  @inline(__always) static func keyTag(_ hash: Int) -> UInt { UInt(bitPattern: hash) & ~keyPointerMask }
  /// The `HashMapKey` pointer of a key word.
  @inline(__always) static func keyPointer(_ word: UInt) -> UInt { word & keyPointerMask }
}

/// One open-addressing table of a `LockFreeHashMap`, in one allocation of atomic words:
/// a 64-byte header, then `capacity` (a power of two) slots of two words (key, value).
///
/// A plain pointer, not a class: every operation walks it, and reference counting a
/// shared object on each lookup would make all threads write one cache line. The map
/// owns its chain of tables; a table left behind by a copy is retired into the epoch
/// domain and freed by `destroy` once no thread can be reading it.
struct ProbeTable: Equatable, @unchecked Sendable {
  let words: UnsafeMutablePointer<Atomic<UInt>>

  private static let headerWords = 8
  private enum Header {
    static let capacity = 0
    static let next = 1
    static let copyIndex = 2
    static let copyDone = 3
    static let usedKeySlots = 4
  }

  static func allocate(capacity: Int) -> ProbeTable {
    precondition(capacity >= 4 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
    let count = headerWords + 2 * capacity
    let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Atomic<UInt>>.stride,
                                               alignment: 64)
    let words = raw.bindMemory(to: Atomic<UInt>.self, capacity: count)
    for index in 0..<count { (words + index).initialize(to: Atomic(0)) }
    words[Header.capacity].store(UInt(capacity), ordering: .relaxed)
    return ProbeTable(words: words)
  }

  init(words: UnsafeMutablePointer<Atomic<UInt>>) { self.words = words }

  init?(bits: UInt) {
    guard let words = UnsafeMutablePointer<Atomic<UInt>>(bitPattern: bits) else { return nil }
    self.words = words
  }

  var bits: UInt { UInt(bitPattern: words) }

  /// Releases the keys and values the table still owns and frees its memory. Only when
  /// no thread can reach the table any more.
  static let destroy: @convention(c) (UnsafeMutableRawPointer) -> Void = { raw in
    let table = ProbeTable(words: raw.assumingMemoryBound(to: Atomic<UInt>.self))
    for index in 0..<table.capacity {
      let key = table.keyWord(index)
      if SlotWord.isKey(key) {
        Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: SlotWord.keyPointer(key))!).release()
      }
      let value = SlotWord.pointer(table.valueWord(index))
      if value != 0 { Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: value)!).release() }
    }
    table.words.deinitialize(count: headerWords + 2 * table.capacity)
    raw.deallocate()
  }

  @inline(__always) var capacity: Int { Int(words[Header.capacity].load(ordering: .relaxed)) }
  @inline(__always) var mask: Int { capacity - 1 }

  /// Probes before a lookup gives up on this table and before an insert forces a resize
  /// (Click: 10 + capacity / 4). Both must agree, so a lookup never stops short of a key
  /// that an insert placed.
  @inline(__always) var reprobeLimit: Int { 10 + capacity >> 2 }

  /// The table this one is being copied into, if a copy has started.
  @inline(__always) var next: ProbeTable? { ProbeTable(bits: words[Header.next].load(ordering: .acquiring)) }

  /// Installs `successor` unless another thread did first; returns the one in place.
  func installNext(_ successor: ProbeTable) -> (installed: Bool, next: ProbeTable) {
    let (exchanged, current) = words[Header.next].compareExchange(
      expected: 0, desired: successor.bits, ordering: .acquiringAndReleasing)
    return exchanged ? (true, successor) : (false, ProbeTable(bits: current)!)
  }

  /// Copy work handed out so far (slot indices; runs on past `capacity` in "panic" mode).
  var copyIndex: UnsafeMutablePointer<Atomic<UInt>> { words + Header.copyIndex }
  /// Slots whose copy is confirmed; the table can be promoted away at `capacity`.
  var copyDone: UnsafeMutablePointer<Atomic<UInt>> { words + Header.copyDone }
  /// Key slots claimed (live and dead keys).
  var usedKeySlots: UnsafeMutablePointer<Atomic<UInt>> { words + Header.usedKeySlots }

  @inline(__always) func keyWord(_ index: Int) -> UInt {
    words[Self.headerWords + 2 * index].load(ordering: .acquiring)
  }

  @inline(__always) func valueWord(_ index: Int) -> UInt {
    words[Self.headerWords + 2 * index + 1].load(ordering: .acquiring)
  }

  @inline(__always) func casKey(_ index: Int, _ expected: UInt, _ desired: UInt) -> (exchanged: Bool, original: UInt) {
    words[Self.headerWords + 2 * index].compareExchange(
      expected: expected, desired: desired, ordering: .acquiringAndReleasing)
  }

  @inline(__always) func casValue(_ index: Int, _ expected: UInt, _ desired: UInt) -> (exchanged: Bool, original: UInt) {
    words[Self.headerWords + 2 * index + 1].compareExchange(
      expected: expected, desired: desired, ordering: .acquiringAndReleasing)
  }
}
