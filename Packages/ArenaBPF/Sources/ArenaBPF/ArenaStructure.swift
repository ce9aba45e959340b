import CArenaStructures

/// The lock-free structures of bpf/include, one API shape for all of them.
public enum ArenaStructureKind: Int32, Sendable, CaseIterable, CustomStringConvertible {
  /// Bounded single-producer single-consumer ring (Lamport / Folly). FIFO.
  case spsc = 0
  /// Vyukov's bounded multi-producer multi-consumer queue. FIFO per producer.
  case mpmc = 1
  /// Michael-Scott queue over pool nodes, tagged pointers. FIFO per producer.
  case msqueue = 2
  /// Treiber stack over pool nodes, tagged top. LIFO.
  case treiber = 3
  /// io_uring-style SQ/CQ ring pair: push submits, pop reaps. One submitter, one server, one reaper.
  case uring = 4
  /// Open-addressing set of u64 keys: push inserts, pop removes the given key.
  case hashset = 5

  public var description: String {
    switch self {
    case .spsc: return "spsc"
    case .mpmc: return "mpmc"
    case .msqueue: return "msqueue"
    case .treiber: return "treiber"
    case .uring: return "uring"
    case .hashset: return "hashset"
    }
  }

  /// Parses the names used on the command line (`spsc`, `mpmc`, ...).
  public init?(name: String) {
    guard let kind = Self.allCases.first(where: { $0.description == name }) else { return nil }
    self = kind
  }

  /// Whether the structure takes its nodes from the arena pool.
  public var usesPool: Bool { self == .msqueue || self == .treiber }

  /// Whether every consumer sees each producer's values in push order.
  public var isFIFO: Bool { self == .spsc || self == .mpmc || self == .msqueue || self == .uring }

  /// Whether several threads may push (and several pop) at once.
  public var isMultiProducer: Bool { self == .mpmc || self == .msqueue || self == .treiber || self == .hashset }
}

/// One structure living at a fixed offset of an arena-like mapping, plus its pool when
/// it needs one. A value type holding addresses: copies name the same structure, and
/// any thread may use it concurrently within the structure's producer/consumer rules.
public struct ArenaStructure: @unchecked Sendable {
  // @unchecked: `base` points at shared memory that is only touched through the
  // arena_atomic wrappers, which is what makes concurrent use sound.
  public let kind: ArenaStructureKind
  public let base: UnsafeMutableRawPointer
  /// Byte offset of the structure header from `base`.
  public let offset: UInt32
  /// Byte offset of its node pool, 0 when it has none.
  public let poolOffset: UInt32
  public let capacity: UInt32

  static let nodeSize: UInt32 = 16

  /// Bytes the structure (and its pool, placed right after it) needs.
  public static func requiredBytes(kind: ArenaStructureKind, capacity: UInt32) -> Int {
    let structure = align(Int(ermfs_arena_bytes(kind.rawValue, capacity)))
    guard kind.usesPool else { return structure }
    // In Int: a capacity near UInt32.max must give a size that fails the checks, not trap.
    return structure + Int(ermfs_arena_pool_bytes(nodeSize, 0)) + Int(nodeSize) * poolNodes(kind: kind, capacity: capacity)
  }

  /// Lays out and initialises a structure at `offset` of the mapping at `base`. Not
  /// thread-safe: publish the returned value to other threads afterwards.
  /// The corresponding C functions are `arena_<kind>_init` and `arena_pool_init`.
  /// - Parameters:
  ///   - capacity: slots (rings, set: a power of two) or values (pool-backed kinds).
  ///   - limit: bytes of the mapping; the structure must fit below it.
  /// - Throws: `.invalidArgument` for a bad capacity, offset 0, or a layout past `limit`.
  public static func create(
    _ kind: ArenaStructureKind, capacity: UInt32, base: UnsafeMutableRawPointer, offset: UInt32, limit: Int
  ) throws(ArenaError) -> ArenaStructure {
    guard offset != 0, offset % 64 == 0, capacity > 0,
      Int(offset) + requiredBytes(kind: kind, capacity: capacity) <= min(limit, 1 << 32)  // 32-bit offsets
    else { throw .invalidArgument }
    var pool: UInt32 = 0
    if kind.usesPool {
      pool = offset + UInt32(align(Int(ermfs_arena_bytes(kind.rawValue, capacity))))
      let status = ermfs_arena_pool_init(base, pool, nodeSize, UInt32(poolNodes(kind: kind, capacity: capacity)))
      guard status == 0 else { throw ArenaError(status: status) }
    }
    let status = ermfs_arena_init(kind.rawValue, base, offset, capacity, pool)
    guard status == 0 else { throw ArenaError(status: status) }
    return ArenaStructure(kind: kind, base: base, offset: offset, poolOffset: pool, capacity: capacity)
  }

