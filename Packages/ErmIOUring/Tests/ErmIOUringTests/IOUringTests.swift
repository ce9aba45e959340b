import CErmIOUring
import ErmIOUring
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Serialized: the descriptor-leak tests count /proc/self/fd, which concurrent tests
// would disturb.
@Suite(.serialized)
struct IOUringTests {

  // MARK: - Creating and closing a ring

  @Test func depthIsRoundedUpToAPowerOfTwo() throws {
    let ring = try IOUring(depth: 6)
    #expect(ring.depth == 8)
  }

  @Test func depthZeroIsInvalidArgument() {
    #expect(throws: Errno.invalidArgument) { try IOUring(depth: 0) }
  }

  @Test func depthAboveKernelMaximumIsInvalidArgument() {
    #expect(throws: Errno.invalidArgument) { try IOUring(depth: IOUring.maximumDepth + 1) }
  }

  @Test func setupFailuresAreExplained() {
    #expect(IOUring.setupFailureDescription(.notPermitted).contains("io_uring_disabled"))
    #expect(IOUring.setupFailureDescription(.noFunction).contains("ENOSYS"))
  }

  @Test func ringTeardownLeaksNoDescriptor() throws {
    let before = openDescriptorCount()
    for _ in 0..<50 {
      let ring = try IOUring(depth: 32)
      #expect(ring.ringDescriptor != nil)
      let fd = try makeMemfd()
      let bytes: [UInt8] = [1, 2, 3]
      let results = try bytes.withUnsafeBytes { b throws(Errno) in
        try ring.write([WriteRequest(descriptor: fd, bytes: b)])
      }
      #expect(results == [IOResult(bytesTransferred: 3)])
      try fd.close()
    }
    #expect(openDescriptorCount() == before)
  }

  @Test func closeReleasesTheRingDescriptorImmediately() throws {
    let before = openDescriptorCount()
    let ring = try IOUring(depth: 4)
    #expect(openDescriptorCount() == before + 1)
    ring.close()
    #expect(openDescriptorCount() == before)
    #expect(ring.isClosed)
    ring.close()  // harmless twice
  }

  @Test func batchAfterCloseThrowsBadFileDescriptor() throws {
    let ring = try IOUring(depth: 4)
    ring.close()
    #expect(throws: Errno.badFileDescriptor) { try ring.write([]) }
  }

  @Test func emptyBatchReturnsNoResults() throws {
    let ring = try IOUring(depth: 4)
    #expect(try ring.write([]).isEmpty)
    #expect(ring.statistics.enterCalls == 0)
  }
}
