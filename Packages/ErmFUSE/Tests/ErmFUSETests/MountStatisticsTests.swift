import ErmFUSE
import XCTest

/// The statistics text and the mount table parser, without a mount.
final class MountStatisticsTests: XCTestCase {
  func testTextMissingAKeyDoesNotParse() {
    XCTAssertNil(MountStatistics(text: "pid 1\nfiles 2\n"))
    XCTAssertNil(MountStatistics(text: ""))
  }

  func testMountTableListsTheRootFileSystem() {
    XCTAssertTrue(MountTable.entries().contains { $0.mountPoint == "/" })
    XCTAssertNil(MountTable.entry(at: "/no/such/mount/point"))
  }
}
