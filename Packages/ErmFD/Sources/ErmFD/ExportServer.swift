import CErmFD
import ErmCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Serves exports of one ErmFS to other processes: a UNIX socket (SOCK_SEQPACKET, socket
/// file mode 0600) on which a client sends a path and receives its memfd through
/// SCM_RIGHTS, or an errno and a message.
///
/// One thread runs ``run()``; it multiplexes every connection with `poll`, so a slow or
/// silent client cannot block the others. Each peer's credentials (SO_PEERCRED) are
/// checked against ``PeerPolicy`` when it connects. Bad requests (too short, too long,
/// unknown options, invalid UTF-8, unexpected descriptors) get an error reply; a
/// connection idle longer than the timeout, or one that does not read its replies, is
/// closed. Nothing a client sends can crash or stall the server.
///
/// ```swift
/// let server = try ExportServer(fs: fs, socketPath: "/run/ermfs.sock")
/// Thread.detachNewThread { server.run() }   // any thread
/// ...; server.stop()                         // run() returns, the socket file is removed
/// ```
public final class ExportServer: Sendable {
  /// Who may connect.
  public enum PeerPolicy: Sendable, Hashable {
    /// The server's own user, and root (the default).
    case sameUserOrRoot
    /// Only these user ids.
    case users(Set<UInt32>)
    /// Anyone who can open the socket file (its mode 0600 still limits that).
    case anyUser

    func admits(uid: uid_t) -> Bool {
      switch self {
      case .sameUserOrRoot: return uid == 0 || uid == geteuid()
      case .users(let set): return set.contains(uid)
      case .anyUser: return true
      }
    }
  }

  /// The socket file's path.
  public let socketPath: String
  /// Who may connect.
  public let peerPolicy: PeerPolicy
  /// A connection silent for this long is closed (milliseconds).
  public let idleTimeout: Int
  /// Connections served at once; more are told EBUSY and closed.
  public let maximumConnections: Int

  private let fs: ErmFS
  private let listener: Int32
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
  /// The corresponding C functions are `socket(AF_UNIX, SOCK_SEQPACKET)`, `bind`,
  /// `chmod` and `listen`.
  ///
  /// - Parameters:
  ///   - fs: the file system to export from.
  ///   - socketPath: where to create the socket file (at most 107 bytes).
  ///   - peerPolicy: who may connect (default: same user or root).
  ///   - idleTimeout: milliseconds a connection may stay silent (default 5000).
  ///   - maximumConnections: connections served at once (default 64).
  /// - Throws: EADDRINUSE when the path exists (remove a stale socket first),
  ///   ENAMETOOLONG, ENOENT/EACCES for the directory, EMFILE, EINVAL for bad limits.
  public init(fs: ErmFS, socketPath: String, peerPolicy: PeerPolicy = .sameUserOrRoot,
              idleTimeout: Int = 5000, maximumConnections: Int = 64) throws(Errno) {
    guard idleTimeout > 0, maximumConnections > 0 else { throw .invalidArgument }
    var ends: (Int32, Int32) = (-1, -1)
    let piped = withUnsafeMutableBytes(of: &ends) { ermfd_pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }
    guard piped == 0 else { throw Errno(rawValue: errno) }
    let listener = ermfd_unix_listen(socketPath, 0o600, 64)
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
    self.listener = listener
    self.wake = ends
  }

  deinit {
    Glibc.close(wake.read)
    Glibc.close(wake.write)
    let closed = state.withLock { $0.closed }
    if !closed {
      Glibc.close(listener)
      unlink(socketPath)
    }
  }

  /// Requests answered so far (successes and errors).
  public var repliesSent: Int { state.withLock { $0.replies } }

  /// Serves connections until ``stop()``; then closes every connection and the socket
  /// and removes the socket file. Call it once, on a thread of your choice.
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
      Glibc.close(listener)
      unlink(socketPath)
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

      // Requests first, then expiries, then new connections (indices stay valid).
      var keep: [Connection] = []
      let after = Self.milliseconds()
      for (i, var c) in connections.enumerated() {
        let events = polled[i + 2].revents
        if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
          if serve(&c, buffer: request) {
            c.deadline = after + idleTimeout
            keep.append(c)
          } else {
            Glibc.close(c.socket)
          }
        } else if after >= c.deadline {
          _ = reply(c.socket, error: .timedOut, message: "idle for \(idleTimeout) ms: closing")
          Glibc.close(c.socket)
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
    var deadline: Int
    /// Set for a peer the policy refuses: each of its requests is answered with this
    /// error. Closing at once instead could discard the reply: a UNIX socket closed
    /// with unread requests makes the peer's recv fail with ECONNRESET.
    var refusal: (error: Errno, message: String)? = nil
  }

  private static func milliseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
  }

  /// Accepts every pending connection, admitting those the policy allows.
  private func accept(into connections: inout [Connection]) {
    while true {
      let sock = ermfd_unix_accept(listener)
      if sock < 0 { return }  // EAGAIN: none left (or a transient error: poll again)
      _ = fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK)
      var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
      var connection = Connection(socket: sock, deadline: Self.milliseconds() + idleTimeout)
      if ermfd_peer_credentials(sock, &pid, &uid, &gid) != 0 {
        connection.refusal = (Errno(rawValue: errno), "cannot read peer credentials")
      } else if !peerPolicy.admits(uid: uid) {
        connection.refusal = (.permissionDenied, "uid \(uid) may not use this server")
      }
      if connections.count >= maximumConnections {
        _ = reply(sock, error: .resourceBusy, message: "too many connections (\(maximumConnections))")
        Glibc.close(sock)  // best effort: a request already queued may turn this into ECONNRESET
      } else {
        connections.append(connection)
      }
    }
  }

  /// Answers every request waiting on `c`. Returns false when the connection must go.
  private func serve(_ c: inout Connection, buffer: UnsafeMutableRawBufferPointer) -> Bool {
    while true {
      var passed: Int32 = -1
      var truncated: Int32 = 0
      let n = ermfd_receive_message(c.socket, buffer.baseAddress, buffer.count, &passed, &truncated)
      if passed >= 0 { Glibc.close(passed) }  // never keep what a client pushes on us
      if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK }
      if n == 0 { return false }  // orderly shutdown
      let message = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
      let ok: Bool
      if let refusal = c.refusal {
        ok = reply(c.socket, error: refusal.error, message: refusal.message)
      } else if truncated != 0 {
        ok = reply(c.socket, error: .fileNameTooLong,
                   message: "request longer than \(ExportProtocol.maximumRequestLength) bytes")
      } else if passed >= 0 {
        ok = reply(c.socket, error: .invalidArgument, message: "requests carry no descriptors")
      } else {
        ok = answer(c.socket, message)
      }
      if !ok { return false }
    }
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
    guard let path = String(validating: request[4...], as: UTF8.self), !path.contains("\0") else {
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
