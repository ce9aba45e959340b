import Synchronization
import SystemPackage
import XCTest

@testable import ErmLockless

final class FileOffsetTests: XCTestCase {
  /// Two or more threads writing through one descriptor get distinct ranges that tile
  /// the file from 0, as on Linux.
  func testConcurrentClaimsGetDistinctAdjacentRanges() throws {
    final class Shared: @unchecked Sendable { let offset = AtomicFileOffset() }
    let shared = Shared()
    let perThread = scaled(20_000)
    let threads = 4
    let starts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: threads * perThread * 3)
    for index in 0..<(threads * perThread * 3) { (starts + index).initialize(to: Atomic(0)) }
    defer { starts.deallocate() }
    let bits = UInt(bitPattern: starts)
    let failures = FailureCount()
    runThreads(threads) { thread in
      let starts = UnsafeMutablePointer<Atomic<Int>>(bitPattern: bits)!
      for call in 0..<perThread {
        let count = 1 + (call + thread) % 3
        guard let range = try? shared.offset.claim(count) else { failures.record(); continue }
        for byte in range where starts[Int(byte)].wrappingAdd(1, ordering: .relaxed).oldValue != 0 {
          failures.record()
        }
      }
    }
    XCTAssertEqual(failures.value, 0, "two claims overlapped")
    let end = Int(shared.offset.current)
    for byte in 0..<end { XCTAssertEqual(starts[byte].load(ordering: .relaxed), 1, "byte \(byte) unclaimed") }
  }

  func testReadClaimsStopAtTheLimit() throws {
    let offset = AtomicFileOffset()
    XCTAssertEqual(try offset.claim(100, limit: 150), 0..<100)
    XCTAssertEqual(try offset.claim(100, limit: 150), 100..<150)
    XCTAssertEqual(try offset.claim(100, limit: 150), 150..<150)
    XCTAssertEqual(offset.current, 150)
  }

  func testGiveBackAfterAShortTransfer() throws {
    let offset = AtomicFileOffset()
    let first = try offset.claim(100)
    XCTAssertTrue(offset.giveBack(first, transferred: 40))
    XCTAssertEqual(offset.current, 40)
    let second = try offset.claim(100)
    _ = try offset.claim(10)  // a later claim: the give-back must not move the offset under it
    XCTAssertFalse(offset.giveBack(second, transferred: 0))
    XCTAssertEqual(offset.current, 150)
  }

  func testSeekFollowsLseek() throws {
    let offset = AtomicFileOffset()
    XCTAssertEqual(try offset.seek(10, from: .start), 10)
    XCTAssertEqual(try offset.seek(5, from: .current), 15)
    XCTAssertEqual(try offset.seek(-3, from: .end(size: 100)), 97)
    XCTAssertEqual(try offset.seek(1000, from: .end(size: 100)), 1100)  // past the end is allowed
    XCTAssertThrowsError(try offset.seek(-1, from: .start)) { XCTAssertEqual($0 as? Errno, .invalidArgument) }
    XCTAssertThrowsError(try offset.seek(.max, from: .current)) { XCTAssertEqual($0 as? Errno, .overflow) }
    XCTAssertEqual(offset.current, 1100, "a failed seek moved the offset")
  }

  func testBadClaimsThrow() {
    let offset = AtomicFileOffset(.max - 1)
    XCTAssertThrowsError(try offset.claim(-1)) { XCTAssertEqual($0 as? Errno, .invalidArgument) }
    XCTAssertThrowsError(try offset.claim(2)) { XCTAssertEqual($0 as? Errno, .fileTooLarge) }
    XCTAssertEqual(offset.current, .max - 1)
  }

  /// Threads reading one descriptor up to the end of a file split it between them: the
  /// ranges are disjoint, cover the file exactly, and the offset stops at its size.
  func testConcurrentReadsToTheEndSplitTheFile() {
    final class Shared: @unchecked Sendable { let offset = AtomicFileOffset() }
    let shared = Shared()
    let size: Int64 = Int64(scaled(200_000))
    let claimed = Atomic<Int>(0)
    let failures = FailureCount()
    runThreads(4) { thread in
      while true {
        guard let range = try? shared.offset.claim(1 + thread * 7, limit: size) else { failures.record(); return }
        if range.isEmpty { return }
        if range.upperBound > size { failures.record() }
        claimed.wrappingAdd(range.count, ordering: .relaxed)
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertEqual(Int64(claimed.load(ordering: .relaxed)), size)
    XCTAssertEqual(shared.offset.current, size)
  }
}

