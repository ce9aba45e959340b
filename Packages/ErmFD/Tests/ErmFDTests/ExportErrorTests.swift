import CErmFD
import ErmCore
import SystemPackage
import XCTest
import Foundation

@testable import ErmFD

/// Bad requests fail with the right errno and leave no descriptor behind.
final class ExportErrorTests: XCTestCase {
  func testMissingPathThrowsENOENT() throws {
    let fs = try makeFS()
    assertThrows(.noSuchFileOrDirectory) { try fs.export("/missing") }
  }

  func testDirectoryThrowsEISDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertThrows(.isDirectory) { try fs.export("/d") }
  }

  func testClosedErmFSDescriptorThrowsEBADF() throws {
    let fs = try makeFS()
    let fd = try fs.open("/f", .writeOnly, options: .create)
    try fs.close(fd)
    assertThrows(.badFileDescriptor) { try fs.export(fd, name: "/f") }
  }

  func testPathThroughAFileThrowsENOTDIR() throws {
    let fs = try makeFS()
    try put(fs, "/f", [1])
    assertThrows(.notDirectory) { try fs.export("/f/inside") }
  }

  func testRelativePathThrowsEINVAL() throws {
    let fs = try makeFS()
    assertThrows(.invalidArgument) { try fs.export("relative") }
  }

  func testUnknownOptionsThrowEINVAL() throws {
    let fs = try makeFS()
    try put(fs, "/f", [1])
    assertThrows(.invalidArgument) { try fs.export("/f", options: ExportOptions(rawValue: 1 << 7)) }
  }

  func testDescriptorExhaustionThrowsEMFILE() throws {
    let fs = try makeFS()
    try put(fs, "/f", [1, 2, 3])
    var saved = rlimit()
    XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
    defer { _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) }
    // The limit at the lowest free number: the next descriptor cannot be created.
    var limited = saved
    limited.rlim_cur = rlim_t(lowestFreeDescriptor())
    XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limited), 0)
    assertThrows(.tooManyOpenFiles) { try fs.export("/f") }
  }

  func testNoDescriptorLeaksOnAnyErrorPath() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try put(fs, "/f", try compressibleBytes(300_000))
    let before = openDescriptorCount()
    for _ in 0..<20 {
      _ = try? fs.export("/missing")
      _ = try? fs.export("/d")
      _ = try? fs.export("/f", options: ExportOptions(rawValue: 1 << 9))
      _ = try? fs.export("relative")
    }
    XCTAssertEqual(openDescriptorCount(), before)
  }

  func testNoDescriptorLeaksWhenExportsSucceedAndAreClosed() throws {
    let fs = try makeFS()
    try put(fs, "/f", try compressibleBytes(300_000))
    let before = openDescriptorCount()
    for _ in 0..<20 { try fs.export("/f", options: .sealed).close() }
    XCTAssertEqual(openDescriptorCount(), before)
  }

  /// The number the kernel would hand out next.
  private func lowestFreeDescriptor() -> Int {
    var fd: Int32 = 0
    while fcntl(fd, F_GETFD) >= 0 { fd += 1 }
    return Int(fd)
  }
}
