import Synchronization

/// A lock-free hash map from keys to class references: open addressing with linear
/// probing, after Cliff Click's NonBlockingHashMap, with epoch-based reclamation in place
/// of a garbage collector. Why this design: docs/decisions/lockless-hashmap.md.
///
/// - A key, once placed in a slot of a table, stays there; removing its value leaves a
///   *tombstone* (dead key) that the same key can reuse. Dead keys are dropped when the
///   table is copied into a new one, which happens when probing gets long (a resize,
///   possibly to the same size) or on `compact()`. The copy runs while other threads
///   keep working: every thread that meets a table being copied copies a chunk of it,
///   each slot is frozen before it is copied, and operations on a frozen slot continue in
///   the new table.
/// - Every call pins the calling thread in `domain`; removed values and tables left
///   behind by a copy are retired there and freed once no thread can see them.
///
/// Each call is atomic (linearizable) on its key. `forEach`/`snapshot` are weakly
/// consistent: a key present for the whole walk is visited exactly once, with a value it
/// had during the walk; keys added or removed meanwhile may or may not be. `count` is
/// exact when no update is running, an estimate otherwise.
public final class LockFreeHashMap<Key: Hashable & Sendable, Value: AnyObject & Sendable>: Sendable {
  private typealias BoxedKey = HashMapKey<Key>

  /// What the slot must hold for an update to happen (Click's expected-value argument).
  private enum Expectation: Equatable {
    case anything
    /// No value (never set or removed): insert-if-absent.
    case absent
    /// Some value: replace.
    case present
    /// This very value (pointer bits): compare-and-replace, compare-and-remove.
    case identical(UInt)
    /// A slot that never had a value in this table: the copy into a new table.
    case neverSet
  }

  /// Where removed values and old tables wait for readers.
  public let domain: EpochDomain
  /// The smallest table (a power of two); `compact` never goes below it.
  public let minimumCapacity: Int
  private let hashFunction: @Sendable (Key) -> Int
  /// The current table (`ProbeTable` bits); its `next` chain holds copies in progress.
  private let top: Atomic<UInt>
  private let live = StripedCounter()
  private let promotions = Atomic<Int>(0)

  /// - Parameters:
  ///   - minimumCapacity: initial slots (rounded up to a power of two, at least 8).
  ///   - domain: the reclamation domain (default: the process-wide one).
  ///   - hash: the hash function; inject one to test collisions (the map mixes its bits).
  public init(minimumCapacity: Int = 16, domain: EpochDomain = .shared,
              hash: @escaping @Sendable (Key) -> Int = { $0.hashValue }) {
    var capacity = 8
    while capacity < minimumCapacity { capacity <<= 1 }
    self.minimumCapacity = capacity
    self.domain = domain
    self.hashFunction = hash
    top = Atomic(ProbeTable.allocate(capacity: capacity).bits)
  }

  deinit {
    var table = ProbeTable(bits: top.load(ordering: .acquiring))
    while let current = table {
      table = current.next
      ProbeTable.destroy(UnsafeMutableRawPointer(current.words))
    }
  }

  // MARK: Public operations

  /// The value for `key`, retained for the caller.
  public func get(_ key: Key) -> Value? {
    let hash = spread(key)
    return domain.withParticipant { participant -> Value? in
      Self.value(lookupWord(key, hash: hash, participant))
    }
  }

  /// Runs `body` with the value for `key` (nil if absent) without retaining it; the value
  /// stays alive while `body` runs. Saves a reference-count write on hot lookups.
  public func withValue<Result>(forKey key: Key, _ body: (Value?) -> Result) -> Result {
    let hash = spread(key)
    return domain.withParticipant { participant -> Result in
      let word = lookupWord(key, hash: hash, participant)
      guard let raw = UnsafeRawPointer(bitPattern: word) else { return body(nil) }
      return Unmanaged<Value>.fromOpaque(raw)._withUnsafeGuaranteedRef { body($0) }
    }
  }

  /// Inserts `value` for `key` unless the key has a value.
  /// - Returns: nil if inserted, otherwise the value already there (nothing changed).
  @discardableResult
  public func insertIfAbsent(_ value: Value, forKey key: Key) -> Value? {
    update(key, to: Self.bits(of: value), expecting: .absent)
  }

