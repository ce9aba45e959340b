import CErmFD
import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// Who gets a connection: refused peers (a real second process running as another uid)
/// are answered and dropped, and no user can take every connection.
final class ServerAdmissionTests: XCTestCase {
  private var directory = ""

  override func setUpWithError() throws {
    try requireRoot()
    directory = try makeSharedDirectory()
  }

  override func tearDown() {
    if !directory.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
  }

  private func fileSystemHoldingF() throws -> ErmFS {
    let fs = try makeFS()
    try put(fs, "/f", Array("contents of f".utf8))
    return fs
  }

  /// A server whose socket file another user can open, so its uid check is what decides.
  private func serve(_ fs: ErmFS, policy: ExportServer.PeerPolicy, maximumConnections: Int = 64,
                     maximumConnectionsPerUser: Int = 32, idleTimeout: Int = 60_000) throws -> RunningServer {
    let server = try ExportServer(fs: fs, socketPath: directory + "/s", peerPolicy: policy,
                                  idleTimeout: idleTimeout, maximumConnections: maximumConnections,
                                  maximumConnectionsPerUser: maximumConnectionsPerUser)
    XCTAssertEqual(chmod(server.socketPath, 0o666), 0)
    return RunningServer(server)
  }

  func testRefusedPeerIsAnsweredOnceAndDisconnected() throws {
    let running = try serve(try fileSystemHoldingF(), policy: .users([geteuid()]))
    let peer = try HoldingPeer(["as", "\(otherUser)", "fetch-each", running.socketPath, "/f", "1", "2"])
    let lines = try XCTUnwrap(peer.linesUntilReady())
    let results = try XCTUnwrap(lines.first).split(separator: " ").compactMap { Int32($0) }
    XCTAssertEqual(results.count, 2, "\(lines)")
    XCTAssertEqual(results.first, EACCES, "the refusal is answered")
    // The second request finds the connection closed, not answered again.
    XCTAssertNotEqual(results.last, EACCES, "the refused connection stayed open")
    XCTAssertNotEqual(results.last, 0)
    XCTAssertEqual(peer.finish().0, 0)
  }

  func testRefusedPeersDoNotTakeConnectionsFromAdmittedOnes() throws {
    let fs = try fileSystemHoldingF()
    let running = try serve(fs, policy: .users([geteuid()]), maximumConnections: 4)
    let peer = try HoldingPeer(["as", "\(otherUser)", "fetch-each", running.socketPath, "/f", "8", "1"])
    let lines = try XCTUnwrap(peer.linesUntilReady())
    XCTAssertEqual(lines, [String](repeating: "\(EACCES)", count: 8))
    // The refused peer still holds its 8 sockets; an admitted client is served anyway.
    let fd = try ExportClient(socketPath: running.socketPath).fetch("/f")
    XCTAssertEqual(String(decoding: try readAll(fd), as: UTF8.self), "contents of f")
    try fd.close()
    peer.finish()
  }

  func testOneUserCannotTakeEveryConnection() throws {
    let fs = try fileSystemHoldingF()
    let running = try serve(fs, policy: .anyUser, maximumConnections: 4, maximumConnectionsPerUser: 2)
    let peer = try HoldingPeer(["as", "\(otherUser)", "fetch-each", running.socketPath, "/f", "3", "1"])
    XCTAssertEqual(try XCTUnwrap(peer.linesUntilReady()), ["0", "0", "\(EBUSY)"])
    // The other user holds two connections; this user still gets in.
    let fd = try ExportClient(socketPath: running.socketPath).fetch("/f")
    XCTAssertEqual(String(decoding: try readAll(fd), as: UTF8.self), "contents of f")
    try fd.close()
    peer.finish()
  }

  func testConnectionBeyondTheLimitIsToldEBUSYNotReset() throws {
    let fs = try fileSystemHoldingF()
    let running = try serve(fs, policy: .sameUserOrRoot, maximumConnections: 2)
    let held = try (0..<2).map { _ in try ExportClient(socketPath: running.socketPath) }
    for client in held { try client.fetch("/f").close() }  // both are now being served
    let third = try ExportClient(socketPath: running.socketPath)
    assertThrows(.resourceBusy) { try third.fetch("/f") }
    XCTAssertEqual(third.lastErrorMessage?.contains("too many connections"), true,
                   third.lastErrorMessage ?? "no message")
  }

  func testRefusalSurvivesARequestAlreadyQueued() throws {
    // Both connect and send before the server runs: the second is refused with its
    // request unread, which a plain close() turns into ECONNRESET at the peer.
    let server = try ExportServer(fs: try fileSystemHoldingF(), socketPath: directory + "/s",
                                  maximumConnections: 1)
    let first = ermfd_unix_connect(server.socketPath), second = ermfd_unix_connect(server.socketPath)
    defer { close(first); close(second) }
    let request = ExportProtocol.encodeRequest(path: "/f", options: [])
    for sock in [first, second] {
      XCTAssertEqual(request.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, -1) },
                     request.count)
      XCTAssertEqual(ermfd_socket_set_timeouts(sock, 20_000), 0)
    }
    let running = RunningServer(server)
    XCTAssertEqual(try receiveErrnoAndMessage(first).errno, 0)
    let refusal = try receiveErrnoAndMessage(second)
    XCTAssertEqual(refusal.errno, EBUSY)
    XCTAssertTrue(refusal.message.contains("too many connections"), refusal.message)
    running.stop()
  }

  // MARK: - The socket file's mode follows the policy

  func testAnyUserPolicyServesAnotherUser() throws {
    let fs = try fileSystemHoldingF()
    let server = try ExportServer(fs: fs, socketPath: directory + "/s", peerPolicy: .anyUser)
    let running = RunningServer(server)
    let (status, output, errors) = try runPeer(["as", "\(otherUser)", "get", running.socketPath, "/f"])
    XCTAssertEqual(status, 0, errors)
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "contents of f")
  }

  func testDefaultPolicyKeepsOtherUsersOutAtTheSocketFile() throws {
    let server = try ExportServer(fs: try fileSystemHoldingF(), socketPath: directory + "/s")
    let running = RunningServer(server)
    let (status, _, errors) = try runPeer(["as", "\(otherUser)", "get", running.socketPath, "/f"])
    XCTAssertEqual(status, 2)
    XCTAssertTrue(errors.hasPrefix("connect: \(EACCES)"), errors)
  }

  func testSocketFileModeFollowsThePolicyWhateverTheUmask() throws {
    let saved = umask(0o077)  // narrows every new file to its owner
    defer { umask(saved) }
    for (policy, mode) in [(ExportServer.PeerPolicy.sameUserOrRoot, 0o600), (.anyUser, 0o666),
                           (.users([otherUser]), 0o666)] {
      let server = try ExportServer(fs: try makeFS(), socketPath: directory + "/s", peerPolicy: policy)
      var info = stat()
      XCTAssertEqual(lstat(server.socketPath, &info), 0)
      XCTAssertEqual(Int(info.st_mode & 0o7777), mode, "\(policy)")
      XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
      RunningServer(server).stop()
    }
  }
}
