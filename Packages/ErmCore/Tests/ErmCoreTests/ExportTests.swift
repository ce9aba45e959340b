import SystemPackage
import XCTest

@testable import ErmCore

final class ExportTests: XCTestCase {
  func testWithContentsCopiesACompressedRange() throws {
    let fs = try makeFS()
    let data = text(30_000)
    try fs.put("/a", data)
    let piece = try fs.withContents(ofPath: "/a") { (contents) throws(Errno) -> [UInt8] in
      XCTAssertEqual(contents.logicalSize, 30_000)
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 10_000, alignment: 1)
      defer { buffer.deallocate() }
      try contents.copy(5000..<15_000, into: buffer)
      return Array(buffer)
    }
    assertSameBytes(piece, Array(data[5000..<15_000]))
  }

  func testWithContentsOfAMaterialisedFileByDescriptor() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: [1, 2, 3])
    let copied = try fs.withContents(of: fd) { (contents) throws(Errno) -> [UInt8] in
      try contents.bytes(0..<contents.logicalSize)
    }
    XCTAssertEqual(copied, [1, 2, 3])
  }

  func testCopyOutsideTheFileIsEINVAL() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3])
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.withContents(ofPath: "/a") { (contents) throws(Errno) in
        _ = try contents.bytes(2..<5)
      }
    }
  }

  func testCopyIntoAShortDestinationIsEINVAL() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3])
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.withContents(ofPath: "/a") { (contents) throws(Errno) in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { buffer.deallocate() }
        try contents.copy(0..<3, into: buffer)
      }
    }
  }

  func testWithContentsOfADirectoryIsEISDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.isDirectory) { () throws(Errno) in
      try fs.withContents(ofPath: "/d") { (_) throws(Errno) in }
    }
  }

  func testWithContentsOfAMissingFileIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in
      try fs.withContents(ofPath: "/x") { (_) throws(Errno) in }
    }
  }

  func testSnapshotOfACompressedFileIgnoresWritesDuringTheBody() throws {
    let fs = try makeFS()
    try fs.put("/a", text(20_000))
    let seen = try fs.withContents(ofPath: "/a") { (contents) throws(Errno) -> [UInt8] in
      // A writer is not blocked by the snapshot, and does not change it.
      let fd = try fs.open("/a", .writeOnly, options: .truncate)
      try fs.write(fd, bytes: [1, 2, 3])
      try fs.close(fd)
      return try contents.bytes(0..<contents.logicalSize)
    }
    assertSameBytes(seen, text(20_000))
    assertSameBytes(try fs.get("/a"), [1, 2, 3])
  }
}
