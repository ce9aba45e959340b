import CErmIOUring
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Open descriptors of this process, counted in /proc/self/fd.
func openDescriptorCount() -> Int {
  guard let dir = opendir("/proc/self/fd") else { return -1 }
  defer { closedir(dir) }
  var count = 0
  while let entry = readdir(dir) {
    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    if name != "." && name != ".." { count += 1 }
  }
  return count - 1  // the directory stream's own descriptor
}

/// A fresh memfd (closed by the caller).
func makeMemfd(_ name: String = "ermiouring-test", sealing: Bool = false) throws -> FileDescriptor {
  let flags = ERM_MFD_CLOEXEC | (sealing ? ERM_MFD_ALLOW_SEALING : 0)
  let fd = erm_memfd_create(name, flags)
  if fd < 0 { throw Errno(rawValue: errno) }
  return FileDescriptor(rawValue: fd)
}

/// A regular file in the temporary directory ($TMPDIR, else /tmp), already unlinked.
func makeRegularFile() throws -> FileDescriptor {
  let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
  var template = Array("\(directory)/ermiouring-XXXXXX".utf8CString)
  let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
  if fd < 0 { throw Errno(rawValue: errno) }
  _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
  return FileDescriptor(rawValue: fd)
}

/// Deterministic, position-dependent bytes so misplaced data is caught.
func pattern(count: Int, seed: Int) -> [UInt8] {
  var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
  return (0..<count).map { _ in
    state ^= state << 13; state ^= state >> 7; state ^= state << 17
    return UInt8(truncatingIfNeeded: state)
  }
}

/// The whole contents of `fd`, read with pread (not through the ring under test).
func contents(of fd: FileDescriptor) throws -> [UInt8] {
  var st = stat()
  if fstat(fd.rawValue, &st) != 0 { throw Errno(rawValue: errno) }
  var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
  var done = 0
  while done < bytes.count {
    let n = bytes.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress! + done, $0.count - done, off_t(done)) }
    if n < 0 { throw Errno(rawValue: errno) }
    if n == 0 { break }
    done += n
  }
  return Array(bytes.prefix(done))
}

/// Keeps buffers alive and stable while a batch borrows them.
final class BufferSet {
  private(set) var buffers: [UnsafeMutableRawBufferPointer] = []
  func add(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
    let b = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    b.copyBytes(from: bytes)
    buffers.append(b)
    return UnsafeRawBufferPointer(b)
  }
  func make(count: Int) -> UnsafeMutableRawBufferPointer {
    let b = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
    b.initializeMemory(as: UInt8.self, repeating: 0)
    buffers.append(b)
    return b
  }
  deinit { buffers.forEach { $0.deallocate() } }
}
