import ErmCore
import SystemPackage
import XCTest

@_spi(Benchmark) @testable import ErmFD

/// The export holds exactly the file's bytes, whatever its size and form.
final class ExportContentTests: XCTestCase {
  static let sizes = [0, 1, 4095, 4096, 4097, (1 << 20) + 1]

  private func assertRoundTrip(_ bytes: [UInt8], keepOpen: Bool, options: ExportOptions = [],
                               expectCompressed: Bool = true,
                               file: StaticString = #filePath, line: UInt = #line) throws {
    let fs = try makeFS()
    let writer = try put(fs, "/f", bytes, keepOpen: keepOpen)
    if !keepOpen, expectCompressed, bytes.count > 4096 {
      XCTAssertLessThan(try fs.stat("/f").storedSize, Int64(bytes.count), "not compressed",
                        file: file, line: line)
    }
    let fd = try fs.export("/f", options: options)
    defer { try? fd.close() }
    XCTAssertEqual(try fileSize(fd), bytes.count, file: file, line: line)
    XCTAssertEqual(contentHash(try readAll(fd)), contentHash(bytes), file: file, line: line)
    if let writer { try fs.close(writer) }
  }

  func testMaterialisedFilesExportByteExactForEdgeSizes() throws {
    for size in Self.sizes { try assertRoundTrip(try randomBytes(size), keepOpen: true) }
  }

  func testCompressedFilesExportByteExactForEdgeSizes() throws {
    for size in Self.sizes { try assertRoundTrip(try compressibleBytes(size), keepOpen: false) }
  }

  func testSealedExportsAreByteExactForEdgeSizes() throws {
    for size in Self.sizes {
      try assertRoundTrip(try compressibleBytes(size), keepOpen: false, options: .sealed)
    }
  }

  func testRandom100MiBMaterialisedFileExportsByteExact() throws {
    try assertRoundTrip(try randomBytes(100 << 20), keepOpen: true)
  }

  func testRandom100MiBCompressedFileExportsByteExact() throws {
    try assertRoundTrip(try compressibleBytes(100 << 20), keepOpen: false)
  }

  func testIncompressibleClosedFileExportsByteExact() throws {
    // Random bytes are stored as raw chunks after close: the other stored form.
    try assertRoundTrip(try randomBytes(3 << 20), keepOpen: false, expectCompressed: false)
  }

  func testMappedCopyPathIsByteExactForEdgeSizes() throws {
    for size in Self.sizes + [3 << 20] {
      let fs = try makeFS()
      let bytes = try compressibleBytes(size)
      try put(fs, "/f", bytes)
      let fd = try fs.export("/f", copyPath: .mapped)
      defer { try? fd.close() }
      XCTAssertEqual(try fileSize(fd), size)
      XCTAssertEqual(contentHash(try readAll(fd)), contentHash(bytes))
    }
  }

  func testExportStartsAtOffsetZero() throws {
    let fs = try makeFS()
    try put(fs, "/f", Array("hello".utf8))
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    XCTAssertEqual(try fd.seek(offset: 0, from: .current), 0)
    var buffer = [UInt8](repeating: 0, count: 16)
    let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
    XCTAssertEqual(Array(buffer[0..<n]), Array("hello".utf8))
  }

  func testExportIsSeekable() throws {
    let fs = try makeFS()
    try put(fs, "/f", Array("0123456789".utf8))
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    XCTAssertEqual(try fd.seek(offset: 0, from: .end), 10)
    XCTAssertEqual(try fd.seek(offset: 7, from: .start), 7)
    var buffer = [UInt8](repeating: 0, count: 3)
    _ = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
    XCTAssertEqual(buffer, Array("789".utf8))
  }

  func testExportCanBeMappedAndReadThroughTheMapping() throws {
    let fs = try makeFS()
    let bytes = try compressibleBytes(3 << 20 + 17)
    try put(fs, "/f", bytes)
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    let base = mmap(nil, bytes.count, PROT_READ, MAP_SHARED, fd.rawValue, 0)
    XCTAssertNotEqual(base, MAP_FAILED)
    defer { munmap(base, bytes.count) }
    XCTAssertEqual(contentHash(UnsafeRawBufferPointer(start: base, count: bytes.count)),
                   contentHash(bytes))
  }

  func testExportIsCloseOnExec() throws {
    let fs = try makeFS()
    try put(fs, "/f", [1, 2, 3])
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    XCTAssertEqual(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
  }

  func testExportIsAMemfdNamedAfterTheFile() throws {
    let fs = try makeFS()
    try fs.mkdir("/dir")
    try put(fs, "/dir/name.txt", [1])
    let fd = try fs.export("/dir/name.txt")
    defer { try? fd.close() }
    let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd.rawValue)")
    XCTAssertEqual(target, "/memfd:/dir/name.txt (deleted)")
  }

  func testOpenDescriptorExportsWhatWasWrittenSoFar() throws {
    let fs = try makeFS()
    let writer = try fs.open("/f", .writeOnly, options: .create)
    try fs.write(writer, bytes: Array("first".utf8))
    let fd = try fs.export(writer, name: "/f")
    defer { try? fd.close() }
    XCTAssertEqual(try readAll(fd), Array("first".utf8))
    try fs.close(writer)
  }
}
