import Dispatch
import ErmAlloc
import ErmCompress
import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmCore

/// Snapshots that hold no lock, and compression that nobody waits for when its work is
/// going to be thrown away.
final class ContentsSafetyTests: XCTestCase {
  // MARK: Calls from inside withContents (they used to kill the process)

  func testPreadOfTheSameFileInsideWithContentsWorks() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: text(10_000))
    let seen = try fs.withContents(of: fd) { (contents) throws(Errno) -> [UInt8] in
      try fs.pread(fd, upToCount: 5, at: 0)
    }
    XCTAssertEqual(seen, Array(text(10_000).prefix(5)))
  }

  func testLastCloseInsideWithContentsCompressesAndTheSnapshotStaysIntact() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: text(20_000))
    let seen = try fs.withContents(ofPath: "/a") { (contents) throws(Errno) -> [UInt8] in
      try fs.close(fd)  // compresses while the snapshot reads the plain bytes
      return try contents.bytes(0..<contents.logicalSize)
    }
    assertSameBytes(seen, text(20_000))
    XCTAssertTrue(try fs.isCompressed("/a"))
  }

  func testTruncateWriteAndOpenTruncateInsideWithContentsDoNotShowThrough() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: text(20_000))
    let seen = try fs.withContents(ofPath: "/a") { (contents) throws(Errno) -> [UInt8] in
      try fs.ftruncate(fd, to: 100)
      try fs.pwrite(fd, bytes: [9, 9, 9], at: 0)
      let other = try fs.open("/a", .writeOnly, options: .truncate)
      try fs.write(other, bytes: [7])
      try fs.close(other)
      return try contents.bytes(0..<contents.logicalSize)
    }
    assertSameBytes(seen, text(20_000))
    try fs.close(fd)
    XCTAssertEqual(try fs.get("/a"), [7])
    try fs.assertAccountingConsistent(allocator)
  }

  func testUnlinkInsideWithContentsFreesTheBytesWhenTheSnapshotEnds() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: text(50_000))
    try fs.withContents(ofPath: "/a") { (contents) throws(Errno) in
      try fs.unlink("/a")
      try fs.close(fd)
      // Still in memory and still counted: the snapshot reads it.
      XCTAssertGreaterThanOrEqual(fs.statistics.storedBytes, pages(50_000))
      assertSameBytes(try contents.bytes(0..<contents.logicalSize), text(50_000))
    }
    XCTAssertEqual(fs.statistics.storedBytes, 0)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }

  func testSnapshotOfAMaterialisedFileIsCopiedOnWriteAndCounted() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: text(30_000))
    try fs.withContents(of: fd) { (contents) throws(Errno) in
      try fs.pwrite(fd, bytes: [1], at: 0)
      // The snapshot's bytes and the writer's copy are both in memory now.
      XCTAssertEqual(fs.statistics.storedBytes, 2 * pages(30_000))
      XCTAssertEqual(try contents.bytes(0..<1), Array(text(1)))
    }
    XCTAssertEqual(fs.statistics.storedBytes, pages(30_000))
  }

  func testWriteCopyOnWriteWithoutRoomForTheCopyIsENOSPC() throws {
    let fs = try makeFS(byteQuota: pages(30_000) + 4096)
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: text(30_000))
    try fs.withContents(of: fd) { (contents) throws(Errno) in
      assertErrno(.noSpace) { () throws(Errno) in try fs.pwrite(fd, bytes: [1], at: 0) }
      XCTAssertEqual(try contents.bytes(0..<5), Array(text(5)))
    }
    XCTAssertEqual(try fs.pwrite(fd, bytes: [1], at: 0), 1, "room again once the snapshot ends")
  }

  // MARK: Compression nobody waits for

  func testUnlinkDuringCompressionReturnsWithoutWaitingAndFreesEverything() throws {
    let allocator = PageAllocator()
    let codec = GateCodec()
    let fs = try makeFS(allocator: allocator, codec: codec)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: text(40 * testChunkSize))
    let closed = DispatchSemaphore(value: 0)
    codec.arm()
    DispatchQueue.global().async {
      try? fs.close(fd)  // compresses; the codec holds it inside its first chunk
      closed.signal()
    }
    codec.waitUntilHeld()
    // The compression is stuck in the codec: if unlink waited for it, this would hang.
    try fs.unlink("/a")
    XCTAssertEqual(fs.statistics.files, 0)
    codec.release()
    closed.wait()
    XCTAssertEqual(fs.statistics.storedBytes, 0, "the compressed output was thrown away")
    XCTAssertEqual(fs.statistics.logicalBytes, 0)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }

  func testOpenTruncateDuringCompressionDoesNotWaitAndWins() throws {
    let codec = GateCodec()
    let fs = try makeFS(codec: codec)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: text(40 * testChunkSize))
    let closed = DispatchSemaphore(value: 0)
    codec.arm()
    DispatchQueue.global().async {
      try? fs.close(fd)
      closed.signal()
    }
    codec.waitUntilHeld()
    let other = try fs.open("/a", .readWrite, options: .truncate)
    XCTAssertEqual(try fs.fstat(other).size, 0)
    codec.release()
    closed.wait()
    XCTAssertEqual(try fs.fstat(other).size, 0, "the old compression did not install its result")
    try fs.write(other, bytes: [5, 6])
    try fs.close(other)
    XCTAssertEqual(try fs.get("/a"), [5, 6])
  }

  func testWriteDuringCompressionWaitsForTheChunkThenWins() throws {
    let codec = GateCodec()
    let fs = try makeFS(codec: codec)
    let data = text(40 * testChunkSize)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: data)
    let closed = DispatchSemaphore(value: 0)
    codec.arm()
    DispatchQueue.global().async {
      try? fs.close(fd)
      closed.signal()
    }
    codec.waitUntilHeld()
    let writer = try fs.open("/a", .readWrite)
    let wrote = DispatchSemaphore(value: 0)
    let written = Atomic<Int>(-1)
    DispatchQueue.global().async {
      written.store((try? fs.pwrite(writer, bytes: [0xEE], at: 7)) ?? -2, ordering: .relaxed)
      wrote.signal()
    }
    codec.release()
    wrote.wait()
    closed.wait()
    XCTAssertEqual(written.load(ordering: .relaxed), 1)
    try fs.close(writer)
    var expected = data
    expected[7] = 0xEE
    assertSameBytes(try fs.get("/a"), expected)
  }

  func testReadersOfACompressedFileDoNotWaitForEachOther() throws {
    let codec = GateCodec()
    let fs = try makeFS(codec: codec)
    let data = text(8 * testChunkSize)
    try fs.put("/a", data)
    let first = try fs.open("/a", .readOnly)
    let second = try fs.open("/a", .readOnly)
    codec.armDecompression()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      _ = try? fs.pread(first, upToCount: testChunkSize, at: 0)  // held inside the decoder
      done.signal()
    }
    codec.waitUntilHeld()
    // A second reader of the same file, while the first is inside decompression.
    let piece = try fs.pread(second, upToCount: 100, at: Int64(5 * testChunkSize))
    XCTAssertEqual(piece, Array(data[(5 * testChunkSize)..<(5 * testChunkSize + 100)]))
    codec.release()
    done.wait()
  }

  /// A read of a compressed file takes no lock: it completes while another thread holds
  /// the file's contents lock (a writer, a last close, a snapshot would).
  func testAReadOfACompressedFileTakesNoContentsLock() throws {
    let fs = try makeFS()
    let data = text(5 * testChunkSize + 123)
    try fs.put("/a", data)
    XCTAssertTrue(try fs.isCompressed("/a"))
    let fd = try fs.open("/a", .readOnly)
    let inode = try fs.resolve("/a")
    let locked = DispatchSemaphore(value: 0), read = DispatchSemaphore(value: 0)
    let holder = Thread {
      inode.contents.withLock { _ in
        locked.signal()
        _ = read.wait(timeout: .now() + 20)  // without the fix the reader waits for this
      }
    }
    holder.start()
    locked.wait()
    let reader = DispatchQueue.global()
    let results = Mutex<[[UInt8]]>([])
    let finished = DispatchSemaphore(value: 0)
    reader.async {
      let small = (try? fs.pread(fd, upToCount: 100, at: Int64(testChunkSize + 7))) ?? []
      let big = (try? fs.pread(fd, upToCount: 4 * testChunkSize, at: 50)) ?? []
      results.withLock { $0 = [small, big] }
      finished.signal()
    }
    let inTime = finished.wait(timeout: .now() + 10) == .success
    read.signal()
    if !inTime { finished.wait() }
    XCTAssertTrue(inTime, "a read of a compressed file waited for the contents lock")
    let got = results.withLock { $0 }
    XCTAssertEqual(got[0], Array(data[(testChunkSize + 7)..<(testChunkSize + 107)]))
    XCTAssertEqual(got[1], Array(data[50..<(50 + 4 * testChunkSize)]))
    try fs.close(fd)
  }

  /// Readers of a compressed file while it is rewritten and compressed again and again:
  /// every read sees one version whole (each version fills the file with one byte value),
  /// never bytes of a view that was let go; all memory comes back at the end.
  func testReadersRacingRewritesSeeWholeVersions() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let size = 3 * testChunkSize
    let baseline = allocator.statistics.bytesLive
    try fs.put("/a", [UInt8](repeating: 1, count: size))
    let rounds = scaled(150)
    let latest = Atomic<Int>(1)
    let stop = Atomic<Bool>(false)
    let failures = Mutex<[String]>([])
    runThreads(3) { thread in
      if thread == 0 {
        defer { stop.store(true, ordering: .releasing) }
        for round in 2...(rounds + 1) {
          do throws(Errno) {
            let value = UInt8(truncatingIfNeeded: round % 250 + 1)
            let fd = try fs.open("/a", .writeOnly)
            if round % 3 == 0 {
              _ = try fs.pwrite(fd, bytes: [UInt8](repeating: value, count: size), at: 0)
            } else {
              // A partial rewrite chunk by chunk: readers may see a mix of chunks.
              for chunk in 0..<3 {
                _ = try fs.pwrite(fd, bytes: [UInt8](repeating: value, count: testChunkSize),
                                  at: Int64(chunk * testChunkSize))
              }
            }
            try fs.close(fd)  // compressed again: a new view
            latest.store(round, ordering: .releasing)
          } catch {
            failures.withLock { $0.append("writer: \(error)") }
            return
          }
        }
        return
      }
      var seed = UInt64(thread)
      while !stop.load(ordering: .acquiring) {
        do throws(Errno) {
          let fd = try fs.open("/a", .readOnly)
          defer { try? fs.close(fd) }
          for _ in 0..<20 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let chunk = Int(seed >> 33) % 3
            let offset = chunk * testChunkSize + Int(seed >> 40) % (testChunkSize - 512)
            let bytes = try fs.pread(fd, upToCount: 512, at: Int64(offset))
            guard bytes.count == 512, let first = bytes.first, first != 0,
                  bytes.allSatisfy({ $0 == first }) else {
              failures.withLock { $0.append("torn or empty read at \(offset): \(Set(bytes).sorted().prefix(4))") }
              return
            }
          }
        } catch {
          failures.withLock { $0.append("reader: \(error)") }
          return
        }
      }
    }
    XCTAssertEqual(failures.withLock { $0 }, [])
    XCTAssertEqual(latest.load(ordering: .acquiring), rounds + 1)
    let value = UInt8(truncatingIfNeeded: (rounds + 1) % 250 + 1)
    XCTAssertEqual(try fs.get("/a"), [UInt8](repeating: value, count: size))
    try fs.unlink("/a")
    XCTAssertEqual(allocator.statistics.bytesLive, baseline, "a view or its stored bytes stayed alive")
  }

  // MARK: Memory the chunk caches hold

  func testChunkCachesAreCountedAndGivenBackOnClose() throws {
    let fs = try makeFS()
    try fs.put("/a", text(4 * testChunkSize))
    XCTAssertEqual(fs.statistics.cacheBytes, 0)
    let fd = try fs.open("/a", .readOnly)
    _ = try fs.read(fd, upToCount: 10)  // a partial chunk goes through the cache
    XCTAssertEqual(fs.statistics.cacheBytes, testChunkSize)
    try fs.close(fd)
    XCTAssertEqual(fs.statistics.cacheBytes, 0)
  }
}

/// zlib, but the first compression (or decompression) after `arm` blocks inside the codec
/// until `release`: lets a test act while a compression is provably in flight.
final class GateCodec: GzipCodec {
  private let inner = ZlibCodec()
  private let armedCompression = Atomic<Bool>(false)
  private let armedDecompression = Atomic<Bool>(false)
  private let held = DispatchSemaphore(value: 0)
  private let gate = DispatchSemaphore(value: 0)

  func arm() { armedCompression.store(true, ordering: .sequentiallyConsistent) }
  func armDecompression() { armedDecompression.store(true, ordering: .sequentiallyConsistent) }
  func waitUntilHeld() { held.wait() }
  func release() { gate.signal() }

  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel,
                      into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    if armedCompression.exchange(false, ordering: .sequentiallyConsistent) {
      held.signal()
      gate.wait()
    }
    return try inner.compressMember(input, level: level, into: output)
  }

  func decompressMember(_ member: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    if armedDecompression.exchange(false, ordering: .sequentiallyConsistent) {
      held.signal()
      gate.wait()
    }
    try inner.decompressMember(member, into: output)
  }
}
