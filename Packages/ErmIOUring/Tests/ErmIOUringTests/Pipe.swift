import CErmIOUring
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose read end is drained by a background pthread until end of file.
final class DrainedPipe: @unchecked Sendable {
  let writeEnd: FileDescriptor
  private let readEnd: FileDescriptor
  private var thread = pthread_t()
  // Written only by the reader thread before it exits; read after pthread_join.
  private var received: [UInt8] = []

  /// - Parameter capacity: the pipe buffer size (F_SETPIPE_SZ), rounded up by the kernel.
  init(capacity: Int32) throws {
    var fds: [Int32] = [0, 0]
    if pipe(&fds) != 0 { throw Errno(rawValue: errno) }
    readEnd = FileDescriptor(rawValue: fds[0])
    writeEnd = FileDescriptor(rawValue: fds[1])
    if erm_set_pipe_size(fds[1], capacity) < 0 { throw Errno(rawValue: errno) }
    let box = Unmanaged.passRetained(self).toOpaque()
    let rc = pthread_create(&thread, nil, { arg in
      let pipe = Unmanaged<DrainedPipe>.fromOpaque(arg!).takeRetainedValue()
      var chunk = [UInt8](repeating: 0, count: 4096)
      while true {
        let n = chunk.withUnsafeMutableBytes { read(pipe.readEnd.rawValue, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        pipe.received.append(contentsOf: chunk.prefix(n))
      }
      return nil
    }, box)
    if rc != 0 { throw Errno(rawValue: rc) }
  }

  /// Closes the write end, waits for the reader and returns everything it read.
  func finish() throws -> [UInt8] {
    try writeEnd.close()
    pthread_join(thread, nil)
    try readEnd.close()
    return received
  }
}
