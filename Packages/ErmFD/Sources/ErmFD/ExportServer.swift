import CErmFD
import ErmCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Serves exports of one ErmFS to other processes: a UNIX socket (SOCK_SEQPACKET) on
/// which a client sends a path and receives its memfd through SCM_RIGHTS, or an errno
/// and a message.
///
/// One thread runs ``run()``; it multiplexes every connection with `poll` and answers one
/// request per connection per turn, so neither a slow or silent client nor one that
/// pipelines many requests holds the others back. Each peer's credentials (SO_PEERCRED)
/// are checked against ``PeerPolicy`` when it connects; a refused peer, or one beyond
/// ``maximumConnections`` or ``maximumConnectionsPerUser``, gets one error reply and is
/// disconnected at once. Bad requests (too short, too long, unknown options, invalid
/// UTF-8, a NUL byte, unexpected descriptors) get an error reply; a connection idle
/// longer than the timeout, or one that does not read its replies, is closed. Nothing a
/// client sends can crash or stall the server.
///
/// ```swift
/// let server = try ExportServer(fs: fs, socketPath: "/run/ermfs.sock")
/// Thread.detachNewThread { server.run() }   // any thread
/// ...; server.stop()                         // run() returns, the socket file is removed
/// ```
public final class ExportServer: Sendable {
  /// The socket file's path.
  public let socketPath: String
  /// Who may connect.
  public let peerPolicy: PeerPolicy
  /// A connection silent for this long is closed (milliseconds).
  public let idleTimeout: Int
  /// Connections served at once; more are told EBUSY and closed.
  public let maximumConnections: Int
  /// Connections one user id may hold at once; more are told EBUSY and closed, so no
  /// single user can take every connection.
  public let maximumConnectionsPerUser: Int

  private let fs: ErmFS
  private let listener: Int32
  /// The socket file this server created (st_dev, st_ino): removed only while the path
  /// still names it.
  private let socketFile: (device: UInt64, inode: UInt64)
  private let wake: (read: Int32, write: Int32)
  private let state = Mutex<State>(State())

  private struct State {
    var stopping = false
    var running = false
    var closed = false
    /// Requests answered, for diagnostics and tests.
    var replies = 0
  }

