import SystemPackage
import Testing
@testable import ErmAlloc

/// Compressed files are blobs: a tree of more than ~65,000 files whose compressed size
/// passes the small-slab bound must not need one mapping per file, or the kernel's
/// vm.max_map_count (65530 by default) makes every further allocation fail with ENOMEM.
@Suite(.serialized) struct MappingCountTests {
  static let blobCount = 70_000
  static let blobSize = 20 * 1024
  /// Runs of the 20 KiB class needed to hold every blob at once.
  static var expectedRuns: Int {
    let slotsPerRun = SizeClasses.runLength(slotSize: blobSize) / blobSize
    return (blobCount + slotsPerRun - 1) / slotsPerRun
  }

  @Test func seventyThousandCopiedMediumBlobsShareRunsAndKeepTheirBytes() throws {
    let allocator = PageAllocator()
    var source = [UInt8](repeating: 0, count: Self.blobSize)
    var blobs: [Blob] = []
    blobs.reserveCapacity(Self.blobCount)
    for i in 0..<Self.blobCount {
      source.withUnsafeMutableBytes { stamp($0, seed: UInt8(truncatingIfNeeded: i)) }
      blobs.append(try source.withUnsafeBytes { (bytes) throws(Errno) in try allocator.makeBlob(copying: bytes) })
    }
    #expect(allocator.statistics.regions < 5_000)
    #expect(allocator.statistics.regions == Self.expectedRuns)
    #expect(allocator.statistics.bytesLive == Self.blobCount * Self.blobSize)
    for (i, blob) in blobs.enumerated() {
      blob.withUnsafeBytes { #expect(hasStamp($0, seed: UInt8(truncatingIfNeeded: i)), "blob \(i)") }
    }
    blobs.removeAll()
    #expect(allocator.statistics == AllocatorStatistics())
  }

  @Test func seventyThousandAdoptedMediumBuffersShareRunsAndKeepTheirBytes() throws {
    let allocator = PageAllocator()
    var blobs: [Blob] = []
    blobs.reserveCapacity(Self.blobCount)
    for i in 0..<Self.blobCount {
      let buffer = try ExtentBuffer(allocator: allocator)
      try buffer.resize(to: Self.blobSize + 5_000)
      buffer.withUnsafeMutableBytes { stamp(UnsafeMutableRawBufferPointer(rebasing: $0[..<Self.blobSize]), seed: UInt8(truncatingIfNeeded: i)) }
      blobs.append(try allocator.makeBlob(adopting: buffer, count: Self.blobSize))
    }
    #expect(allocator.statistics.regions < 5_000)
    #expect(allocator.statistics.regions == Self.expectedRuns)
    #expect(allocator.statistics.bytesLive == Self.blobCount * Self.blobSize)
    for (i, blob) in blobs.enumerated() {
      blob.withUnsafeBytes { #expect(hasStamp($0, seed: UInt8(truncatingIfNeeded: i)), "blob \(i)") }
    }
    blobs.removeAll()
    #expect(allocator.statistics == AllocatorStatistics())
  }
}
