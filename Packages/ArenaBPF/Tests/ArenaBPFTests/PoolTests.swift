import ArenaBPF
import CArenaStructures
import Testing

/// The one arena allocator: a node pool with an ABA-tagged free list.
@Suite("Pool: tagged free list")
struct PoolTests {
  static let poolOffset: UInt32 = 4096

  func makePool(nodes: UInt32) throws -> SharedMapping {
    let mapping = try SharedMapping(byteCount: 4096 + Int(ermfs_arena_pool_bytes(16, nodes)))
    #expect(ermfs_arena_pool_init(mapping.baseAddress, Self.poolOffset, 16, nodes) == 0)
    return mapping
  }

  func head(_ mapping: SharedMapping) -> UInt64 {
    mapping.baseAddress.load(fromByteOffset: Int(Self.poolOffset), as: UInt64.self)
  }

  @Test func headWordChangesWhenTheSameNodeReturnsToTheTop() throws {
    // The ABA case: X on top, X and Y taken, X given back. A CAS prepared while X was
    // first on top must fail, so the word must differ although the offset is the same.
    let mapping = try makePool(nodes: 4)
    let before = head(mapping)
    var status: Int32 = 0
    let x = ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status)
    let y = ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status)
    #expect(x != 0 && y != 0 && x != y)
    #expect(ermfs_arena_pool_free(mapping.baseAddress, Self.poolOffset, x) == 0)
    let after = head(mapping)
    #expect(UInt32(truncatingIfNeeded: after) == UInt32(truncatingIfNeeded: before))
    #expect(after != before)
  }

  @Test func allocReportsEmptyOnlyWhenEveryNodeIsTaken() throws {
    let mapping = try makePool(nodes: 3)
    var status: Int32 = 0
    var taken: Set<UInt32> = []
    for _ in 0..<3 { taken.insert(ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status)) }
    #expect(taken.count == 3 && !taken.contains(0))
    #expect(ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status) == 0)
    #expect(status == -1)  // -ARENA_EFULL: truly no node left
    var free: UInt64 = 99
    var parked: UInt64 = 99
    #expect(ermfs_arena_pool_verify(mapping.baseAddress, Self.poolOffset, &free, &parked) == 0)
    #expect(free == 0 && parked == 0)
  }

  @Test func concurrentAllocAndFreeNeverHandOneNodeToTwoOwners() throws {
    let mapping = try makePool(nodes: 64)
    let base = UInt(bitPattern: mapping.baseAddress)
    let rounds = 500_000
    let conflicts = SharedCounter()
    runThreads(
      (0..<2).map { owner -> @Sendable () -> Void in
        {
          let base = UnsafeMutableRawPointer(bitPattern: base)!
          var status: Int32 = 0
          for _ in 0..<rounds {
            let node = ermfs_arena_pool_alloc(base, Self.poolOffset, &status)
            guard node != 0 else { continue }
            // Mark the node ours, give the other thread a chance, check nobody else did.
            let value = base + Int(node) + 8
            value.storeBytes(of: UInt64(owner + 1), as: UInt64.self)
            ermfs_arena_cpu_relax()
            if value.load(as: UInt64.self) != UInt64(owner + 1) { conflicts.value.add(1, ordering: .relaxed) }
            _ = ermfs_arena_pool_free(base, Self.poolOffset, node)
          }
        }
      })
    #expect(conflicts.value.load(ordering: .relaxed) == 0)
    var free: UInt64 = 0
    var parked: UInt64 = 0
    #expect(ermfs_arena_pool_verify(mapping.baseAddress, Self.poolOffset, &free, &parked) == 0)
    #expect(free == 64 && parked == 0)
  }

  func counts(_ mapping: SharedMapping) -> (free: UInt64, parked: UInt64) {
    var free: UInt64 = 0
    var parked: UInt64 = 0
    #expect(ermfs_arena_pool_verify(mapping.baseAddress, Self.poolOffset, &free, &parked) == 0)
    return (free, parked)
  }

  @Test func parkedNodesAreCountedAndComeBackWhenTheFreeListRunsDry() throws {
    // What BPF does when its loop budget is gone: park instead of free.
    let mapping = try makePool(nodes: 4)
    var status: Int32 = 0
    let nodes = (0..<4).map { _ in ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status) }
    ermfs_arena_pool_park(mapping.baseAddress, Self.poolOffset, nodes[0])
    ermfs_arena_pool_park(mapping.baseAddress, Self.poolOffset, nodes[1])
    #expect(ermfs_arena_pool_free(mapping.baseAddress, Self.poolOffset, nodes[2]) == 0)
    #expect(counts(mapping) == (1, 2))
    // The free list holds one node; the next two allocations take the parked ones back.
    let again = (0..<3).map { _ in ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status) }
    #expect(Set(again) == Set(nodes[0...2]))
    #expect(ermfs_arena_pool_alloc(mapping.baseAddress, Self.poolOffset, &status) == 0 && status == -1)
    #expect(counts(mapping) == (0, 0))
  }

  @Test func concurrentParkingAndReclaimingLoseNoNode() throws {
    let nodes: UInt32 = 64
    let mapping = try makePool(nodes: nodes)
    let base = UInt(bitPattern: mapping.baseAddress)
    let rounds = 200_000
    let conflicts = SharedCounter()
    runThreads(
      (0..<2).map { owner -> @Sendable () -> Void in
        {
          let base = UnsafeMutableRawPointer(bitPattern: base)!
          var status: Int32 = 0
          for round in 0..<rounds {
            let node = ermfs_arena_pool_alloc(base, Self.poolOffset, &status)
            guard node != 0 else { continue }
            let value = base + Int(node) + 8
            value.storeBytes(of: UInt64(owner + 1), as: UInt64.self)
            ermfs_arena_cpu_relax()
            if value.load(as: UInt64.self) != UInt64(owner + 1) { conflicts.value.add(1, ordering: .relaxed) }
            // Owner 0 parks every other node (a BPF producer out of budget); allocations
            // on an empty free list and owner 1's reclaims bring them back.
            if owner == 0 && round % 2 == 0 {
              ermfs_arena_pool_park(base, Self.poolOffset, node)
            } else {
              _ = ermfs_arena_pool_free(base, Self.poolOffset, node)
              if owner == 1 && round % 7 == 0 { _ = ermfs_arena_pool_reclaim(base, Self.poolOffset) }
            }
          }
        }
      })
    #expect(conflicts.value.load(ordering: .relaxed) == 0)
    let (free, parked) = counts(mapping)
    #expect(free + parked == UInt64(nodes))
    _ = ermfs_arena_pool_reclaim(mapping.baseAddress, Self.poolOffset)
    #expect(counts(mapping) == (UInt64(nodes), 0))
  }
}