  /// Sets the value for `key`, whether or not it had one.
  /// - Returns: the previous value, if any.
  @discardableResult
  public func insertOrReplace(_ value: Value, forKey key: Key) -> Value? {
    update(key, to: Self.bits(of: value), expecting: .anything)
  }

  /// Replaces the value for `key` only if it has one.
  /// - Returns: the previous value, or nil (and nothing changed) if the key had none.
  @discardableResult
  public func replace(_ key: Key, with value: Value) -> Value? {
    update(key, to: Self.bits(of: value), expecting: .present)
  }

  /// Replaces the value for `key` only if it is `expected` (the same object).
  /// - Returns: whether it was replaced.
  public func replace(_ key: Key, ifIdenticalTo expected: Value, with value: Value) -> Bool {
    let expectedBits = Self.bits(of: expected)
    return withExtendedLifetime(expected) {
      let hash = spread(key)
      return domain.withParticipant { participant in
        putIfMatch(key, hash: hash, keyBox: 0, newValue: Self.bits(of: value),
                   expected: .identical(expectedBits), start: currentTable, participant) == expectedBits
      }
    }
  }

  /// Removes the value for `key`.
  /// - Returns: the removed value, if the key had one.
  @discardableResult
  public func remove(_ key: Key) -> Value? {
    update(key, to: SlotWord.tombstone, expecting: .anything)
  }

  /// Removes the value for `key` only if it is `expected` (the same object).
  /// - Returns: whether it was removed.
  public func remove(_ key: Key, ifIdenticalTo expected: Value) -> Bool {
    let expectedBits = Self.bits(of: expected)
    return withExtendedLifetime(expected) {
      let hash = spread(key)
      return domain.withParticipant { participant in
        putIfMatch(key, hash: hash, keyBox: 0, newValue: SlotWord.tombstone,
                   expected: .identical(expectedBits), start: currentTable, participant) == expectedBits
      }
    }
  }

  /// Keys with a value. Exact when no update is running.
  public var count: Int { max(0, live.sum) }

  /// Calls `body` for each key and value (weakly consistent, see the type's doc). Helps
  /// finish a copy in progress first. The thread stays pinned while `body` runs.
  public func forEach(_ body: (Key, Value) -> Void) {
    domain.withParticipant { participant in
      var table = currentTable
      while table.next != nil {
        helpCopy(table, copyAll: true, participant)
        table = currentTable
      }
      for index in 0..<table.capacity {
        let keyWord = table.keyWord(index)
        guard SlotWord.isKey(keyWord) else { continue }
        let boxed = Self.boxedKey(keyWord)
        // The newest value, wherever a later copy moved it.
        let word = lookupWord(boxed.key, hash: boxed.hash, participant)
        guard let raw = UnsafeRawPointer(bitPattern: word) else { continue }
        body(boxed.key, Unmanaged<Value>.fromOpaque(raw).takeUnretainedValue())
      }
    }
  }

  /// The keys and values now (weakly consistent, see the type's doc).
  public func snapshot() -> [(key: Key, value: Value)] {
    var entries: [(key: Key, value: Value)] = []
    forEach { entries.append(($0, $1)) }
    return entries
  }

  /// Copies the live entries into a fresh table sized for them (load at most 1/4), which
  /// drops every tombstone and restores short probes. Other threads keep working and
  /// help with the copy. Returns when the map's current table is the copy (or newer).
  public func compact() {
    domain.withParticipant { participant in
      let table = currentTable
      if table.next == nil {
        let live = count
        var capacity = minimumCapacity
        while capacity < live * 4 { capacity <<= 1 }
        let fresh = ProbeTable.allocate(capacity: capacity)
        if !table.installNext(fresh).installed { ProbeTable.destroy(UnsafeMutableRawPointer(fresh.words)) }
      }
      var current = currentTable
      while current.next != nil {
        helpCopy(current, copyAll: true, participant)
        current = currentTable
      }
    }
  }

  /// `compact()` when the map has become sparse: its table has more than 1,024 slots and
  /// fewer than one in 16 holds a live key (a map that held many keys once and few now).
  /// Cheap when it does nothing (the capacity is read first; the live count only for a
  /// big table), so removers can call it after every removal: a table reaches 16 slots
  /// per live key only after it lost three quarters of what made it grow, so the copies
  /// cost O(1) per removal, amortised.
  public func shrinkIfSparse() {
    let table = currentTable
    guard table.next == nil, table.capacity > max(1024, minimumCapacity), count * 16 < table.capacity else { return }
    compact()
  }

