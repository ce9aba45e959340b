import CErmFUSETestSupport
import ErmCore
import ErmFUSE
import Foundation
import SystemPackage
import XCTest

/// Lookup counts: every entry the kernel is given carries one lookup, FORGET gives them
/// back, and an unlinked file lives until both its last release and its last forget.
final class InodeLifetimeTests: XCTestCase {
  /// Makes the kernel evict unused dentries and inodes, which sends FORGETs.
  private func dropKernelCaches() {
    try? "2".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)
  }

  func testLookupsComeBackAfterTheKernelEvictsItsInodes() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    try FileManager.default.createDirectory(atPath: mounted.path("d/e"), withIntermediateDirectories: true)
    for i in 0..<200 { writeFile(mounted.path("d/e/f\(i)"), [UInt8(i & 0xff)]) }
    XCTAssertGreaterThan(mounted.fs.rememberedInodeCount, 200)
    XCTAssertTrue(eventually {
      dropKernelCaches()
      return mounted.fs.rememberedInodeCount == 1
    }, "kernel still holds \(mounted.fs.rememberedInodeCount) inodes")
    // The inodes are still there to be looked up again.
    XCTAssertEqual(readFile(mounted.path("d/e/f7")), [7])
  }

  func testUnlinkedOpenFileKeepsItsDataUntilReleaseAndForget() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let path = mounted.path("doomed")
    writeFile(path, [UInt8](repeating: 0x5a, count: 100_000))
    let fd = open(path, O_RDONLY)
    XCTAssertGreaterThanOrEqual(fd, 0)
    XCTAssertEqual(unlink(path), 0)
    dropKernelCaches()
    var buffer = [UInt8](repeating: 0, count: 100_000)
    XCTAssertEqual(buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }, 100_000)
    XCTAssertEqual(Set(buffer), [0x5a])
    XCTAssertGreaterThan(mounted.fs.statistics.logicalBytes, 0, "freed while still open")
    XCTAssertEqual(close(fd), 0)
    XCTAssertTrue(eventually {
      dropKernelCaches()
      let s = mounted.fs.statistics
      return s.logicalBytes == 0 && s.storedBytes == 0 && mounted.fs.rememberedInodeCount == 1
    }, "unlinked file not freed: \(mounted.fs.statistics)")
  }

  func testReaddirplusListsALargeDirectoryOnceAndGivesItsLookupsBack() throws {
    for listing in [MountOptions.DirectoryListing.namesAndAttributes, .names, .adaptive] {
      let mounted = try Mounted(options: MountOptions(directoryListing: listing))
      defer { mounted.close() }
      let dir = mounted.path("many")
      XCTAssertEqual(mkdir(dir, 0o755), 0)
      // Long names so the listing needs many FUSE_READDIR(PLUS) replies.
      let names = (0..<3000).map { "entry-\($0)-" + String(repeating: "n", count: $0 % 200) }
      for name in names { writeFile(dir + "/" + name, []) }
      dropKernelCaches()
      let listed = try FileManager.default.contentsOfDirectory(atPath: dir)
      XCTAssertEqual(listed.count, names.count, "\(listing)")
      XCTAssertEqual(Set(listed), Set(names), "\(listing)")
      for name in names.prefix(50) { XCTAssertNotNil(try? FileManager.default.attributesOfItem(atPath: dir + "/" + name)) }
      XCTAssertTrue(eventually {
        dropKernelCaches()
        return mounted.fs.rememberedInodeCount == 1
      }, "\(listing): kernel still holds \(mounted.fs.rememberedInodeCount) inodes")
    }
  }

  func testListingWhileTheDirectoryChangesNeverRepeatsOrSkipsSurvivors() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let dir = mounted.path("churn")
    XCTAssertEqual(mkdir(dir, 0o755), 0)
    for i in 0..<2000 { writeFile(dir + "/keep-\(i)", []) }
    guard let stream = opendir(dir) else { return XCTFail("opendir") }
    var seen: [String] = []
    var step = 0
    while let entry = readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
      seen.append(name)
      step += 1
      if step % 100 == 0 { writeFile(dir + "/new-\(step)", []) }  // added mid-listing
    }
    closedir(stream)
    let kept = seen.filter { $0.hasPrefix("keep-") }
    XCTAssertEqual(kept.count, 2000)
    XCTAssertEqual(Set(kept).count, 2000, "an entry was listed twice")
    XCTAssertEqual(seen.filter { $0 == "." || $0 == ".." }.count, 2)
  }
}
