import ErmAlloc
import Foundation
import ErmCompress
import Synchronization
import SystemPackage
import XCTest

@testable import ErmCore

/// Small chunks so tests cross chunk boundaries with little data.
let testChunkSize = 4096

/// The locking mode every suite runs in: `ERMCORE_TEST_LOCKING=locked|lockless` (the
/// Makefile runs the package's tests once in each), else the build's default.
let testLocking: ErmFS.Locking = {
  switch ProcessInfo.processInfo.environment["ERMCORE_TEST_LOCKING"] {
  case "locked": return .locked
  case "lockless": return .lockless
  default: return .default
  }
}()

func makeFS(maxDescriptors: Int = 1024, byteQuota: Int? = nil, maxFileSize: Int = 1 << 40,
            chunkSize: Int = testChunkSize, allocator: PageAllocator = PageAllocator(),
            codec: any GzipCodec = ZlibCodec(),
            compression: ErmFS.CompressionTiming = .onClose,
            locking: ErmFS.Locking = testLocking) throws -> ErmFS {
  try ErmFS(configuration: .init(maxDescriptors: maxDescriptors, byteQuota: byteQuota,
                                 maxFileSize: maxFileSize, chunkSize: chunkSize,
                                 codec: codec, compression: compression, allocator: allocator,
                                 locking: locking))
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

/// Memory a materialised file of `count` bytes holds: whole pages.
func pages(_ count: Int) -> Int {
  let page = PageAllocator.pageSize
  return (count + page - 1) / page * page
}

extension ErmFS {
  /// Every regular file reachable from `directory`, recursively (symbolic links not
  /// followed).
  func allFiles(under directory: String = "/") throws(Errno) -> [String] {
    var out: [String] = []
    for entry in try readdir(directory) {
      let path = (directory == "/" ? "" : directory) + "/" + entry.name
      if entry.type == .directory { out += try allFiles(under: path) }
      else if entry.type == .regular { out.append(path) }
    }
    return out
  }

  /// Checks the accounting invariants: the stored total is the sum of every file's
  /// stored size (each a whole number of pages or a slab slot), never less than the
  /// bytes the allocator handed out for them.
  func assertAccountingConsistent(_ allocator: PageAllocator, file: StaticString = #filePath,
                                  line: UInt = #line) throws {
    var sum: Int64 = 0
    for path in try allFiles() { sum += try stat(path).storedSize }
    XCTAssertEqual(Int64(statistics.storedBytes), sum, "stored bytes = sum of stored sizes",
                   file: file, line: line)
    XCTAssertLessThanOrEqual(allocator.statistics.bytesLive, statistics.storedBytes,
                             "the allocator hands out no more than is counted", file: file, line: line)
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
    let inode = try resolve(path)
    return inode.contents.withLock { $0.isCompressed }
  }

  func generation(_ path: String) throws(Errno) -> UInt64 {
    let inode = try resolve(path)
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

extension ErmFS {
  /// A compressed file's stored chunks as one standalone gzip stream (raw chunks wrapped
  /// as stored blocks); nil when the file is not compressed now.
  func storedGzipStream(_ path: String) throws(Errno) -> [UInt8]? {
    let inode = try resolve(path)
    let data = inode.contents.withLock { $0.data }
    guard case .compressed(let stored, let index) = data else { return nil }
    var out: [UInt8] = []
    try stored.withUnsafeBytes { (bytes) throws(Errno) in
      do throws(GzipError) {
        try storage.chunked.writeGzipStream(stored: bytes, index: index) { piece in out += piece }
      } catch {
        throw error.errno
      }
    }
    return out
  }
}

/// Decompresses with the system's `gzip -dc`: a decoder that shares no code with ErmFS.
func gunzipWithSystemGzip(_ stream: [UInt8]) throws -> [UInt8] {
  let input = FileManager.default.temporaryDirectory.appendingPathComponent("ermcore-\(UUID().uuidString).gz")
  try Data(stream).write(to: input)
  defer { try? FileManager.default.removeItem(at: input) }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["gzip", "-dc", input.path]
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let output = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw FsxFailure(operation: -1, message: "gzip -dc exited \(process.terminationStatus)")
  }
  return [UInt8](output)
}

extension XCTestCase {
  /// Runs `body(thread)` on `count` real threads at once and collects their failures.
  func onThreads(_ count: Int = 8, _ body: @escaping @Sendable (Int) throws -> Void) {
    let failures = Mutex<[String]>([])
    let group = DispatchGroup()
    for index in 0..<count {
      group.enter()
      let thread = Thread {
        do {
          try body(index)
        } catch {
          failures.withLock { $0.append("thread \(index): \(error)") }
        }
        group.leave()
      }
      thread.start()
    }
    group.wait()
    for failure in failures.withLock({ $0 }) { XCTFail(failure) }
  }
}
