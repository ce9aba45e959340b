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
}
