import CErmFD
import ErmCore
import SystemPackage
import XCTest

@_spi(Benchmark) @testable import ErmFD

/// A sealed export cannot be changed by anyone, the receiver included.
final class SealTests: XCTestCase {
  private func sealedExport(_ bytes: [UInt8] = Array("sealed contents".utf8)) throws -> FileDescriptor {
    let fs = try makeFS()
    try put(fs, "/f", bytes)
    return try fs.export("/f", options: .sealed)
  }

  func testSealedExportCarriesShrinkGrowWriteAndSealSeals() throws {
    let fd = try sealedExport()
    defer { try? fd.close() }
    XCTAssertTrue(try Memfd.seals(of: fd).isSuperset(of: Seals.export))
  }

  func testWriteToSealedExportFailsWithEPERM() throws {
    let fd = try sealedExport()
    defer { try? fd.close() }
    assertThrows(.notPermitted) { try fd.writeAll(toAbsoluteOffset: 0, Array("x".utf8)) }
  }

  func testShrinkingSealedExportFailsWithEPERM() throws {
    let fd = try sealedExport()
    defer { try? fd.close() }
    XCTAssertEqual(errnoOf(ftruncate(fd.rawValue, 1)), .notPermitted)
  }

  func testGrowingSealedExportFailsWithEPERM() throws {
    let fd = try sealedExport()
    defer { try? fd.close() }
    XCTAssertEqual(errnoOf(ftruncate(fd.rawValue, 1 << 20)), .notPermitted)
  }

  func testWritableSharedMappingOfSealedExportFailsWithEPERM() throws {
    let fd = try sealedExport()
    defer { try? fd.close() }
    let base = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0)
    XCTAssertEqual(base, MAP_FAILED)
    XCTAssertEqual(Errno(rawValue: errno), .notPermitted)
  }

  func testAddingSealsToSealedExportFailsWithEPERM() throws {
    let fd = try sealedExport()
    defer { try? fd.close() }
    assertThrows(.notPermitted) { try Memfd.addSeals(.futureWrite, to: fd) }
  }

  func testLargeSealedExportThroughTheMappingPathIsSealed() throws {
    // The memfd was mapped shared and writable while filled: F_SEAL_WRITE only
    // succeeds because that mapping is gone.
    let bytes = try compressibleBytes(2 << 20)
    let fs = try makeFS()
    try put(fs, "/f", bytes)
    let fd = try fs.export("/f", options: .sealed, copyPath: .mapped)
    defer { try? fd.close() }
    XCTAssertTrue(try Memfd.seals(of: fd).contains(.write))
    XCTAssertEqual(contentHash(try readAll(fd)), contentHash(bytes))
  }

  func testUnsealedExportIsWritableByItsOwner() throws {
    let fs = try makeFS()
    try put(fs, "/f", Array("abc".utf8))
    let fd = try fs.export("/f")
    defer { try? fd.close() }
    XCTAssertEqual(try fd.writeAll(toAbsoluteOffset: 0, Array("X".utf8)), 1)
    XCTAssertEqual(try readAll(fd), Array("Xbc".utf8))
  }
}
