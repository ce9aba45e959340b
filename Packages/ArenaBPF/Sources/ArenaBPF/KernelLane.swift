import CArenaStructures
import SystemPackage

/// A lane between user space and `SEC("syscall")` programs (bpf/arena_lane.bpf.c) run on
/// demand with BPF_PROG_TEST_RUN, over a structure in a BPF arena.
/// - user -> kernel: user space pushes, `drain()` takes everything inside the kernel
///   and reports count and checksum. For the io_uring-style pair the program answers
///   each submission with a completion (result = value + 1) that `structure.reap()`
///   returns.
/// - kernel -> user: `produce()` pushes announced values from inside the kernel while
///   any thread pops them through `structure` (SPSC, MPMC, Michael-Scott, Treiber).
/// The lane object is not thread-safe (one owner runs the programs); `structure` may be
/// used from other threads within its producer/consumer rules.
public final class KernelLane {
  public let structure: ArenaStructure
  private let programs: BPFProgramSet
  private let base: UnsafeMutableRawPointer

  /// Loads the lane program and lays out `kind` with `capacity` in its arena.
  /// - Throws: `.invalidArgument` for a capacity the structure or arena cannot take,
  ///   `.kernel` when the program does not load.
  public init(kind: ArenaStructureKind, capacity: UInt32) throws(ArenaError) {
    programs = try BPFProgramSet(.arenaLane, programs: ["lane_drain", "lane_fill"])
    let (base, byteCount) = try programs.mapArena()
    self.base = base
    ermfs_arena_control_init(base)
    structure = try ArenaStructure.create(kind, capacity: capacity, base: base, offset: 4096, limit: byteCount)
    // Rings whose init writes no slot (SPSC, the io_uring pair) would otherwise leave
    // pages a kernel producer's stores silently vanish into.
    ermfs_arena_prefault(base, UInt64(4096 + ArenaStructure.requiredBytes(kind: kind, capacity: capacity)))
    ermfs_arena_control_set_lane(base, kind.rawValue, structure.offset, 0, 0)
  }

  /// For the hash set: which keys the next drain removes, [first, first + count).
  public func announceKeys(first: UInt64, count: UInt64) {
    ermfs_arena_control_set_lane(base, structure.kind.rawValue, structure.offset, first, count)
  }

  /// Tests only: makes the lane programs spend their whole loop budget at the given
  /// `ERMFS_FAULT_*` points, to exercise what runs after it is gone.
  func injectFaults(_ points: UInt32) {
    ermfs_arena_control_set_fault_injection(base, points)
  }

  /// Totals over every drain so far.
  public struct Totals: Sendable, Equatable {
    /// Values `drain()` took, and their sum.
    public var consumed: UInt64
    public var checksum: UInt64
    public var runs: UInt64
    /// Values `produce()` pushed, and their sum.
    public var produced: UInt64
    public var producedChecksum: UInt64
  }

  /// Kernel -> user: the values the next `produce()` runs push, [first, first + count);
  /// replaces what is left of an earlier announcement.
  public func announceValues(first: UInt64, count: UInt64) {
    ermfs_arena_control_set_fill(base, first, count)
  }

  /// Runs the kernel producer once: it pushes announced values in order until all are
  /// in or the structure is full (then run it again once a consumer made room). Returns
  /// how many values are still to push. Parked pool nodes are reclaimed afterwards.
  /// The corresponding C function is `bpf_prog_test_run_opts`.
  /// - Throws: `.invalidArgument` for the io_uring pair and the hash set, `.kernel`
  ///   if the run fails.
  @discardableResult
  public func produce() throws(ArenaError) -> UInt64 {
    guard [.spsc, .mpmc, .msqueue, .treiber].contains(structure.kind) else { throw .invalidArgument }
    let result = try programs.run("lane_fill")
    guard result == 0 else { throw ArenaError(status: result) }
    structure.reclaimParkedNodes()
    var counters = ermfs_arena_counters()
    ermfs_arena_control_read(base, &counters)
    if counters.lane_fill_status != 0 && counters.lane_fill_status != -1 && counters.lane_fill_status != -6 {
      throw ArenaError(status: Int32(counters.lane_fill_status))
    }
    return counters.lane_fill_end &- counters.lane_fill_next
  }

  /// Runs the kernel consumer once; it takes everything currently in the structure.
  /// The corresponding C function is `bpf_prog_test_run_opts`.
  /// - Throws: `.kernel` if the run fails, or the drain's own stop reason when it was
  ///   not "empty" (e.g. `.loopBudgetExhausted`).
  @discardableResult
  public func drain() throws(ArenaError) -> Totals {
    let result = try programs.run("lane_drain")
    guard result == 0 else { throw ArenaError(status: result) }
    let totals = self.totals
    var counters = ermfs_arena_counters()
    ermfs_arena_control_read(base, &counters)
    if counters.lane_status != 0 && counters.lane_status != -2 {
      throw ArenaError(status: Int32(counters.lane_status))
    }
    return totals
  }

  public var totals: Totals {
    var counters = ermfs_arena_counters()
    ermfs_arena_control_read(base, &counters)
    return Totals(
      consumed: counters.lane_consumed, checksum: counters.lane_checksum, runs: counters.lane_runs,
      produced: counters.lane_produced, producedChecksum: counters.lane_produced_checksum)
  }
}
