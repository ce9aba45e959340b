import ErmCore
import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmFD

/// An export is a snapshot: one consistent state of the file, unaffected by later writes.
final class ExportSnapshotTests: XCTestCase {
  func testFileOpenForWritingExportsWhatHasBeenWrittenSoFar() throws {
    let fs = try makeFS()
    let writer = try fs.open("/f", .writeOnly, options: .create)
    try fs.write(writer, bytes: Array("so far".utf8))
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    XCTAssertEqual(try readAll(fd), Array("so far".utf8))
    try fs.close(writer)
  }

  func testLaterWritesDoNotChangeTheExport() throws {
    let fs = try makeFS()
    let writer = try put(fs, "/f", [UInt8](repeating: 1, count: 300_000), keepOpen: true)!
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    try fs.pwrite(writer, bytes: [UInt8](repeating: 2, count: 400_000), at: 0)
    try fs.ftruncate(writer, to: 10)
    try fs.close(writer)
    XCTAssertEqual(try readAll(fd), [UInt8](repeating: 1, count: 300_000))
  }

  func testExportWhileWritersAppendIsAlwaysAWholeRecordPrefix() throws {
    let fs = try makeFS()
    let recordSize = 1000
    let records = 2000
    @Sendable func record(_ i: Int) -> [UInt8] { [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: recordSize) }
    let writer = try fs.open("/log", .writeOnly, options: [.create, .append])
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      for i in 0..<records { _ = try? fs.write(writer, bytes: record(i)) }
      done.signal()
    }
    var exports = 0
    var finished = false
    while !finished {
      finished = done.wait(timeout: .now()) == .success
      let fd = try fs.export("/log")
      let bytes = try readAll(fd)
      try fd.close()
      XCTAssertEqual(bytes.count % recordSize, 0, "a torn record")
      for i in 0..<(bytes.count / recordSize) {
        XCTAssertEqual(Array(bytes[(i * recordSize)..<((i + 1) * recordSize)]), record(i))
      }
      exports += 1
    }
    XCTAssertEqual(try readAll(try fs.export("/log")).count, records * recordSize)
    try fs.close(writer)
    XCTAssertGreaterThan(exports, 1)
  }

  func testExportWhileWritersOverwriteIsAlwaysOneGeneration() throws {
    let fs = try makeFS()
    let size = 300 * 1024  // above the mapping threshold: exercises the mmap path
    let writer = try put(fs, "/f", [UInt8](repeating: 0, count: size), keepOpen: true)!
    let stop = ManagedAtomicFlag()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      var generation: UInt8 = 1
      while !stop.isSet {
        _ = try? fs.pwrite(writer, bytes: [UInt8](repeating: generation, count: size), at: 0)
        generation &+= 1
      }
      done.signal()
    }
    for _ in 0..<20 {
      let fd = try fs.export("/f")
      let bytes = try readAll(fd)
      try fd.close()
      XCTAssertEqual(bytes.count, size)
      XCTAssertTrue(bytes.allSatisfy { $0 == bytes[0] }, "bytes from two generations")
    }
    stop.set()
    done.wait()
    try fs.close(writer)
  }
}

/// A flag one thread sets and another polls.
final class ManagedAtomicFlag: Sendable {
  private let value = Mutex(false)
  var isSet: Bool { value.withLock { $0 } }
  func set() { value.withLock { $0 = true } }
}
