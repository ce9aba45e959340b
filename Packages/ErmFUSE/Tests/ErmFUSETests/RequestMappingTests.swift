import CErmFUSETestSupport
import ErmCore
import ErmFUSE
import Foundation
import Synchronization
import SystemPackage
import XCTest

/// Requests reach ErmCore with the caller's identity, and ErmCore's errno reaches the
/// caller.
final class RequestMappingTests: XCTestCase {
  func testErmCoreErrnoReachesTheCaller() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    XCTAssertEqual(mkdir(mounted.path("d"), 0o755), 0)
    writeFile(mounted.path("d/f"), [1])
    func errno(_ call: () -> Int32) -> Errno? { call() == 0 ? nil : Errno(rawValue: Glibc.errno) }
    XCTAssertEqual(errno { rmdir(mounted.path("d")) }, .directoryNotEmpty)
    XCTAssertEqual(errno { mkdir(mounted.path("d"), 0o755) }, .fileExists)
    XCTAssertEqual(errno { unlink(mounted.path("d")) }, .isDirectory)
    XCTAssertEqual(errno { rmdir(mounted.path("d/f")) }, .notDirectory)
    XCTAssertEqual(errno { link(mounted.path("d"), mounted.path("d2")) }, .notPermitted)
    XCTAssertEqual(errno { rename(mounted.path("d"), mounted.path("d/f/x")) }, .notDirectory)
    XCTAssertEqual(ermfuse_test_renameat2(mounted.path("d/f"), mounted.path("d/g"), 4 /* RENAME_WHITEOUT */),
                   -Errno.invalidArgument.rawValue)
    XCTAssertEqual(ermfuse_test_renameat2(mounted.path("d/f"), mounted.path("d"), 1 /* RENAME_NOREPLACE */),
                   -Errno.fileExists.rawValue)
  }

  func testNewInodesBelongToTheCallingUserAndGroup() throws {
    let mounted = try Mounted(options: MountOptions(allowOther: true))
    defer { mounted.close() }
    XCTAssertEqual(chmod(mounted.root, 0o777), 0)
    let path = mounted.path("owned")
    let result = Mutex<Int32>(1)
    let done = DispatchSemaphore(value: 0)
    // setfsuid changes one thread: the file is created from a fresh thread.
    Thread.detachNewThread {
      result.withLock { $0 = ermfuse_test_create_as(path, 4321, 8765) }
      done.signal()
    }
    done.wait()
    XCTAssertEqual(result.withLock { $0 }, 0)
    let status = try mounted.fs.stat("/owned")
    XCTAssertEqual(status.userID, 4321)
    XCTAssertEqual(status.groupID, 8765)
  }

  func testCopyFileRangeIsServedByTheDaemonAndCopiesTheBytes() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let source = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    writeFile(mounted.path("src"), source)
    let input = open(mounted.path("src"), O_RDONLY)
    let output = open(mounted.path("dst"), O_WRONLY | O_CREAT, 0o644)
    defer { close(input); close(output) }
    XCTAssertEqual(ermfuse_test_copy_file_range(input, 1000, output, 10, 250_000), 250_000)
    close(output)
    let copied = try XCTUnwrap(readFile(mounted.path("dst")))
    XCTAssertEqual(copied.count, 250_010)
    XCTAssertEqual(Array(copied[10...]), Array(source[1000..<251_000]))
    XCTAssertEqual(Set(copied[0..<10]), [0])
    XCTAssertGreaterThan(mounted.session.statistics.requests["copy_file_range"] ?? 0, 0)
  }

  func testSeekDataAndHoleFollowErmCore() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    writeFile(mounted.path("dense"), [UInt8](repeating: 1, count: 10_000))
    let fd = open(mounted.path("dense"), O_RDONLY)
    defer { close(fd) }
    XCTAssertEqual(lseek(fd, 100, 3 /* SEEK_DATA */), 100)
    XCTAssertEqual(lseek(fd, 100, 4 /* SEEK_HOLE */), 10_000)
    XCTAssertEqual(lseek(fd, 10_000, 3), -1)
    XCTAssertEqual(Errno(rawValue: Glibc.errno), .noSuchAddressOrDevice)
    XCTAssertGreaterThan(mounted.session.statistics.requests["lseek"] ?? 0, 0)
  }

  func testTimesSetThroughUtimensatWithNowAndOmit() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let path = mounted.path("t")
    writeFile(path, [1])
    var times = [timespec(tv_sec: 1_000, tv_nsec: 5), timespec(tv_sec: 2_000, tv_nsec: 6)]
    XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
    var status = try mounted.fs.stat("/t")
    XCTAssertEqual(status.accessTime, ErmFS.Timestamp(seconds: 1_000, nanoseconds: 5))
    XCTAssertEqual(status.modificationTime, ErmFS.Timestamp(seconds: 2_000, nanoseconds: 6))
    // UTIME_NOW for atime, UTIME_OMIT for mtime.
    times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)]
    XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
    status = try mounted.fs.stat("/t")
    XCTAssertGreaterThan(status.accessTime.seconds, 1_700_000_000)
    XCTAssertEqual(status.modificationTime, ErmFS.Timestamp(seconds: 2_000, nanoseconds: 6))
  }

  func testStatisticsAttributeIsReadOnlyHiddenAndParses() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    writeFile(mounted.path("f"), Array(repeating: 65, count: 5000))
    let stats = try MountStatistics.read(from: mounted.root)
    XCTAssertEqual(stats.processID, getpid())
    XCTAssertEqual(stats.files, 1)
    XCTAssertEqual(stats.logicalBytes, 5000)
    XCTAssertGreaterThan(stats.residentBytes, 0)
    XCTAssertGreaterThan(stats.requests["create"] ?? 0, 0)
    XCTAssertEqual(ermfuse_test_setxattr(mounted.root, "user.ermfs.stats", "x", 1), -Errno.notPermitted.rawValue)
    var names = [CChar](repeating: 0, count: 1024)
    XCTAssertEqual(ermfuse_test_listxattr(mounted.root, &names, names.count), 0, "the statistics attribute must not be listed")
    // Only the root has it.
    XCTAssertThrowsError(try MountStatistics.read(from: mounted.path("f"))) { XCTAssertEqual($0 as? Errno, .noData) }
  }
}
