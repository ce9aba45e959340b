import CErmFD
import ErmCore
import ErmIOUring
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// exportMany: a memfd per path, filled through io_uring batches, per-path results.
final class ExportManyTests: XCTestCase {
  private func check(_ result: Result<FileDescriptor, Errno>, holds bytes: [UInt8],
                     file: StaticString = #filePath, line: UInt = #line) throws {
    let fd = try result.get()
    defer { try? fd.close() }
    XCTAssertEqual(try fileSize(fd), bytes.count, file: file, line: line)
    XCTAssertEqual(try fd.seek(offset: 0, from: .current), 0, file: file, line: line)
    XCTAssertEqual(contentHash(try readAll(fd)), contentHash(bytes), file: file, line: line)
  }

  func testEveryPathGetsAMemfdWithItsContents() throws {
    let fs = try makeFS()
    var expected: [String: [UInt8]] = [:]
    var writers: [ErmFS.Descriptor] = []
    for (i, size) in [0, 1, 4095, 4096, 4097, 100_000, (1 << 20) + 1].enumerated() {
      let compressed = try compressibleBytes(size), materialised = try randomBytes(size)
      try put(fs, "/c\(i)", compressed)
      writers.append(try put(fs, "/m\(i)", materialised, keepOpen: true)!)
      expected["/c\(i)"] = compressed
      expected["/m\(i)"] = materialised
    }
    let paths = expected.keys.sorted()
    let results = try fs.exportMany(paths)
    XCTAssertEqual(results.count, paths.count)
    for (path, result) in zip(paths, results) { try check(result, holds: expected[path]!) }
    for w in writers { try fs.close(w) }
  }

  func testMoreFilesThanOneStagingBufferHolds() throws {
    let fs = try makeFS()
    let count = ExportBatch.stagingCapacity / 4096 * 2 + 7
    var contents: [[UInt8]] = []
    for i in 0..<count {
      let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096)
      try put(fs, "/f\(i)", bytes)
      contents.append(bytes)
    }
    let results = try fs.exportMany((0..<count).map { "/f\($0)" })
    for (bytes, result) in zip(contents, results) { try check(result, holds: bytes) }
  }

  func testOneBadPathDoesNotFailTheOthers() throws {
    let fs = try makeFS()
    try fs.mkdir("/dir")
    try put(fs, "/a", Array("aaa".utf8))
    try put(fs, "/b", Array("bbb".utf8))
    let results = try fs.exportMany(["/a", "/missing", "/dir", "relative", "/b"])
    try check(results[0], holds: Array("aaa".utf8))
    XCTAssertEqual(results[1].failure, .noSuchFileOrDirectory)
    XCTAssertEqual(results[2].failure, .isDirectory)
    XCTAssertEqual(results[3].failure, .invalidArgument)
    try check(results[4], holds: Array("bbb".utf8))
  }

  func testFailedPathsLeaveNoDescriptorBehind() throws {
    let fs = try makeFS()
    try fs.mkdir("/dir")
    let ring = try IOUring(depth: 8)
    let before = openDescriptorCount()
    let results = try fs.exportMany(["/missing", "/dir", "/missing2"], ring: ring)
    XCTAssertTrue(results.allSatisfy { $0.failure != nil })
    XCTAssertEqual(openDescriptorCount(), before)
  }

  func testDescriptorExhaustionFailsOnlyThePathsWithoutRoom() throws {
    let fs = try makeFS()
    let count = 40
    for i in 0..<count { try put(fs, "/f\(i)", [UInt8(i)]) }
    let ring = try IOUring(depth: 8)
    var saved = rlimit()
    XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
    var limited = saved
    var lowestFree: Int32 = 0
    while fcntl(lowestFree, F_GETFD) >= 0 { lowestFree += 1 }
    // Room for a few memfds at most (other threads of the test runner may take some).
    limited.rlim_cur = rlim_t(lowestFree + 4)
    XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limited), 0)
    let results = try fs.exportMany((0..<count).map { "/f\($0)" }, ring: ring)
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
    var failures = 0
    for (i, result) in results.enumerated() {
      switch result {
      case .success: try check(result, holds: [UInt8(i)])
      case .failure(let error):
        XCTAssertEqual(error, .tooManyOpenFiles)
        failures += 1
      }
    }
    XCTAssertGreaterThanOrEqual(failures, count - 4)
  }

  func testSealedOptionSealsEveryExport() throws {
    let fs = try makeFS()
    try put(fs, "/small", [1, 2, 3])
    try put(fs, "/large", try compressibleBytes(1 << 20))
    for result in try fs.exportMany(["/small", "/large"], options: .sealed) {
      let fd = try result.get()
      defer { try? fd.close() }
      XCTAssertTrue(try Memfd.seals(of: fd).isSuperset(of: Seals.export))
      XCTAssertEqual(errnoOf(ftruncate(fd.rawValue, 0)), .notPermitted)
    }
  }

  func testUnknownOptionsThrowEINVAL() throws {
    let fs = try makeFS()
    assertThrows(.invalidArgument) { try fs.exportMany(["/a"], options: ExportOptions(rawValue: 1 << 5)) }
  }

  func testBrokenRingFallsBackToPwrite() throws {
    let fs = try makeFS()
    try put(fs, "/a", Array("still exported".utf8))
    let ring = try IOUring(depth: 4)
    ring.close()
    let results = try fs.exportMany(["/a"], ring: ring)
    try check(results[0], holds: Array("still exported".utf8))
  }

  func testTheSameFileTwiceGivesTwoIndependentMemfds() throws {
    let fs = try makeFS()
    try put(fs, "/a", Array("twice".utf8))
    let results = try fs.exportMany(["/a", "/a"])
    let first = try results[0].get(), second = try results[1].get()
    defer { try? first.close(); try? second.close() }
    XCTAssertNotEqual(first, second)
    _ = try first.writeAll(toAbsoluteOffset: 0, Array("T".utf8))
    XCTAssertEqual(try readAll(second), Array("twice".utf8))
  }
}

extension Result {
  var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