  /// Slots in the current table (one atomic load).
  public var capacity: Int { currentTable.capacity }

  // MARK: Statistics

  /// Occupancy and probe lengths of the current table.
  public struct Statistics: Sendable, Equatable, CustomStringConvertible {
    /// Slots in the current table.
    public var capacity: Int
    /// Keys with a value in the current table.
    public var liveKeys: Int
    /// Key slots whose value was removed (tombstones); dropped by the next copy.
    public var deadKeys: Int
    /// Longest distance of a live key from its home slot (0 = in its home slot).
    public var maxProbeLength: Int
    /// Mean distance of live keys from their home slots.
    public var meanProbeLength: Double
    /// Whether a copy into a new table is under way.
    public var copyInProgress: Bool
    /// Copies completed since the map was made (resizes and compactions).
    public var completedCopies: Int

    public var description: String {
      "capacity \(capacity), live \(liveKeys), dead \(deadKeys), probe max \(maxProbeLength) "
        + "mean \(meanProbeLength), copying \(copyInProgress), copies \(completedCopies)"
    }
  }

  /// Walks the current table (a momentary picture when others are updating).
  public var statistics: Statistics {
    domain.withParticipant { _ in
      let table = currentTable
      var result = Statistics(capacity: table.capacity, liveKeys: 0, deadKeys: 0, maxProbeLength: 0,
                              meanProbeLength: 0, copyInProgress: table.next != nil,
                              completedCopies: promotions.load(ordering: .relaxed))
      var totalProbe = 0
      for index in 0..<table.capacity {
        let keyWord = table.keyWord(index)
        guard SlotWord.isKey(keyWord) else { continue }
        let value = table.valueWord(index)
        guard SlotWord.pointer(value) != 0, value & SlotWord.copiedBit == 0 else {
          result.deadKeys += 1
          continue
        }
        result.liveKeys += 1
        let distance = (index - Self.boxedKey(keyWord).hash) & table.mask
        totalProbe += distance
        result.maxProbeLength = max(result.maxProbeLength, distance)
      }
      if result.liveKeys > 0 { result.meanProbeLength = Double(totalProbe) / Double(result.liveKeys) }
      return result
    }
  }

  // MARK: Algorithm (Click's get / putIfMatch / copy_slot, with tagged words)

  private var currentTable: ProbeTable { ProbeTable(bits: top.load(ordering: .acquiring))! }

  /// The user's hash with its bits mixed (a MurmurHash3 finaliser), so that linear
  /// probing sees well-spread home slots even for weak hashes.
  private func spread(_ key: Key) -> Int {
    var mixed = UInt64(UInt(bitPattern: hashFunction(key)))
    mixed ^= mixed >> 33
    mixed &*= 0xff51_afd7_ed55_8ccd
    mixed ^= mixed >> 33
    mixed &*= 0xc4ce_b9fe_1a85_ec53
    mixed ^= mixed >> 33
    return Int(truncatingIfNeeded: mixed)
  }

  private static func bits(of value: Value) -> UInt {
    let bits = UInt(bitPattern: Unmanaged.passUnretained(value).toOpaque())
    precondition(bits & SlotWord.tagMask == 0, "object address not 8-byte aligned")
    return bits
  }

  /// A strong reference for a value word (call while pinned).
  private static func value(_ word: UInt) -> Value? {
    guard let raw = UnsafeRawPointer(bitPattern: word) else { return nil }
    return Unmanaged<Value>.fromOpaque(raw).takeUnretainedValue()
  }

  private static func boxedKey(_ word: UInt) -> BoxedKey {
    Unmanaged<BoxedKey>.fromOpaque(UnsafeRawPointer(bitPattern: SlotWord.keyPointer(word))!).takeUnretainedValue()
  }

  @inline(__always)
  private func keyMatches(_ word: UInt, _ key: Key, hash: Int, box: UInt) -> Bool {
    if word == box && box != 0 { return true }
    // The hash tag first: other keys are passed over without loading their box.
    guard SlotWord.isKey(word), word & ~SlotWord.keyPointerMask == SlotWord.keyTag(hash) else { return false }
    return Unmanaged<BoxedKey>.fromOpaque(UnsafeRawPointer(bitPattern: SlotWord.keyPointer(word))!)
      ._withUnsafeGuaranteedRef { $0.hash == hash && $0.key == key }
  }

