import CErmFUSETestSupport
import ErmCore
import ErmFUSE
import Foundation
import SystemPackage
import XCTest

/// Compress-on-close through the kernel, and what the kernel keeps cached around it.
final class CachingTests: XCTestCase {
  private let text = Array(String(repeating: "compressible line of text\n", count: 20_000).utf8)

  private func isCompressed(_ mounted: Mounted, _ path: String) -> Bool {
    guard let status = try? mounted.fs.stat(path) else { return false }
    return status.storedSize < status.size / 2
  }

  func testTheLastReleaseOfAModifiedFileCompressesIt() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let path = mounted.path("doc")
    let first = open(path, O_RDWR | O_CREAT, 0o644)
    let second = open(path, O_RDONLY)
    XCTAssertEqual(text.withUnsafeBytes { write(first, $0.baseAddress, $0.count) }, text.count)
    XCTAssertEqual(close(first), 0)
    usleep(300_000)
    XCTAssertFalse(isCompressed(mounted, "/doc"), "compressed while another descriptor was open")
    XCTAssertEqual(close(second), 0)
    XCTAssertTrue(eventually { isCompressed(mounted, "/doc") }, "not compressed after the last release")
    XCTAssertEqual(readFile(path), text)
  }

  func testClosingWithoutWritesNeverRecompresses() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    writeFile(mounted.path("doc"), text)
    XCTAssertTrue(eventually { isCompressed(mounted, "/doc") })
    let stored = try mounted.fs.stat("/doc").storedSize
    for _ in 0..<5 { XCTAssertEqual(readFile(mounted.path("doc")), text) }
    XCTAssertEqual(try mounted.fs.stat("/doc").storedSize, stored)
  }

  func testKernelCopyIsDroppedOnceTheFileIsCompressed() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let path = mounted.path("doc")
    writeFile(path, text)
    XCTAssertTrue(eventually { isCompressed(mounted, "/doc") })
    XCTAssertTrue(eventually { ermfuse_test_resident_pages(path, text.count) == 0 },
                  "\(ermfuse_test_resident_pages(path, text.count)) pages still cached after compression")
  }

  func testKernelCopyStaysWhenAskedTo() throws {
    let mounted = try Mounted(options: MountOptions(dropCacheOnCompress: false))
    defer { mounted.close() }
    let path = mounted.path("doc")
    writeFile(path, text)
    XCTAssertTrue(eventually { isCompressed(mounted, "/doc") })
    usleep(200_000)
    XCTAssertGreaterThan(ermfuse_test_resident_pages(path, text.count), 0)
  }

  func testReadOnlyOpensKeepTheCacheAcrossOpens() throws {
    let mounted = try Mounted()
    defer { mounted.close() }
    let path = mounted.path("doc")
    writeFile(path, text)
    XCTAssertTrue(eventually { ermfuse_test_resident_pages(path, text.count) == 0 })
    XCTAssertEqual(readFile(path), text)
    let reads = mounted.session.statistics.requests["read"] ?? 0
    XCTAssertEqual(readFile(path), text)
    XCTAssertEqual(mounted.session.statistics.requests["read"] ?? 0, reads, "a reopened unchanged file was read again")
  }

  func testWritebackCacheModeWritesReachErmFSAndCompress() throws {
    let mounted = try Mounted(options: MountOptions(writebackCache: true))
    defer { mounted.close() }
    XCTAssertTrue(mounted.session.statistics.writebackCache, "the kernel did not agree to the writeback cache")
    let path = mounted.path("wb")
    // Write-only opens must still let the kernel read pages (partial page writes).
    let fd = open(path, O_WRONLY | O_CREAT, 0o644)
    XCTAssertEqual(text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, text.count)
    XCTAssertEqual(text.withUnsafeBytes { pwrite(fd, $0.baseAddress! + 3, 5, 1001) }, 5)
    XCTAssertEqual(close(fd), 0)
    var expected = text
    expected.replaceSubrange(1001..<1006, with: text[3..<8])
    XCTAssertTrue(eventually { isCompressed(mounted, "/wb") })
    let stored = try mounted.fs.withContents(ofPath: "/wb") { (contents) throws(Errno) -> [UInt8] in
      try contents.bytes(0..<contents.logicalSize)
    }
    XCTAssertEqual(stored, expected)
    XCTAssertEqual(readFile(path), expected)
  }

  func testOneWorkerThreadServesEverything() throws {
    let mounted = try Mounted(options: MountOptions(threads: 1))
    defer { mounted.close() }
    for i in 0..<50 { writeFile(mounted.path("f\(i)"), Array(text[0..<(i * 100)])) }
    for i in 0..<50 { XCTAssertEqual(readFile(mounted.path("f\(i)")), Array(text[0..<(i * 100)])) }
    XCTAssertEqual(mounted.fs.statistics.files, 50)
  }
}
