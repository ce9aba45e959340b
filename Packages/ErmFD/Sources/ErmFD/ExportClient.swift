import CErmFD
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A connection to an ``ExportServer``: asks for files by path and receives memfds.
///
/// ```swift
/// let client = try ExportClient(socketPath: "/run/ermfs.sock")
/// let fd = try client.fetch("/data/file", options: .sealed)   // a memfd of this process
/// ```
/// One client is used by one thread at a time.
public final class ExportClient {
  private var socket: Int32
  /// The server's message for the last failed ``fetch(_:options:)``.
  public private(set) var lastErrorMessage: String?

  /// Connects to the server's socket.
  ///
  /// The corresponding C functions are `socket(AF_UNIX, SOCK_SEQPACKET)` and `connect`.
  ///
  /// - Parameters:
  ///   - socketPath: the server's socket file.
  ///   - timeout: milliseconds a send or a wait for a reply may take (default 5000).
  /// - Throws: ENOENT (no socket there), ECONNREFUSED (no server listening), EACCES
  ///   (the socket file's mode), ENAMETOOLONG, EMFILE.
  public init(socketPath: String, timeout: Int = 5000) throws(Errno) {
    let sock = ermfd_unix_connect(socketPath)
    guard sock >= 0 else { throw Errno(rawValue: errno) }
    guard ermfd_socket_set_timeouts(sock, Int32(clamping: timeout)) == 0 else {
      let error = Errno(rawValue: errno)
      Glibc.close(sock)
      throw error
    }
    self.socket = sock
  }

  deinit { close() }

  /// Closes the connection. Later fetches throw EBADF.
  public func close() {
    if socket >= 0 { Glibc.close(socket) }
    socket = -1
  }

  /// Asks the server for a file's memfd.
  ///
  /// The corresponding C functions are `sendmsg` and `recvmsg` (SCM_RIGHTS).
  ///
  /// - Parameters:
  ///   - path: the absolute path in the server's file system.
  ///   - options: how the server should export it.
  /// - Returns: the memfd, now a descriptor of this process (close-on-exec).
  /// - Throws: the server's errno (ENOENT, EISDIR, EACCES for a refused peer, EBUSY when
  ///   the server has no connection to spare, EINVAL, ENAMETOOLONG, ...; its message is
  ///   in ``lastErrorMessage``), EAGAIN when no reply
  ///   came within the timeout, ECONNRESET/EPIPE when the server went away, EPROTO
  ///   for a malformed reply, EBADF after ``close()``. After any error other than the
  ///   server's errno the connection is closed (a late reply must not answer a later
  ///   fetch): later fetches throw EBADF; connect a new client.
  public func fetch(_ path: String, options: ExportOptions = []) throws(Errno) -> FileDescriptor {
    guard socket >= 0 else { throw .badFileDescriptor }
    let request = ExportProtocol.encodeRequest(path: path, options: options)
    let sent = request.withUnsafeBytes { ermfd_send_message(socket, $0.baseAddress, $0.count, -1) }
    guard sent == request.count else {
      let error: Errno = sent < 0 ? Errno(rawValue: errno) : .messageTooLong
      // A server that refuses a connection (EACCES, EBUSY) answers and disconnects
      // before reading anything: its answer is queued here and says more than EPIPE.
      let refusal = error == .brokenPipe || error == .connectionReset ? queuedErrorReply() : nil
      close()  // the server may still answer what it got: never take that for a later reply
      if let refusal {
        lastErrorMessage = refusal.message
        throw Errno(rawValue: refusal.errno)
      }
      throw error
    }

    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ExportProtocol.maximumReplyLength, alignment: 8)
    defer { buffer.deallocate() }
    var fd: Int32 = -1, truncated: Int32 = 0
    let n = ermfd_receive_message(socket, buffer.baseAddress, buffer.count, &fd, &truncated)
    guard n >= 0 else {
      let error = Errno(rawValue: errno)
      // A reply that comes after the timeout would otherwise answer the next fetch (with
      // the wrong file's memfd): the exchange is broken, so is the connection.
      close()
      throw error
    }
    guard n > 0 else {
      if fd >= 0 { Glibc.close(fd) }
      close()
      throw .connectionReset
    }
    guard let reply = ExportProtocol.decodeReply(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else {
      if fd >= 0 { Glibc.close(fd) }
      close()
      throw .protocolError
    }
    if reply.errno != 0 {
      if fd >= 0 { Glibc.close(fd) }
      lastErrorMessage = reply.message
      throw Errno(rawValue: reply.errno)
    }
    guard fd >= 0 else {
      close()
      throw .protocolError
    }
    lastErrorMessage = nil
    return FileDescriptor(rawValue: fd)
  }

  /// An error reply already waiting on the socket (without blocking), if any.
  private func queuedErrorReply() -> (errno: Int32, message: String)? {
    _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ExportProtocol.maximumReplyLength, alignment: 8)
    defer { buffer.deallocate() }
    var fd: Int32 = -1, truncated: Int32 = 0
    let n = ermfd_receive_message(socket, buffer.baseAddress, buffer.count, &fd, &truncated)
    if fd >= 0 { Glibc.close(fd) }
    guard n > 0, let reply = ExportProtocol.decodeReply(UnsafeRawBufferPointer(rebasing: buffer[0..<n])),
          reply.errno != 0 else { return nil }
    return reply
  }
}
