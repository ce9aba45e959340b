import CArenaStructures
import SystemPackage

/// The user -> kernel lane: user space pushes into a structure in a BPF arena and a
/// `SEC("syscall")` program (bpf/arena_lane.bpf.c), run on demand with
/// BPF_PROG_TEST_RUN, drains it inside the kernel and reports count and checksum.
/// For the io_uring-style pair the program also answers each submission with a
/// completion (result = value + 1) that `structure.reap()` returns. Not thread-safe:
/// one owner drives the lane.
public final class KernelLane {
  public let structure: ArenaStructure
  private let programs: BPFProgramSet
  private let base: UnsafeMutableRawPointer

  /// Loads the lane program and lays out `kind` with `capacity` in its arena.
  /// - Throws: `.invalidArgument` for a capacity the structure or arena cannot take,
  ///   `.kernel` when the program does not load.
  public init(kind: ArenaStructureKind, capacity: UInt32) throws(ArenaError) {
    programs = try BPFProgramSet(.arenaLane, programs: ["lane_drain"])
    let (base, byteCount) = try programs.mapArena()
    self.base = base
    ermfs_arena_control_init(base)
    structure = try ArenaStructure.create(kind, capacity: capacity, base: base, offset: 4096, limit: byteCount)
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
    public var consumed: UInt64
    public var checksum: UInt64
    public var runs: UInt64
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
    return Totals(consumed: counters.lane_consumed, checksum: counters.lane_checksum, runs: counters.lane_runs)
  }
}
