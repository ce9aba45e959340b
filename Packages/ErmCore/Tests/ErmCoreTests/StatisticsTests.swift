import ErmAlloc
import SystemPackage
import XCTest

@testable import ErmCore

final class StatisticsTests: XCTestCase {
  func testEmptyFileSystemHasNothing() throws {
    let fs = try makeFS()
    let statistics = fs.statistics
    XCTAssertEqual(statistics.files, 0)
    XCTAssertEqual(statistics.directories, 0)
    XCTAssertEqual(statistics.logicalBytes, 0)
    XCTAssertEqual(statistics.storedBytes, 0)
    XCTAssertEqual(statistics.ratio, 1)
  }

  func testStatisticsCountFilesDirectoriesAndBytes() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.put("/d/a", text(40_000))
    try fs.put("/b", noise(1000))
    let statistics = fs.statistics
    XCTAssertEqual(statistics.files, 2)
    XCTAssertEqual(statistics.directories, 1)
    XCTAssertEqual(statistics.logicalBytes, 41_000)
    XCTAssertEqual(statistics.storedBytes,
                   Int(try fs.stat("/d/a").storedSize + fs.stat("/b").storedSize))
    XCTAssertLessThan(statistics.ratio, 0.5)
  }

  func testStatisticsCountOpenDescriptors() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .writeOnly, options: .create)
    XCTAssertEqual(fs.statistics.openDescriptors, 1)
    try fs.close(fd)
    XCTAssertEqual(fs.statistics.openDescriptors, 0)
  }

  func testStoredBytesMatchAllocatorLiveBytes() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    for i in 0..<20 { try fs.put("/f\(i)", text(i * 3000, seed: i)) }
    try fs.assertAccountingConsistent(allocator)
  }
}
