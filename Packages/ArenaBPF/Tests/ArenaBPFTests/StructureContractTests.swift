import ArenaBPF
import Testing

/// Single-threaded contracts of the one API shape: true full, true empty, bad input,
/// and verify catching a broken structure.
@Suite("Contracts of push, pop and verify")
struct StructureContractTests {
  static let capacity: UInt32 = 8

  func make(_ kind: ArenaStructureKind, capacity: UInt32 = capacity) throws -> (SharedMapping, ArenaStructure) {
    let mapping = try SharedMapping(byteCount: 4096 + ArenaStructure.requiredBytes(kind: kind, capacity: capacity))
    let structure = try ArenaStructure.create(
      kind, capacity: capacity, base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
    return (mapping, structure)
  }

  @Test(arguments: [ArenaStructureKind.spsc, .mpmc, .msqueue, .treiber, .uring])
  func pushReportsFullExactlyAtCapacity(_ kind: ArenaStructureKind) throws {
    let (mapping, structure) = try make(kind)
    for i in 0..<UInt64(Self.capacity) { try structure.push(i + 1) }
    #expect(throws: ArenaError.full) { try structure.push(99) }
    #expect(try structure.verify() == UInt64(Self.capacity))
    withExtendedLifetime(mapping) {}
  }

  @Test(arguments: [ArenaStructureKind.spsc, .mpmc, .msqueue, .treiber])
  func popReturnsNilWhenEmptyAndValuesInTheStructuresOrder(_ kind: ArenaStructureKind) throws {
    let (mapping, structure) = try make(kind)
    #expect(try structure.pop() == nil)
    for i in 1...3 as ClosedRange<UInt64> { try structure.push(i) }
    let out = [try structure.pop(), try structure.pop(), try structure.pop()]
    #expect(out == (kind == .treiber ? [3, 2, 1] : [1, 2, 3]))
    #expect(try structure.pop() == nil)
    #expect(try structure.verify() == 0)
    withExtendedLifetime(mapping) {}
  }

  @Test func uringCompletionsArriveOnlyAfterTheServerAnswers() throws {
    let (mapping, ring) = try make(.uring)
    try ring.push(7)
    #expect(try ring.pop() == nil)
    let sqe = try #require(try ring.take())
    #expect(sqe.userData == 7)
    try ring.complete(userData: sqe.userData, result: -5)
    let cqe = try #require(try ring.reap())
    #expect(cqe.userData == 7 && cqe.result == -5)
    withExtendedLifetime(mapping) {}
  }

  @Test func hashsetRejectsDuplicateAndReservedKeys() throws {
    let (mapping, set) = try make(.hashset)
    try set.push(42)
    #expect(throws: ArenaError.exists) { try set.push(42) }
    #expect(throws: ArenaError.invalidArgument) { try set.push(0) }
    #expect(throws: ArenaError.invalidArgument) { try set.push(.max) }
    #expect(try set.remove(42))
    #expect(try !set.remove(42))
    try set.push(42)  // a removed key may come back
    #expect(set.contains(42))
    withExtendedLifetime(mapping) {}
  }

  @Test func hashsetReportsFullWhenNoEmptySlotIsLeft() throws {
    let (mapping, set) = try make(.hashset)
    for key in 1...UInt64(Self.capacity) { try set.push(key) }
    #expect(throws: ArenaError.full) { try set.push(1000) }
    withExtendedLifetime(mapping) {}
  }

  @Test(arguments: [ArenaStructureKind.spsc, .mpmc, .uring, .hashset])
  func createRejectsCapacityThatIsNotAPowerOfTwo(_ kind: ArenaStructureKind) throws {
    let mapping = try SharedMapping(byteCount: 1 << 16)
    #expect(throws: ArenaError.invalidArgument) {
      _ = try ArenaStructure.create(kind, capacity: 6, base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
    }
  }

  @Test func createRejectsALayoutPastTheMapping() throws {
    let mapping = try SharedMapping(byteCount: 4096)
    #expect(throws: ArenaError.invalidArgument) {
      _ = try ArenaStructure.create(.mpmc, capacity: 1024, base: mapping.baseAddress, offset: 64, limit: mapping.byteCount)
    }
  }

  @Test func createRejectsTheLargestCapacityWithoutOverflowing() throws {
    let mapping = try SharedMapping(byteCount: 1 << 16)
    for kind in [ArenaStructureKind.msqueue, .treiber] {
      #expect(throws: ArenaError.invalidArgument) {
        _ = try ArenaStructure.create(kind, capacity: .max, base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
      }
    }
  }

  @Test func verifyCatchesACycleInTheMichaelScottQueue() throws {
    let (mapping, queue) = try make(.msqueue)
    try queue.push(1)
    try queue.push(2)
    // Point the last node back at the first: a walk must not loop forever or pass.
    let head = mapping.baseAddress.load(fromByteOffset: 4096, as: UInt64.self) & 0xffff_ffff
    let first = mapping.baseAddress.load(fromByteOffset: Int(head), as: UInt64.self) & 0xffff_ffff
    let second = mapping.baseAddress.load(fromByteOffset: Int(first), as: UInt64.self) & 0xffff_ffff
    mapping.baseAddress.storeBytes(of: first, toByteOffset: Int(second), as: UInt64.self)
    #expect(throws: ArenaError.corrupt) { _ = try queue.verify() }
  }

  @Test func verifyCatchesAnMPMCCellOutOfTurn() throws {
    let (mapping, queue) = try make(.mpmc)
    try queue.push(1)
    // Cells start after three cache lines of header; bump cell 0's sequence.
    mapping.baseAddress.storeBytes(of: UInt64(5), toByteOffset: 4096 + 192, as: UInt64.self)
    #expect(throws: ArenaError.corrupt) { _ = try queue.verify() }
  }

  @Test func sharedMappingRejectsNonPositiveSizes() {
    #expect(throws: ArenaError.invalidArgument) { _ = try SharedMapping(byteCount: 0) }
  }
}
