import SystemPackage
import Testing
@testable import ErmAlloc

@Suite struct ExtentBufferTests {
  @Test func aSmallOnHeapBufferMakesNoMappingUntilItOutgrowsTheHeapLimit() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator, smallOnHeap: true)
    try buffer.resize(to: 10_000, populating: true)
    buffer.withUnsafeMutableBytes { fillPattern($0, seed: 3) }
    #expect(buffer.isOnHeap)
    #expect(allocator.mappingCallCounts.mmap == 0)
    #expect(allocator.statistics.regions == 0)
    #expect(allocator.statistics.bytesLive == 10_000)
    try buffer.resize(to: ExtentBuffer.heapLimit + 1)  // one copy into a mapping
    #expect(!buffer.isOnHeap)
    #expect(allocator.mappingCallCounts.mmap == 1)
    #expect(allocator.statistics.regions == 1)
    let kept = buffer.withUnsafeBytes { matchesPattern(UnsafeRawBufferPointer(rebasing: $0[..<10_000]), seed: 3) }
    #expect(kept)
    let zeros = buffer.withUnsafeBytes { $0[10_000...].allSatisfy { $0 == 0 } }
    #expect(zeros, "grown bytes read as zero")
  }

  @Test func aHeapBufferKeepsGrownAndShrunkBytesZero() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator(), smallOnHeap: true)
    try buffer.resize(to: 3000)
    buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0xAB) }
    try buffer.resize(to: 1000)
    try buffer.resize(to: 5000)
    let bytes = buffer.withUnsafeBytes { Array($0) }
    #expect(bytes[..<1000].allSatisfy { $0 == 0xAB })
    #expect(bytes[1000...].allSatisfy { $0 == 0 }, "shrinking cleared what growing shows again")
    try buffer.zero(10..<20)
    #expect(buffer.withUnsafeBytes { $0[10..<20].allSatisfy { $0 == 0 } })
  }

  @Test func aHeapBufferAdoptedAsABlobAndReleasedLeavesTheAllocatorEmpty() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator, smallOnHeap: true)
    try buffer.resize(to: 7000)
    buffer.withUnsafeMutableBytes { fillPattern($0, seed: 9) }
    let blob = try allocator.makeBlob(adopting: buffer, count: 5000)
    #expect(buffer.capacity == 0)
    #expect(blob.withUnsafeBytes { matchesPattern($0, seed: 9) })
    #expect(allocator.statistics.bytesLive == 5000)
    _ = consume blob
    let other = try ExtentBuffer(allocator: allocator, smallOnHeap: true)
    try other.resize(to: 100)
    other.release()
    #expect(allocator.statistics.bytesLive == 0)
    #expect(allocator.statistics.bytesReserved == 0)
  }

  @Test func zeroingARangeClearsItsBytesAndGivesItsWholePagesBack() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 8 * page)
    buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0xAB) }
    let before = try buffer.residentBytes()
    try buffer.zero((page / 2)..<(6 * page + 10))
    // Pages 1...5 lie wholly inside the range: discarded, no longer resident (checked
    // before reading them, which maps the zero page back in).
    #expect(try buffer.residentBytes() == before - 5 * page)
    let bytes = buffer.withUnsafeBytes { Array($0) }
    #expect(bytes[..<(page / 2)].allSatisfy { $0 == 0xAB })
    #expect(bytes[(page / 2)..<(6 * page + 10)].allSatisfy { $0 == 0 })
    #expect(bytes[(6 * page + 10)...].allSatisfy { $0 == 0xAB })
    #expect(buffer.count == 8 * page)
  }

  @Test func zeroingOutsideTheBytesIsEINVAL() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 100)
    #expect(throws: Errno.invalidArgument) { try buffer.zero(90..<101) }
    #expect(throws: Errno.invalidArgument) { try buffer.zero(-1..<10) }
  }

  @Test func growthPreservesHeldBytes() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 1 << 20)
    buffer.withUnsafeMutableBytes { fillPattern($0, seed: 7) }
    try buffer.resize(to: 64 << 20)
    let held = buffer.withUnsafeBytes { matchesPattern(UnsafeRawBufferPointer(rebasing: $0[..<(1 << 20)]), seed: 7) }
    #expect(held)
  }

  @Test func growthKeepsThePhysicalPagesOfHeldBytes() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 4 * page)
    buffer.withUnsafeMutableBytes { fillPattern($0, seed: 1) }
    let first = try #require(physicalFrame(of: buffer.baseAddress!))
    let last = try #require(physicalFrame(of: buffer.baseAddress! + 3 * page))
    for size in stride(from: 8 * page, through: 4096 * page, by: 8 * page) {
      try buffer.resize(to: size)
    }
    #expect(physicalFrame(of: buffer.baseAddress!) == first)
    #expect(physicalFrame(of: buffer.baseAddress! + 3 * page) == last)
  }

  @Test func growingInPageStepsMakesLogarithmicallyManyMappingCalls() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    let steps = 16_384  // 64 MiB in 4 KiB steps
    for step in 1...steps {
      try buffer.resize(to: step * page)
      buffer.baseAddress!.storeBytes(of: UInt8(truncatingIfNeeded: step), toByteOffset: (step - 1) * page, as: UInt8.self)
    }
    let calls = allocator.mappingCallCounts
    #expect(calls.mmap == 1)
    // Doubling: log2(16384) = 14 remaps; one call per resize would be 16383.
    #expect(calls.mremap <= 15)
    let intact = (1...steps).allSatisfy {
      buffer.baseAddress!.load(fromByteOffset: ($0 - 1) * page, as: UInt8.self) == UInt8(truncatingIfNeeded: $0)
    }
    #expect(intact)
  }

  @Test func growthZeroFillsTheNewBytes() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 100)
    buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0xFF) }
    try buffer.resize(to: 3 * page + 5)
    buffer.withUnsafeBytes { bytes in
      #expect(bytes[..<100].allSatisfy { $0 == 0xFF })
      #expect(isAllZero(UnsafeRawBufferPointer(rebasing: bytes[100...])))
    }
  }

  @Test func shrinkThenGrowReadsZeroPastTheShrunkEnd() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 8 * page)
    buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0xAB) }
    try buffer.resize(to: page + 100)  // keeps part of the second page
    try buffer.resize(to: 8 * page)
    buffer.withUnsafeBytes { bytes in
      #expect(bytes[..<(page + 100)].allSatisfy { $0 == 0xAB })
      #expect(isAllZero(UnsafeRawBufferPointer(rebasing: bytes[(page + 100)...])))
    }
  }

  @Test func shrinkWithinOnePageReadsZeroAfterRegrowth() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 1000)
    buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0x5A) }
    try buffer.resize(to: 10)
    try buffer.resize(to: 1000)
    buffer.withUnsafeBytes { bytes in
      #expect(bytes[..<10].allSatisfy { $0 == 0x5A })
      #expect(isAllZero(UnsafeRawBufferPointer(rebasing: bytes[10...])))
    }
  }

  @Test func shrinkReturnsPagesPastTheNewEndToTheOS() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.resize(to: 64 * page)
    buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 1) }
    #expect(try buffer.residentBytes() == 64 * page)
    try buffer.resize(to: 2 * page + 1)
    #expect(buffer.capacity == 3 * page)
    #expect(try buffer.residentBytes() == 3 * page)
    #expect(allocator.statistics == AllocatorStatistics(bytesLive: 2 * page + 1, bytesReserved: 3 * page, regions: 1))
  }

  @Test func shrinkToZeroUnmapsTheBuffer() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.resize(to: 10 * page)
    try buffer.resize(to: 0)
    #expect(buffer.capacity == 0)
    #expect(buffer.baseAddress == nil)
    #expect(allocator.statistics == AllocatorStatistics())
    buffer.withUnsafeBytes { #expect($0.count == 0) }
  }

  @Test func reserveCapacityIsExactAndLaterGrowthMakesNoCall() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.reserveCapacity(10 * page + 1)
    #expect(buffer.capacity == 11 * page)
    let before = allocator.mappingCallCounts
    for size in stride(from: 0, through: 11 * page, by: 1000) { try buffer.resize(to: size) }
    #expect(allocator.mappingCallCounts == before)
  }

  @Test func initialCapacityIsMappedButHoldsNothing() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator, capacity: 5000)
    #expect(buffer.count == 0)
    #expect(buffer.capacity == 2 * page)
    #expect(allocator.statistics == AllocatorStatistics(bytesLive: 0, bytesReserved: 2 * page, regions: 1))
  }

  @Test func shrinkToFitDropsGrowthSlack() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.resize(to: 8 * page)
    try buffer.resize(to: 9 * page)  // doubles to 16 pages
    #expect(buffer.capacity == 16 * page)
    buffer.shrinkToFit()
    #expect(buffer.capacity == 9 * page)
    #expect(allocator.statistics.bytesReserved == 9 * page)
  }

  @Test func negativeSizesThrowInvalidArgument() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    #expect(throws: Errno.invalidArgument) { try buffer.resize(to: -1) }
    #expect(throws: Errno.invalidArgument) { try buffer.reserveCapacity(-4096) }
    #expect(throws: Errno.invalidArgument) { try ExtentBuffer(allocator: PageAllocator(), capacity: -1) }
  }

  @Test(arguments: [Int.max, Int.max - 1, Int.max / 2, 1 << 50])
  func hugeSizesThrowNoMemoryAndLeaveTheBufferUnchanged(size: Int) throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.resize(to: 3)
    #expect(throws: Errno.noMemory) { try buffer.resize(to: size) }
    #expect(throws: Errno.noMemory) { try buffer.reserveCapacity(size) }
    #expect(throws: Errno.noMemory) { try ExtentBuffer(allocator: allocator, capacity: size) }
    #expect(buffer.count == 3)
    #expect(allocator.statistics == AllocatorStatistics(bytesLive: 3, bytesReserved: page, regions: 1))
  }

  @Test func statisticsAreExactAfterASequenceOfBufferOperations() throws {
    let allocator = PageAllocator()
    var a: ExtentBuffer? = try ExtentBuffer(allocator: allocator)
    let b = try ExtentBuffer(allocator: allocator, capacity: 1)
    try a!.resize(to: 3 * page)        // a: 3 pages
    try a!.resize(to: 4 * page)        // a: doubles to 6 pages
    try b.resize(to: 10)               // b: 1 page
    try a!.resize(to: page - 1)        // a: 1 page
    #expect(allocator.statistics == AllocatorStatistics(bytesLive: page - 1 + 10, bytesReserved: 2 * page, regions: 2))
    a = nil
    #expect(allocator.statistics == AllocatorStatistics(bytesLive: 10, bytesReserved: page, regions: 1))
    try b.resize(to: 0)
    #expect(allocator.statistics == AllocatorStatistics())
  }

  @Test func freeingABufferUnmapsIt() throws {
    let allocator = PageAllocator()
    do {
      let buffer = try ExtentBuffer(allocator: allocator)
      try buffer.resize(to: 5 * page)
    }
    #expect(allocator.statistics == AllocatorStatistics())
    #expect(allocator.mappingCallCounts.munmap == 1)
  }

  @Test func shrinkToFitOfAnEmptyBufferUnmapsIt() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator, capacity: 10 * page)
    buffer.shrinkToFit()
    #expect(buffer.capacity == 0 && buffer.baseAddress == nil)
    #expect(allocator.statistics == AllocatorStatistics())
  }

  @Test func reserveCapacityBelowTheCapacityChangesNothing() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator, capacity: 4 * page)
    let calls = allocator.mappingCallCounts
    try buffer.reserveCapacity(page)
    #expect(buffer.capacity == 4 * page)
    #expect(allocator.mappingCallCounts == calls)
  }

  @Test func untouchedCapacityIsNotResident() throws {
    let buffer = try ExtentBuffer(allocator: PageAllocator())
    try buffer.resize(to: 256 * page)
    buffer.baseAddress!.storeBytes(of: 1, as: UInt8.self)
    #expect(try buffer.residentBytes() == page)
  }

  @Test func populatingGrowthMakesTheNewPagesResidentInOneCall() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.resize(to: 100)
    buffer.baseAddress!.storeBytes(of: 0, as: UInt8.self)  // the first page is the caller's
    try buffer.resize(to: 64 * page, populating: true)
    #expect(allocator.mappingCallCounts.populate == 1)
    #expect(try buffer.residentBytes() == 64 * page)
    buffer.withUnsafeBytes { #expect(isAllZero($0)) }
  }

  @Test func populatingAShrinkDoesNothingMore() throws {
    let allocator = PageAllocator()
    let buffer = try ExtentBuffer(allocator: allocator)
    try buffer.resize(to: 8 * page)
    try buffer.resize(to: page, populating: true)
    #expect(allocator.mappingCallCounts.populate == 0)
    #expect(buffer.capacity == page)
  }
}