  /// Creates the socket file and starts listening; serving starts with ``run()``.
  ///
  /// The socket file's mode is the policy's ``PeerPolicy/socketFileMode`` (0600 for
  /// `.sameUserOrRoot`, 0666 otherwise), whatever the umask.
  ///
  /// The corresponding C functions are `socket(AF_UNIX, SOCK_SEQPACKET)`, `fchmod`,
  /// `bind` and `listen`.
  ///
  /// - Parameters:
  ///   - fs: the file system to export from.
  ///   - socketPath: where to create the socket file (at most 107 bytes).
  ///   - peerPolicy: who may connect (default: same user or root).
  ///   - idleTimeout: milliseconds a connection may stay silent (default 5000).
  ///   - maximumConnections: connections served at once (default 64).
  ///   - maximumConnectionsPerUser: connections one uid may hold (default 32).
  ///   - replacingStaleSocket: remove a socket file left at `socketPath` by a server
  ///     that is gone (a connect to it is refused) instead of throwing EADDRINUSE. A
  ///     live server's socket, or any other file, is never removed.
  /// - Throws: EADDRINUSE when the path exists (a live server, a file that is not a
  ///   socket, or a stale socket without `replacingStaleSocket`), ENAMETOOLONG,
  ///   ENOENT/EACCES for the directory, EMFILE, EINVAL for an empty path or bad limits.
  public init(fs: ErmFS, socketPath: String, peerPolicy: PeerPolicy = .sameUserOrRoot,
              idleTimeout: Int = 5000, maximumConnections: Int = 64,
              maximumConnectionsPerUser: Int = 32, replacingStaleSocket: Bool = false) throws(Errno) {
    guard idleTimeout > 0, maximumConnections > 0, maximumConnectionsPerUser > 0 else {
      throw .invalidArgument
    }
    var ends: (Int32, Int32) = (-1, -1)
    let piped = withUnsafeMutableBytes(of: &ends) { ermfd_pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
    guard piped == 0 else { throw Errno(rawValue: errno) }
    var device: UInt64 = 0, inode: UInt64 = 0
    let listener = ermfd_unix_listen(socketPath, peerPolicy.socketFileMode, 64,
                                     replacingStaleSocket ? 1 : 0, &device, &inode)
    guard listener >= 0 else {
      let error = Errno(rawValue: errno)
      Glibc.close(ends.0)
      Glibc.close(ends.1)
      throw error
    }
    _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
    self.fs = fs
    self.socketPath = socketPath
    self.peerPolicy = peerPolicy
    self.idleTimeout = idleTimeout
    self.maximumConnections = maximumConnections
    self.maximumConnectionsPerUser = maximumConnectionsPerUser
    self.listener = listener
    self.socketFile = (device, inode)
    self.wake = ends
  }

  deinit {
    Glibc.close(wake.read)
    Glibc.close(wake.write)
    let closed = state.withLock { $0.closed }
    if !closed { closeListener() }
  }

  /// Removes the socket file if it is still ours, then stops listening. In this order:
  /// while we listen, a server started with `replacingStaleSocket` sees a live socket
  /// and leaves the path alone.
  private func closeListener() {
    _ = ermfd_unlink_if_same(socketPath, socketFile.device, socketFile.inode)
    Glibc.close(listener)
  }

  /// Requests answered so far (successes and errors).
  public var repliesSent: Int { state.withLock { $0.replies } }

  /// Serves connections until ``stop()``; then closes every connection and the socket
  /// and removes the socket file (if it is still this server's). Call it once, on a
  /// thread of your choice.
  ///
  /// The corresponding C functions are `poll`, `accept4`, `getsockopt(SO_PEERCRED)`,
  /// `recvmsg` and `sendmsg(SCM_RIGHTS)`.
  public func run() {
    let alreadyRunning = state.withLock { s -> Bool in
      defer { s.running = true }
      return s.running || s.closed
    }
    if alreadyRunning { return }
    var connections: [Connection] = []
    let request = UnsafeMutableRawBufferPointer.allocate(byteCount: ExportProtocol.maximumRequestLength,
                                                         alignment: 8)
    defer {
      request.deallocate()
      for c in connections { Glibc.close(c.socket) }
      closeListener()
      state.withLock { $0.closed = true }
    }

    while !state.withLock({ $0.stopping }) {
      var polled = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
      polled += connections.map { pollfd(fd: $0.socket, events: Int16(POLLIN), revents: 0) }
      let now = Self.milliseconds()
      let nextDeadline = connections.map(\.deadline).min()
      let timeout = nextDeadline.map { Int32(clamping: max(0, $0 - now)) } ?? -1
      let ready = poll(&polled, nfds_t(polled.count), timeout)
      if ready < 0 && errno != EINTR { break }  // cannot happen with valid descriptors

      // One request per ready connection per turn (fairness: a client that pipelines
      // many requests waits its turn like everyone else), then expiries, then new
      // connections (indices stay valid).
      var keep: [Connection] = []
      let after = Self.milliseconds()
      for (i, var c) in connections.enumerated() {
        let events = polled[i + 2].revents
        if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
          if serveOneRequest(c.socket, buffer: request) {
            c.deadline = after + idleTimeout
            keep.append(c)
          } else {
            Glibc.close(c.socket)
          }
        } else if after >= c.deadline {
          dismiss(c.socket, error: .timedOut, message: "idle for \(idleTimeout) ms: closing")
        } else {
          keep.append(c)
        }
      }
      connections = keep
      if polled[1].revents & Int16(POLLIN) != 0 { accept(into: &connections) }
    }
  }

  /// Makes ``run()`` return soon (from any thread). Harmless to call twice.
  public func stop() {
    state.withLock { $0.stopping = true }
    var byte: UInt8 = 1
    _ = Glibc.write(wake.write, &byte, 1)
  }

  // MARK: - Connections

  private struct Connection {
    var socket: Int32
    var uid: uid_t
    var deadline: Int
  }