  private func update(_ key: Key, to newValue: UInt, expecting expected: Expectation) -> Value? {
    let hash = spread(key)
    return domain.withParticipant { participant -> Value? in
      let previous = putIfMatch(key, hash: hash, keyBox: 0, newValue: newValue, expected: expected,
                                start: currentTable, participant)
      return SlotWord.isValue(previous) ? Self.value(previous) : nil
    }
  }

  /// The value word for `key` (0 if absent). Pinned.
  private func lookupWord(_ key: Key, hash: Int, _ participant: EpochParticipant) -> UInt {
    var table = currentTable
    probing: while true {
      let mask = table.mask
      let limit = table.reprobeLimit
      var index = hash & mask
      var reprobes = 0
      while true {
        let keyWord = table.keyWord(index)
        let valueWord = table.valueWord(index)
        if keyWord == SlotWord.empty { return 0 }  // never here, nor in any newer table
        let next = table.next
        if keyMatches(keyWord, key, hash: hash, box: 0) {
          if !SlotWord.isFrozen(valueWord) { return SlotWord.isValue(valueWord) ? valueWord : 0 }
          table = copySlotAndCheck(table, index, helpAfterwards: true, participant)
          continue probing
        }
        reprobes += 1
        if reprobes >= limit || keyWord == SlotWord.blocked {
          guard let next else { return 0 }
          helpCopyTop(participant)
          table = next
          continue probing
        }
        index = (index + 1) & mask
      }
    }
  }

  private func accepts(_ expected: Expectation, _ word: UInt) -> Bool {
    switch expected {
    case .anything: return true
    case .absent: return word == SlotWord.empty || word == SlotWord.tombstone
    case .present: return SlotWord.isValue(word)
    case .identical(let bits): return word == bits
    case .neverSet: return word == SlotWord.empty
    }
  }

  /// Click's putIfMatch: sets the value of `key` to `newValue` (a value pointer, or
  /// `tombstone` to remove) if the current value satisfies `expected`. Pinned.
  ///
  /// - Returns: the value word before (a pointer, or `tombstone` for none); for
  ///   `.neverSet`, 0 means the value was copied in by this call.
  private func putIfMatch(_ key: Key, hash: Int, keyBox: UInt, newValue: UInt, expected: Expectation,
                          start: ProbeTable, _ participant: EpochParticipant) -> UInt {
    var box = keyBox
    var madeBox = false
    defer { if madeBox { Self.release(box) } }
    var table = start
    probing: while true {
      let mask = table.mask
      let limit = table.reprobeLimit
      var index = hash & mask
      var reprobes = 0
      var keyWord: UInt
      var valueWord: UInt
      var next: ProbeTable?
      // Find the key's slot, claiming a free one for a new key.
      while true {
        valueWord = table.valueWord(index)
        keyWord = table.keyWord(index)
        if keyWord == SlotWord.empty {
          // Never here, nor in any newer table: nothing to remove or replace.
          if newValue == SlotWord.tombstone { return SlotWord.tombstone }
          switch expected {
          case .present, .identical: return SlotWord.tombstone
          default: break
          }
          if box == 0 {
            let pointer = UInt(bitPattern: Unmanaged.passRetained(BoxedKey(key, hash: hash)).toOpaque())
            precondition(pointer & ~SlotWord.keyPointerMask == 0, "heap address above 48 bits")
            box = pointer | SlotWord.keyTag(hash)
            madeBox = true
          }
          Self.retain(box)  // the slot's reference
          let (claimed, seen) = table.casKey(index, SlotWord.empty, box)
          if claimed {
            table.usedKeySlots.pointee.wrappingAdd(1, ordering: .relaxed)
            keyWord = box
            next = table.next
            break
          }
          Self.release(box)
          keyWord = seen
        }
        next = table.next
        if keyMatches(keyWord, key, hash: hash, box: box) { break }
        reprobes += 1
        if reprobes >= limit || keyWord == SlotWord.blocked {
          // No room within the probe limit (or the table is closing): use the next table.
          let successor = resize(table)
          if expected != .neverSet { helpCopyTop(participant) }
          table = successor
          continue probing
        }
        index = (index + 1) & mask
      }

      // The key's slot in `table`: update its value.
      // A copy lands only where the key never had a value in this table. Once it has had
      // one (even if it was removed since, or frozen by a copy of this table), the slot
      // being copied was copied already and what is here is newer: following the key into
      // a newer table would copy it a second time, reviving a removed key.
      if expected == .neverSet && valueWord != SlotWord.empty && valueWord != SlotWord.frozenNeverSet {
        return valueWord
      }
      if newValue == valueWord { return valueWord }
      if next == nil
        && ((valueWord == SlotWord.empty && isFull(table, reprobes: reprobes)) || SlotWord.isFrozen(valueWord))
      {
        next = resize(table)
      }
      if next != nil {
        table = copySlotAndCheck(table, index, helpAfterwards: expected != .neverSet, participant)
        continue probing
      }
      while true {
        if !accepts(expected, valueWord) {
          return valueWord == SlotWord.empty && expected != .neverSet ? SlotWord.tombstone : valueWord
        }
        if SlotWord.isValue(newValue) { Self.retain(newValue) }  // the slot's reference
        let (exchanged, seen) = table.casValue(index, valueWord, newValue)
        if exchanged {
          if expected != .neverSet {
            if !SlotWord.isValue(valueWord) && SlotWord.isValue(newValue) {
              live.add(1, stripe: participant.index)
            } else if SlotWord.isValue(valueWord) && newValue == SlotWord.tombstone {
              live.add(-1, stripe: participant.index)
            }
          }
          // The slot's reference to the old value goes when readers are done with it.
          if SlotWord.isValue(valueWord) { domain.retire(retained: UnsafeMutableRawPointer(bitPattern: valueWord)!) }
          return valueWord == SlotWord.empty && expected != .neverSet ? SlotWord.tombstone : valueWord
        }
        if SlotWord.isValue(newValue) { Self.release(newValue) }
        valueWord = seen
        if expected == .neverSet && valueWord != SlotWord.frozenNeverSet { return valueWord }  // see above
        if SlotWord.isFrozen(valueWord) {
          table = copySlotAndCheck(table, index, helpAfterwards: expected != .neverSet, participant)
          continue probing
        }
      }
    }
  }

