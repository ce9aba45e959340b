import ErmAlloc
import ErmCompress
import SystemPackage
import XCTest

@testable import ErmCore

/// Small chunks so tests cross chunk boundaries with little data.
let testChunkSize = 4096

func makeFS(maxDescriptors: Int = 1024, byteQuota: Int? = nil, maxFileSize: Int = 1 << 40,
            chunkSize: Int = testChunkSize, allocator: PageAllocator = PageAllocator(),
            codec: any GzipCodec = ZlibCodec()) throws -> ErmFS {
  try ErmFS(configuration: .init(maxDescriptors: maxDescriptors, byteQuota: byteQuota,
                                 maxFileSize: maxFileSize, chunkSize: chunkSize,
                                 codec: codec, allocator: allocator))
}

/// Asserts that `body` throws exactly `expected`.
func assertErrno<R>(_ expected: Errno, file: StaticString = #filePath, line: UInt = #line,
                    _ body: () throws(Errno) -> R) {
  do {
    let value = try body()
    XCTFail("expected \(expected), got success: \(value)", file: file, line: line)
  } catch {
    XCTAssertEqual(error, expected, file: file, line: line)
  }
}

/// Compressible text: repeated words with a running counter.
func text(_ count: Int, seed: Int = 0) -> [UInt8] {
  var out: [UInt8] = []
  out.reserveCapacity(count + 32)
  var n = seed
  while out.count < count {
    out.append(contentsOf: Array("line \(n) of the quick brown fox\n".utf8))
    n += 1
  }
  return Array(out.prefix(count))
}

/// Incompressible bytes (xorshift).
func noise(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
  var state = seed | 1
  return (0..<count).map { _ in
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    return UInt8(truncatingIfNeeded: state)
  }
}

extension ErmFS {
  /// Creates (or replaces) `path` with `bytes` and closes it (so it is compressed).
  func put(_ path: String, _ bytes: [UInt8]) throws(Errno) {
    let fd = try open(path, .writeOnly, options: [.create, .truncate])
    try write(fd, bytes: bytes)
    try close(fd)
  }

  /// The whole file at `path`, read through a fresh descriptor.
  func get(_ path: String) throws(Errno) -> [UInt8] {
    let fd = try open(path, .readOnly)
    defer { try? close(fd) }
    var all: [UInt8] = []
    while true {
      let piece = try read(fd, upToCount: 10_000)
      if piece.isEmpty { return all }
      all += piece
    }
  }

  /// Test access to a file's storage form.
  func isCompressed(_ path: String) throws(Errno) -> Bool {
    let inode = try registry.lookup(try Path(path))
    return inode.contents.withLock { $0.isCompressed }
  }

  func generation(_ path: String) throws(Errno) -> UInt64 {
    let inode = try registry.lookup(try Path(path))
    return inode.contents.withLock { $0.generation }
  }
}

/// Like XCTAssertEqual for byte arrays, but reports sizes and the first difference
/// instead of printing whole files.
func assertSameBytes(_ actual: @autoclosure () throws -> [UInt8], _ expected: [UInt8],
                     file: StaticString = #filePath, line: UInt = #line) {
  do {
    let actual = try actual()
    guard actual != expected else { return }
    let first = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    XCTFail("bytes differ: \(actual.count) vs expected \(expected.count), first difference at \(first.map(String.init) ?? "the end")",
            file: file, line: line)
  } catch {
    XCTFail("threw \(error)", file: file, line: line)
  }
}
