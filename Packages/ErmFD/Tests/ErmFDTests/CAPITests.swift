import ErmCore
import ErmFDC
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// ermfs.h: the C API, from a real C program and from Swift.
final class CAPITests: XCTestCase {
  func testCProgramLinkingTheCAPIPassesItsChecks() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("ermfd-c-test")
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, output)
    XCTAssertEqual(output, "ok\n")
  }

  func testCCallsReachTheInstalledFileSystem() throws {
    let fs = try makeFS()
    try put(fs, "/installed", Array("from Swift".utf8))
    ProcessFileSystem.install(fs)
    defer { ProcessFileSystem.install(nil) }
    let raw = ermfs_export_memfd("/installed", 0)
    XCTAssertGreaterThanOrEqual(raw, 0)
    let fd = FileDescriptor(rawValue: raw)
    defer { try? fd.close() }
    XCTAssertEqual(try readAll(fd), Array("from Swift".utf8))
  }

  func testCExportErrorsSetErrno() throws {
    ProcessFileSystem.install(try makeFS())
    defer { ProcessFileSystem.install(nil) }
    errno = 0
    XCTAssertEqual(ermfs_export_memfd("/missing", 0), -1)
    XCTAssertEqual(errno, ENOENT)
    XCTAssertEqual(ermfs_export_memfd("/missing", -1), -1)
    XCTAssertEqual(errno, EINVAL)
  }

  func testCLocklessSwitchReachesTheInstalledFileSystemAndIsEBUSYWhileOpen() throws {
    let fs = try makeFS()
    try put(fs, "/kept", Array("kept".utf8))
    ProcessFileSystem.install(fs)
    defer { ProcessFileSystem.install(nil) }
    let wanted: ErmFS.Locking = fs.locking == .locked ? .lockless : .locked
    XCTAssertEqual(ermfs_set_lockless_mode(wanted == .lockless ? 1 : 0), 0)
    XCTAssertEqual(fs.locking, wanted)
    let held = try fs.open("/kept", .readOnly)
    errno = 0
    XCTAssertEqual(ermfs_set_lockless_mode(wanted == .lockless ? 0 : 1), -1)
    XCTAssertEqual(errno, EBUSY)
    XCTAssertEqual(fs.locking, wanted)
    try fs.close(held)
    let raw = ermfs_export_memfd("/kept", 0)
    XCTAssertGreaterThanOrEqual(raw, 0)
    let fd = FileDescriptor(rawValue: raw)
    defer { try? fd.close() }
    XCTAssertEqual(try readAll(fd), Array("kept".utf8))
  }
}