  private func isFull(_ table: ProbeTable, reprobes: Int) -> Bool {
    reprobes >= 10 && Int(table.usedKeySlots.pointee.load(ordering: .relaxed)) >= table.reprobeLimit
  }

  /// Starts a copy of `table` (or joins the one started) and returns the new table.
  /// Size: double when a quarter of the slots is live, quadruple at half, else the same
  /// size (a table full of dead keys is rebuilt without them).
  private func resize(_ table: ProbeTable) -> ProbeTable {
    if let next = table.next { return next }
    let capacity = table.capacity
    let size = count
    var newCapacity = capacity
    if size >= capacity >> 2 {
      newCapacity = capacity << 1
      if size >= capacity >> 1 { newCapacity = capacity << 2 }
    }
    if let next = table.next { return next }
    let fresh = ProbeTable.allocate(capacity: newCapacity)
    let (installed, next) = table.installNext(fresh)
    if !installed { ProbeTable.destroy(UnsafeMutableRawPointer(fresh.words)) }
    return next
  }

  /// Copies slot `index` of `old` into its successor, records the work, optionally helps
  /// the copy of the top table along; returns the successor.
  private func copySlotAndCheck(_ old: ProbeTable, _ index: Int, helpAfterwards: Bool,
                                _ participant: EpochParticipant) -> ProbeTable {
    let next = old.next!
    if copySlot(index, from: old, to: next, participant) { recordCopied(old, slots: 1) }
    if helpAfterwards { helpCopyTop(participant) }
    return next
  }

