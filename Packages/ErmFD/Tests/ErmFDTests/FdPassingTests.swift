import CErmFD
import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// The export server and client: memfds passed through SCM_RIGHTS, bad requests answered.
final class FdPassingTests: XCTestCase {
  private var servers: [(ExportServer, DispatchSemaphore)] = []
  private var children: [Process] = []

  override func tearDown() {
    for (server, finished) in servers {
      server.stop()
      finished.wait()
    }
    servers = []
    for child in children where child.isRunning { child.terminate(); child.waitUntilExit() }
    children = []
  }

  private func socketPath() -> String {
    FileManager.default.temporaryDirectory
      .appendingPathComponent("ermfd-\(getpid())-\(UUID().uuidString.prefix(8)).sock").path
  }

  /// A server for `fs` running on its own thread until tearDown.
  private func serve(_ fs: ErmFS, policy: ExportServer.PeerPolicy = .sameUserOrRoot,
                     idleTimeout: Int = 5000) throws -> ExportServer {
    let server = try ExportServer(fs: fs, socketPath: socketPath(), peerPolicy: policy,
                                  idleTimeout: idleTimeout)
    let finished = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      server.run()
      finished.signal()
    }
    servers.append((server, finished))
    return server
  }

  /// Sends raw bytes (and optionally a descriptor) and returns the reply's errno and text.
  private func rawRequest(_ server: ExportServer, _ bytes: [UInt8], passing fd: Int32 = -1) throws -> (Int32, String, Int32) {
    let sock = ermfd_unix_connect(server.socketPath)
    XCTAssertGreaterThanOrEqual(sock, 0)
    defer { close(sock) }
    XCTAssertEqual(ermfd_socket_set_timeouts(sock, 5000), 0)
    let sent = bytes.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, fd) }
    XCTAssertEqual(sent, bytes.count)
    return try receiveReply(sock)
  }

  private func receiveReply(_ sock: Int32) throws -> (Int32, String, Int32) {
    var buffer = [UInt8](repeating: 0, count: 2048)
    var received: Int32 = -1, truncated: Int32 = 0
    let n = buffer.withUnsafeMutableBytes { ermfd_receive_message(sock, $0.baseAddress, $0.count, &received, &truncated) }
    guard n >= 4 else { throw Errno(rawValue: n < 0 ? errno : EPROTO) }
    let code = buffer.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
    if received >= 0 { close(received) }
    return (code, String(decoding: buffer[4..<n], as: UTF8.self), received)
  }

  // MARK: - In one process

  func testSocketFileHasMode0600() throws {
    let server = try serve(try makeFS())
    let attributes = try FileManager.default.attributesOfItem(atPath: server.socketPath)
    XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeSocket)
  }

  func testClientReceivesTheMemfdOfTheRequestedFile() throws {
    let fs = try makeFS()
    let bytes = try compressibleBytes(300_000)
    try put(fs, "/f", bytes)
    let server = try serve(fs)
    let client = try ExportClient(socketPath: server.socketPath)
    let fd = try client.fetch("/f")
    defer { try? fd.close() }
    XCTAssertEqual(contentHash(try readAll(fd)), contentHash(bytes))
  }

  func testReplyArrivingAfterTheTimeoutIsNeverTakenForTheNextRequest() throws {
    // A server that answers the first request late, with the memfd of the first path.
    let path = socketPath()
    let listener = ermfd_unix_listen(path, 0o600, 4, 0, nil, nil)
    XCTAssertGreaterThanOrEqual(listener, 0)
    defer { close(listener); unlink(path) }
    let client = try ExportClient(socketPath: path, timeout: 100)
    var pollListener = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    XCTAssertEqual(poll(&pollListener, 1, 5000), 1)
    let sock = ermfd_unix_accept(listener)
    XCTAssertGreaterThanOrEqual(sock, 0)
    defer { close(sock) }
    let late = Thread {
      var buffer = [UInt8](repeating: 0, count: 8192)
      var received: Int32 = -1, truncated: Int32 = 0
      var ready = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
      _ = poll(&ready, 1, 5000)
      _ = buffer.withUnsafeMutableBytes { ermfd_receive_message(sock, $0.baseAddress, $0.count, &received, &truncated) }
      usleep(400_000)
      guard let memfd = try? Memfd.create(name: "first", flags: ERMFD_MFD_CLOEXEC) else { return }
      _ = try? memfd.writeAll(Array("first".utf8))
      let reply = ExportProtocol.encodeReply(error: nil, message: "/first")
      _ = reply.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, memfd.rawValue) }
      try? memfd.close()
    }
    late.start()
    XCTAssertThrowsError(try client.fetch("/first")) {
      XCTAssertEqual($0 as? Errno, .resourceTemporarilyUnavailable)
    }
    usleep(600_000)  // the late reply is now queued on the client's socket
    do {
      let fd = try client.fetch("/second")
      defer { try? fd.close() }
      XCTFail("the second request was answered with the first one's memfd: \((try? readAll(fd)) ?? [])")
    } catch {
      XCTAssertEqual(error, .badFileDescriptor)
    }
  }

  func testClientReadsTheRefusalOfAServerThatClosedBeforeItsRequest() throws {
    let path = socketPath()
    let listener = ermfd_unix_listen(path, 0o600, 4, 0, nil, nil)
    XCTAssertGreaterThanOrEqual(listener, 0)
    defer { close(listener); unlink(path) }
    let client = try ExportClient(socketPath: path)
    let sock = ermfd_unix_accept(listener)
    XCTAssertGreaterThanOrEqual(sock, 0)
    let refusal = ExportProtocol.encodeReply(error: .permissionDenied, message: "uid 65534 may not use this server")
    XCTAssertEqual(refusal.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, -1) }, refusal.count)
    close(sock)  // before the client's request: its send fails with EPIPE
    assertThrows(.permissionDenied) { try client.fetch("/f") }
    XCTAssertEqual(client.lastErrorMessage, "uid 65534 may not use this server")
    assertThrows(.badFileDescriptor) { try client.fetch("/f") }  // the connection is gone
  }

  func testOneConnectionServesManyRequests() throws {
    let fs = try makeFS()
    for i in 0..<10 { try put(fs, "/f\(i)", [UInt8(i)]) }
    let server = try serve(fs)
    let client = try ExportClient(socketPath: server.socketPath)
    for i in 0..<10 {
      let fd = try client.fetch("/f\(i)")
      XCTAssertEqual(try readAll(fd), [UInt8(i)])
      try fd.close()
    }
  }

  func testMissingFileIsAnsweredWithENOENTAndAMessage() throws {
    let server = try serve(try makeFS())
    let client = try ExportClient(socketPath: server.socketPath)
    assertThrows(.noSuchFileOrDirectory) { try client.fetch("/missing") }
    XCTAssertEqual(client.lastErrorMessage?.hasPrefix("/missing:"), true)
  }

  func testRefusedPeerIsAnsweredWithEACCES() throws {
    let server = try serve(try makeFS(), policy: .users([geteuid() &+ 12345]))
    let client = try ExportClient(socketPath: server.socketPath)
    assertThrows(.permissionDenied) { try client.fetch("/anything") }
  }

  func testAdmittedUserListIsHonoured() throws {
    let fs = try makeFS()
    try put(fs, "/f", [7])
    let server = try serve(fs, policy: .users([geteuid()]))
    let fd = try ExportClient(socketPath: server.socketPath).fetch("/f")
    XCTAssertEqual(try readAll(fd), [7])
    try fd.close()
  }

  func testTooShortRequestIsAnsweredWithEINVAL() throws {
    let server = try serve(try makeFS())
    XCTAssertEqual(try rawRequest(server, [1, 2]).0, EINVAL)
  }

  func testOversizedRequestIsAnsweredWithENAMETOOLONG() throws {
    let server = try serve(try makeFS())
    let reply = try rawRequest(server, [0, 0, 0, 0] + [UInt8](repeating: UInt8(ascii: "a"), count: 10_000))
    XCTAssertEqual(reply.0, ENAMETOOLONG)
  }

  func testUnknownOptionsAreAnsweredWithEINVAL() throws {
    let server = try serve(try makeFS())
    XCTAssertEqual(try rawRequest(server, [0xFF, 0xFF, 0, 0] + Array("/f".utf8)).0, EINVAL)
  }

  func testInvalidUTF8PathIsAnsweredWithEINVAL() throws {
    let server = try serve(try makeFS())
    XCTAssertEqual(try rawRequest(server, [0, 0, 0, 0, UInt8(ascii: "/"), 0xFF, 0xFE]).0, EINVAL)
  }

  func testPathWithANulByteIsAnsweredEINVALNamingTheNul() throws {
    let server = try serve(try makeFS())
    let reply = try rawRequest(server, [0, 0, 0, 0] + Array("/a\u{0}b".utf8))
    XCTAssertEqual(reply.0, EINVAL)
    XCTAssertTrue(reply.1.contains("NUL"), reply.1)
  }

  func testRequestCarryingADescriptorIsRefusedAndTheDescriptorNotKept() throws {
    let fs = try makeFS()
    try put(fs, "/f", [1])
    let server = try serve(fs)
    let (readEnd, writeEnd) = try FileDescriptor.pipe()
    defer { try? readEnd.close() }
    let reply = try rawRequest(server, ExportProtocol.encodeRequest(path: "/f", options: []),
                               passing: writeEnd.rawValue)
    try writeEnd.close()
    XCTAssertEqual(reply.0, EINVAL)
    XCTAssertEqual(reply.2, -1)
    // The server closed its copy: our pipe's read end sees end of file.
    var byte: UInt8 = 0
    XCTAssertEqual(try withUnsafeMutableBytes(of: &byte) { try readEnd.read(into: $0) }, 0)
  }

  func testSilentClientIsClosedAfterTheIdleTimeoutWhileOthersAreServed() throws {
    let fs = try makeFS()
    try put(fs, "/f", [42])
    let server = try serve(fs, idleTimeout: 300)
    let silent = ermfd_unix_connect(server.socketPath)
    XCTAssertGreaterThanOrEqual(silent, 0)
    defer { close(silent) }
    let fd = try ExportClient(socketPath: server.socketPath).fetch("/f")
    XCTAssertEqual(try readAll(fd), [42])
    try fd.close()
    XCTAssertEqual(ermfd_socket_set_timeouts(silent, 10_000), 0)
    XCTAssertEqual(try receiveReply(silent).0, ETIMEDOUT)
    var buffer = [UInt8](repeating: 0, count: 16)
    var passed: Int32 = -1, truncated: Int32 = 0
    XCTAssertEqual(buffer.withUnsafeMutableBytes { ermfd_receive_message(silent, $0.baseAddress, $0.count, &passed, &truncated) }, 0)
  }

  func testClientThatHangsUpMidRequestDoesNotStopTheServer() throws {
    let fs = try makeFS()
    try put(fs, "/f", [5])
    let server = try serve(fs)
    for _ in 0..<20 {
      let sock = ermfd_unix_connect(server.socketPath)
      let request = ExportProtocol.encodeRequest(path: "/f", options: [])
      _ = request.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, -1) }
      close(sock)  // gone before the reply
    }
    let fd = try ExportClient(socketPath: server.socketPath).fetch("/f")
    XCTAssertEqual(try readAll(fd), [5])
    try fd.close()
  }

  func testStopRemovesTheSocketFile() throws {
    let server = try serve(try makeFS())
    XCTAssertTrue(FileManager.default.fileExists(atPath: server.socketPath))
    let (s, finished) = servers.removeLast()
    s.stop()
    finished.wait()
    XCTAssertFalse(FileManager.default.fileExists(atPath: server.socketPath))
  }

  func testSocketPathInUseThrowsEADDRINUSE() throws {
    let server = try serve(try makeFS())
    assertThrows(.addressInUse) { try ExportServer(fs: try! makeFS(), socketPath: server.socketPath) }
  }

  func testConnectingWithoutServerThrowsENOENT() throws {
    assertThrows(.noSuchFileOrDirectory) { try ExportClient(socketPath: self.socketPath()) }
  }

  // MARK: - Across two processes

  func testAnotherProcessReceivesTheMemfdAndReadsTheContents() throws {
    let fs = try makeFS()
    let bytes = try compressibleBytes((1 << 20) + 1)
    try put(fs, "/big", bytes)
    let server = try serve(fs)
    let (status, output, errors) = try runPeer(["get", server.socketPath, "/big"])
    XCTAssertEqual(status, 0, errors)
    XCTAssertEqual(contentHash(Array(output)), contentHash(bytes))
  }

  func testSealedExportCannotBeWrittenByTheReceivingProcess() throws {
    let fs = try makeFS()
    try put(fs, "/f", Array("sealed".utf8))
    let server = try serve(fs)
    let (status, output, errors) = try runPeer(["get", server.socketPath, "/f", "sealed"])
    XCTAssertEqual(status, 0, errors)
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "write: EPERM\n")
  }

  func testAnotherProcessGetsTheServersErrorMessage() throws {
    let server = try serve(try makeFS())
    let (status, _, errors) = try runPeer(["get", server.socketPath, "/missing"])
    XCTAssertEqual(status, 2)
    XCTAssertTrue(errors.hasPrefix("errno \(ENOENT): /missing:"), errors)
  }

  func testServerInAnotherProcessHandsOverItsFile() throws {
    let path = socketPath()
    let process = Process()
    process.executableURL = peerExecutable()
    process.arguments = ["serve", path]
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    children.append(process)
    var waited = 0
    while !FileManager.default.fileExists(atPath: path) && waited < 1000 {
      usleep(10_000)
      waited += 1
    }
    let client = try ExportClient(socketPath: path)
    let fd = try client.fetch("/hello")
    XCTAssertEqual(String(decoding: try readAll(fd), as: UTF8.self), "hello from the server process\n")
    try fd.close()
    try stdin.fileHandleForWriting.close()  // tells the peer to stop
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path))
  }
}
