import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// Exporting a compressed file decompresses into the memfd: no buffer of the whole file.
final class ExportMemoryTests: XCTestCase {
  private func statusBytes(_ key: String) throws -> Int {
    let text = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix(key + ":") })
    return try XCTUnwrap(Int(line.split(separator: " ")[1])) * 1024
  }

  func testExporting256MiBCompressedFileGrowsPeakRSSByLittleMoreThanTheMemfd() throws {
    let size = 256 << 20
    let fs = try makeFS()
    let writer = try fs.open("/big", .writeOnly, options: .create)
    for _ in 0..<(size >> 22) { try fs.write(writer, bytes: try compressibleBytes(4 << 20)) }
    try fs.close(writer)
    XCTAssertLessThan(try fs.stat("/big").storedSize, Int64(size) * 3 / 4, "not compressed")

    // Writing "5" to clear_refs resets the peak (VmHWM) to the current RSS.
    try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    let before = try statusBytes("VmRSS")
    let fd = try fs.export("/big")
    let peak = try statusBytes("VmHWM")
    defer { try? fd.close() }
    XCTAssertEqual(try fileSize(fd), size)
    // The memfd's pages count while mapped (size); a whole-file intermediate buffer
    // would add another 256 MiB. Allow 32 MiB for everything else.
    let growth = peak - before
    XCTAssertLessThan(growth, size + (32 << 20), "peak RSS grew by \(growth >> 20) MiB")
  }
}