  /// Freezes slot `index` of `old` and copies its value into `new`.
  /// - Returns: true if this call is the one that marked the slot's copy complete (each
  ///   slot is counted exactly once, which is what allows promotion).
  private func copySlot(_ index: Int, from old: ProbeTable, to new: ProbeTable,
                        _ participant: EpochParticipant) -> Bool {
    // Close a never-used key slot, so no new key lands in a table being copied.
    var keyWord = old.keyWord(index)
    while keyWord == SlotWord.empty {
      _ = old.casKey(index, SlotWord.empty, SlotWord.blocked)
      keyWord = old.keyWord(index)
    }
    // Freeze the value so it cannot change here any more.
    var valueWord = old.valueWord(index)
    while !SlotWord.isFrozen(valueWord) {
      let frozen = SlotWord.isValue(valueWord) ? valueWord | SlotWord.frozenBit
        : valueWord == SlotWord.empty ? SlotWord.frozenNeverSet : SlotWord.frozenTombstone
      let (exchanged, seen) = old.casValue(index, valueWord, frozen)
      if exchanged {
        if !SlotWord.isValue(valueWord) { return true }  // nothing to copy: done
        valueWord = frozen
        break
      }
      valueWord = seen
    }
    if valueWord & SlotWord.copiedBit != 0 { return false }  // someone finished it
    // Copy, only into a slot that never had a value: anything there is newer.
    let boxed = Self.boxedKey(keyWord)
    _ = putIfMatch(boxed.key, hash: boxed.hash, keyBox: keyWord, newValue: SlotWord.pointer(valueWord),
                   expected: .neverSet, start: new, participant)
    // The value is in the new table now (this call's or a helper's copy, or something
    // newer). Mark the slot done so other helpers skip it (the old slot keeps its reference
    // until freed); the one call whose mark lands counts it, so each slot counts once
    // however many helpers copied it.
    while valueWord & SlotWord.copiedBit == 0 {
      let (exchanged, seen) = old.casValue(index, valueWord, valueWord | SlotWord.copiedBit)
      if exchanged { return true }
      valueWord = seen
    }
    return false
  }

  /// Adds `slots` confirmed copies to `old`; when all are done and `old` is the top
  /// table, promotes its successor and retires `old`.
  private func recordCopied(_ old: ProbeTable, slots: Int) {
    let done: Int
    if slots > 0 {
      done = Int(old.copyDone.pointee.wrappingAdd(UInt(slots), ordering: .acquiringAndReleasing).newValue)
    } else {
      done = Int(old.copyDone.pointee.load(ordering: .acquiring))
    }
    precondition(done <= old.capacity, "copy counted \(done) of \(old.capacity) slots")
    guard done == old.capacity, top.load(ordering: .acquiring) == old.bits, let next = old.next else { return }
    if top.compareExchange(expected: old.bits, desired: next.bits, ordering: .acquiringAndReleasing).exchanged {
      promotions.wrappingAdd(1, ordering: .relaxed)
      domain.retireSealed(UnsafeMutableRawPointer(old.words), free: ProbeTable.destroy)
    }
  }

  /// Helps the copy of the top table, if one is under way (a chunk of it).
  private func helpCopyTop(_ participant: EpochParticipant) {
    let table = currentTable
    if table.next != nil { helpCopy(table, copyAll: false, participant) }
  }

  /// Copies chunks of `old` (1024 slots at a time, handed out by `copyIndex`); with
  /// `copyAll`, until the copy is complete. After two rounds of handed-out work without
  /// completion ("panic", Click), copies every slot itself rather than wait.
  private func helpCopy(_ old: ProbeTable, copyAll: Bool, _ participant: EpochParticipant) {
    guard let new = old.next else { return }
    let capacity = old.capacity
    let chunk = min(capacity, 1024)
    var panicking = false
    var start = 0
    while Int(old.copyDone.pointee.load(ordering: .acquiring)) < capacity {
      if !panicking {
        start = Int(old.copyIndex.pointee.load(ordering: .acquiring))
        while start < 2 * capacity {
          let (exchanged, seen) = old.copyIndex.pointee.compareExchange(
            expected: UInt(start), desired: UInt(start + chunk), ordering: .acquiringAndReleasing)
          if exchanged { break }
          start = Int(seen)
        }
        if start >= 2 * capacity { panicking = true }
      }
      var work = 0
      for offset in 0..<chunk where copySlot((start + offset) & (capacity - 1), from: old, to: new, participant) {
        work += 1
      }
      if work > 0 { recordCopied(old, slots: work) }
      start += chunk
      if !copyAll && !panicking { return }
    }
    recordCopied(old, slots: 0)  // another thread may have finished without promoting
  }

  /// Retains the object of a value or key word.
  private static func retain(_ word: UInt) {
    _ = Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: SlotWord.keyPointer(word))!).retain()
  }

  /// Releases the object of a value or key word.
  private static func release(_ word: UInt) {
    Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: SlotWord.keyPointer(word))!).release()
  }
}