  private static func milliseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
  }

  /// Accepts pending connections (at most `maximumConnections` per turn, so a flood of
  /// connects cannot keep the loop from serving), admitting those the policy and the
  /// limits allow. The others are answered and closed at once: they never hold a slot.
  private func accept(into connections: inout [Connection]) {
    for _ in 0..<maximumConnections {
      let sock = ermfd_unix_accept(listener)
      if sock < 0 { return }  // EAGAIN: none left (or a transient error: poll again)
      _ = fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK)
      var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
      if ermfd_peer_credentials(sock, &pid, &uid, &gid) != 0 {
        dismiss(sock, error: Errno(rawValue: errno), message: "cannot read peer credentials")
      } else if !peerPolicy.admits(uid: uid) {
        dismiss(sock, error: .permissionDenied, message: "uid \(uid) may not use this server")
      } else if connections.count >= maximumConnections {
        dismiss(sock, error: .resourceBusy, message: "too many connections (\(maximumConnections))")
      } else if connections.count(where: { $0.uid == uid }) >= maximumConnectionsPerUser {
        dismiss(sock, error: .resourceBusy,
                message: "too many connections for uid \(uid) (\(maximumConnectionsPerUser))")
      } else {
        connections.append(Connection(socket: sock, uid: uid, deadline: Self.milliseconds() + idleTimeout))
      }
    }
  }

  /// Answers once and disconnects so that the answer arrives: the peer reads it (as the
  /// reply to its first request, sent before or after), then end of file.
  private func dismiss(_ sock: Int32, error: Errno, message: String) {
    _ = reply(sock, error: error, message: message)
    ermfd_unix_close_after_replies(sock)
  }

  /// Answers the next request waiting on `sock`, if any. Returns false when the
  /// connection must go (closed by the peer, or not reading its replies).
  private func serveOneRequest(_ sock: Int32, buffer: UnsafeMutableRawBufferPointer) -> Bool {
    var passed: Int32 = -1
    var truncated: Int32 = 0
    let n = ermfd_receive_message(sock, buffer.baseAddress, buffer.count, &passed, &truncated)
    if passed >= 0 { Glibc.close(passed) }  // never keep what a client pushes on us
    if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK }
    if n == 0 { return false }  // orderly shutdown
    if truncated != 0 {
      return reply(sock, error: .fileNameTooLong,
                   message: "request longer than \(ExportProtocol.maximumRequestLength) bytes")
    }
    if passed >= 0 {
      return reply(sock, error: .invalidArgument, message: "requests carry no descriptors")
    }
    return answer(sock, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
  }

  /// Decodes one request, exports, replies.
  private func answer(_ sock: Int32, _ request: UnsafeRawBufferPointer) -> Bool {
    guard request.count > 4 else {
      return reply(sock, error: .invalidArgument, message: "request too short: options word and a path expected")
    }
    let options = ExportOptions(rawValue: UInt32(littleEndian: request.loadUnaligned(as: UInt32.self)))
    guard options.isSubset(of: .all) else {
      return reply(sock, error: .invalidArgument, message: "unknown export options \(options.rawValue)")
    }
    let pathBytes = request[4...]
    guard !pathBytes.contains(0) else {
      return reply(sock, error: .invalidArgument, message: "path contains a NUL byte")
    }
    guard let path = String(validating: pathBytes, as: UTF8.self) else {
      return reply(sock, error: .invalidArgument, message: "path is not valid UTF-8")
    }
    do throws(Errno) {
      let fd = try fs.export(path, options: options)
      defer { try? fd.close() }
      return reply(sock, error: nil, message: path, descriptor: fd.rawValue)
    } catch {
      return reply(sock, error: error, message: "\(path): \(error)")
    }
  }

  /// Sends one reply; false when the peer is gone or not reading.
  private func reply(_ sock: Int32, error: Errno?, message: String, descriptor: Int32 = -1) -> Bool {
    let bytes = ExportProtocol.encodeReply(error: error, message: message)
    let sent = bytes.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, descriptor) }
    state.withLock { $0.replies += 1 }
    return sent == bytes.count
  }
}
