import ErmCore
import ErmFUSE
import Foundation
import SystemPackage
import XCTest

/// Mounting, serving and unmounting.
final class MountLifecycleTests: XCTestCase {
  func testMountIsListedAsFuseErmfsWhileServedAndGoneAfterStop() throws {
    let mounted = try Mounted()
    let entry = MountTable.entry(at: mounted.root)
    XCTAssertEqual(entry?.type, "fuse.ermfs")
    XCTAssertEqual(entry?.source, "ermfs")
    mounted.close()
    XCTAssertNil(MountTable.entry(at: mounted.root))
  }

  func testFileWrittenThroughTheKernelIsInErmFS() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    writeFile(mounted.path("hello.txt"), Array("hello, kernel\n".utf8))
    XCTAssertEqual(readFile(mounted.path("hello.txt")), Array("hello, kernel\n".utf8))
    XCTAssertEqual(try mounted.fs.stat("/hello.txt").size, 14)
  }

  func testRunTwiceIsEBUSY() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    XCTAssertThrowsError(try mounted.session.run()) { XCTAssertEqual($0 as? Errno, .resourceBusy) }
  }

  func testOptionLibfuseRejectsIsEINVALAndMountsNothing() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root") }
    let dir = NSTemporaryDirectory() + "ermfuse-badopt-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { rmdir(dir) }
    let fs = try ErmFS()
    XCTAssertThrowsError(try FUSESession(fs: fs, mountPoint: dir, options: MountOptions(extraOptions: ["no_such_option"]))) {
      XCTAssertEqual($0 as? Errno, .invalidArgument)
    }
    XCTAssertNil(MountTable.entry(at: dir))
  }

  func testMissingMountPointIsAnErrnoAndMountsNothing() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root") }
    let dir = NSTemporaryDirectory() + "ermfuse-missing-\(getpid())/nope"
    XCTAssertThrowsError(try FUSESession(fs: try ErmFS(), mountPoint: dir)) { XCTAssertNotNil($0 as? Errno) }
    XCTAssertNil(MountTable.entry(at: dir))
  }

  func testUnmountLazilyEndsRunAndALaterStopIsHarmless() throws {
    let mounted = try Mounted()
    try FUSESession.unmountLazily(mounted.root)
    XCTAssertTrue(eventually { MountTable.entry(at: mounted.root) == nil })
    mounted.close()
  }

  func testUnmountLazilyOfAPlainDirectoryIsEINVAL() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root") }
    XCTAssertThrowsError(try FUSESession.unmountLazily(NSTemporaryDirectory())) {
      XCTAssertEqual($0 as? Errno, .invalidArgument)
    }
  }

  func testDefaultOptionsAskForKernelPermissionChecks() {
    XCTAssertEqual(MountOptions().fuseOptions, ["fsname=ermfs", "subtype=ermfs", "default_permissions"])
    XCTAssertEqual(MountOptions(allowOther: true, extraOptions: ["max_read=131072"]).fuseOptions,
                   ["fsname=ermfs", "subtype=ermfs", "default_permissions", "allow_other", "max_read=131072"])
  }

  func testMaxReadOptionIsRepeatedInInitSoTheMountComesUp() throws {
    // libfuse refuses FUSE_INIT (EPROTO) unless conn->max_read equals -o max_read.
    let mounted = try Mounted(options: MountOptions(extraOptions: ["max_read=131072"]))
    defer { mounted.close() }
    writeFile(mounted.path("f"), [UInt8](repeating: 7, count: 300_000))
    XCTAssertEqual(readFile(mounted.path("f"))?.count, 300_000)
  }
}
