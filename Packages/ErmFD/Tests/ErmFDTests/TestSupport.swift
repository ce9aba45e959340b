import CErmFD
import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

func makeFS(maxDescriptors: Int = 1024) throws -> ErmFS {
  try ErmFS(configuration: .init(maxDescriptors: maxDescriptors))
}

/// `count` random bytes from /dev/urandom.
func randomBytes(_ count: Int) throws -> [UInt8] {
  var bytes = [UInt8](repeating: 0, count: count)
  let fd = try FileDescriptor.open("/dev/urandom", .readOnly)
  defer { try? fd.close() }
  try bytes.withUnsafeMutableBytes { buffer in
    var done = 0
    while done < buffer.count {
      done += try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
    }
  }
  return bytes
}

/// Random bytes with 4 bits of entropy each (letters '@'...'O'): gzip roughly halves them,
/// so a closed file really is stored compressed.
func compressibleBytes(_ count: Int) throws -> [UInt8] {
  var bytes = try randomBytes(count)
  bytes.withUnsafeMutableBytes { buffer in
    let words = buffer.count / 8
    let w = buffer.baseAddress!.bindMemory(to: UInt64.self, capacity: words)
    for i in 0..<words { w[i] = (w[i] & 0x0F0F_0F0F_0F0F_0F0F) | 0x4040_4040_4040_4040 }
    for i in (words * 8)..<buffer.count { buffer[i] = (buffer[i] & 0x0F) | 0x40 }
  }
  return bytes
}

/// FNV-1a over 64-bit words plus the byte tail (fast enough in debug builds for 100 MiB).
func contentHash(_ buffer: UnsafeRawBufferPointer) -> UInt64 {
  var h: UInt64 = 0xcbf2_9ce4_8422_2325
  let words = buffer.count / 8
  for i in 0..<words {
    h = (h ^ buffer.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3
  }
  for i in (words * 8)..<buffer.count { h = (h ^ UInt64(buffer[i])) &* 0x100_0000_01b3 }
  return (h ^ UInt64(buffer.count)) &* 0x100_0000_01b3
}

func contentHash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { contentHash($0) } }

/// Stores `bytes` at `path`. `keepOpen` leaves a write descriptor open (the file stays
/// materialised) and returns it; otherwise the last close compresses the file.
@discardableResult
func put(_ fs: ErmFS, _ path: String, _ bytes: [UInt8], keepOpen: Bool = false,
         permissions: FilePermissions = [.ownerReadWrite]) throws -> ErmFS.Descriptor? {
  let fd = try fs.open(path, .readWrite, options: [.create, .truncate], permissions: permissions)
  try bytes.withUnsafeBytes { buffer in
    var done = 0
    while done < buffer.count {
      done += try fs.write(fd, UnsafeRawBufferPointer(rebasing: buffer[done...]))
    }
  }
  if keepOpen { return fd }
  try fs.close(fd)
  return nil
}

/// Everything a kernel descriptor holds, read from offset 0 with pread.
func readAll(_ fd: FileDescriptor) throws -> [UInt8] {
  let size = try fileSize(fd)
  var bytes = [UInt8](repeating: 0, count: size)
  try bytes.withUnsafeMutableBytes { buffer in
    var done = 0
    while done < buffer.count {
      let n = try fd.read(fromAbsoluteOffset: Int64(done),
                          into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
      if n == 0 { break }
      done += n
    }
  }
  return bytes
}

func fileSize(_ fd: FileDescriptor) throws -> Int {
  var st = stat()
  guard fstat(fd.rawValue, &st) == 0 else { throw Errno(rawValue: errno) }
  return Int(st.st_size)
}

/// Number of descriptors this process has open.
func openDescriptorCount() -> Int {
  (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Asserts `body` throws exactly `expected`.
func assertThrows<T>(_ expected: Errno, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> T) {
  do {
    _ = try body()
    XCTFail("expected \(expected), nothing thrown", file: file, line: line)
  } catch let error as Errno {
    XCTAssertEqual(error, expected, file: file, line: line)
  } catch {
    XCTFail("expected \(expected), got \(error)", file: file, line: line)
  }
}

/// The errno of a raw C call returning -1, or nil when it succeeded.
func errnoOf(_ rc: some BinaryInteger) -> Errno? { rc < 0 ? Errno(rawValue: errno) : nil }