  /// Adds `value`. The corresponding C function is `arena_<kind>_push`.
  /// - Throws: `.full` when there is truly no room; for the hash set `.exists` when the
  ///   key is present and `.invalidArgument` for the reserved keys 0 and ~0.
  @inline(__always)
  public func push(_ value: UInt64) throws(ArenaError) {
    let status = ermfs_arena_push(kind.rawValue, base, offset, value)
    if status != 0 { throw ArenaError(status: status) }
  }

  /// Takes the next value, or nil when the structure is truly empty. For the hash set
  /// use `remove(_:)`. The corresponding C function is `arena_<kind>_pop`.
  @inline(__always)
  public func pop() throws(ArenaError) -> UInt64? {
    var value: UInt64 = 0
    let status = ermfs_arena_pop(kind.rawValue, base, offset, &value)
    if status == 0 { return value }
    if status == -2 { return nil }
    throw ArenaError(status: status)
  }

  /// Hash set: removes `key`; true for exactly one of several racing removers.
  /// The corresponding C function is `arena_hashset_pop`.
  public func remove(_ key: UInt64) throws(ArenaError) -> Bool {
    var value = key
    let status = ermfs_arena_pop(kind.rawValue, base, offset, &value)
    if status == 0 { return true }
    if status == -2 { return false }
    throw ArenaError(status: status)
  }

  /// Hash set: whether `key` is present. The corresponding C function is `arena_hashset_contains`.
  public func contains(_ key: UInt64) -> Bool {
    ermfs_arena_hashset_contains(base, offset, key) != 0
  }

  /// Walks the structure (call it quiescent) and returns how many values it holds; for
  /// pool-backed kinds also checks that held, free and parked nodes (and the queue's
  /// dummy) add up to exactly the whole pool: a lost node is `.corrupt`.
  /// The corresponding C functions are `arena_<kind>_verify` and `arena_pool_verify`.
  public func verify() throws(ArenaError) -> UInt64 {
    var count: UInt64 = 0
    let status = ermfs_arena_verify(kind.rawValue, base, offset, &count)
    guard status == 0 else { throw ArenaError(status: status) }
    if kind.usesPool {
      var free: UInt64 = 0
      var parked: UInt64 = 0
      let poolStatus = ermfs_arena_pool_verify(base, poolOffset, &free, &parked)
      guard poolStatus == 0 else { throw ArenaError(status: poolStatus) }
      let dummy: UInt64 = kind == .msqueue ? 1 : 0
      guard count + free + parked + dummy == UInt64(Self.poolNodes(kind: kind, capacity: capacity)) else {
        throw .corrupt
      }
    }
    return count
  }

  /// Moves nodes a BPF program parked (its loop budget ran out while giving them back)
  /// to the free list; returns how many. Pushes do this by themselves when the free list
  /// is empty. The corresponding C function is `arena_pool_reclaim`.
  @discardableResult
  public func reclaimParkedNodes() -> UInt64 {
    kind.usesPool ? ermfs_arena_pool_reclaim(base, poolOffset) : 0
  }

  /// io_uring pair, server side: takes the next submission when a completion slot is
  /// free. The corresponding C function is `arena_uring_take`.
  public func take() throws(ArenaError) -> (userData: UInt64, arg: UInt64)? {
    var userData: UInt64 = 0
    var arg: UInt64 = 0
    let status = ermfs_arena_uring_take(base, offset, &userData, &arg)
    if status == 0 { return (userData, arg) }
    if status == -2 || status == -1 { return nil }
    throw ArenaError(status: status)
  }

  /// io_uring pair, server side: posts the completion of a taken submission.
  /// The corresponding C function is `arena_uring_complete`.
  public func complete(userData: UInt64, result: Int64) throws(ArenaError) {
    let status = ermfs_arena_uring_complete(base, offset, userData, result)
    if status != 0 { throw ArenaError(status: status) }
  }

  /// io_uring pair: reaps the next completion, or nil when none is ready.
  /// The corresponding C function is `arena_uring_reap`.
  public func reap() throws(ArenaError) -> (userData: UInt64, result: Int64)? {
    var userData: UInt64 = 0
    var result: Int64 = 0
    let status = ermfs_arena_uring_reap(base, offset, &userData, &result)
    if status == 0 { return (userData, result) }
    if status == -2 { return nil }
    throw ArenaError(status: status)
  }

  /// The Michael-Scott queue keeps one dummy node besides its `capacity` values.
  static func poolNodes(kind: ArenaStructureKind, capacity: UInt32) -> Int {
    kind == .msqueue ? Int(capacity) + 1 : Int(capacity)
  }

  static func align(_ n: Int) -> Int { (n + 63) / 64 * 64 }
}
