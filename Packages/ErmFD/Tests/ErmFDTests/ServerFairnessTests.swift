import CErmFD
import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// One server thread, many clients: a client that pipelines requests is answered one
/// request per turn, so it cannot hold the others back.
final class ServerFairnessTests: XCTestCase {
  func testPipelinedRequestsOfOneClientDoNotStarveAnother() throws {
    let fs = try makeFS()
    try put(fs, "/a", [1])
    // Open for writing, so it is materialised: its export waits for the contents lock,
    // which this test holds below. That stops the server at A's second request.
    let writer = try XCTUnwrap(try put(fs, "/held", [2], keepOpen: true))
    defer { try? fs.close(writer) }
    try put(fs, "/b", [3])
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("ermfd-fair-\(getpid())-\(UUID().uuidString.prefix(8)).sock").path
    let server = try ExportServer(fs: fs, socketPath: path)  // listening, not yet serving

    // Everything is queued before the server starts: A's pipeline, then B's one request.
    let a = ermfd_unix_connect(path), b = ermfd_unix_connect(path)
    XCTAssertGreaterThanOrEqual(a, 0)
    XCTAssertGreaterThanOrEqual(b, 0)
    defer { close(a); close(b) }
    func send(_ sock: Int32, _ path: String) {
      let request = ExportProtocol.encodeRequest(path: path, options: [])
      XCTAssertEqual(request.withUnsafeBytes { ermfd_send_message(sock, $0.baseAddress, $0.count, -1) },
                     request.count)
    }
    for p in ["/a", "/held"] + [String](repeating: "/a", count: 8) { send(a, p) }
    send(b, "/b")
    XCTAssertEqual(ermfd_socket_set_timeouts(b, 20_000), 0)

    var running: RunningServer? = nil
    var bReply: (errno: Int32, message: String)? = nil
    var aReplies: [Int32] = []
    try fs.withContents(ofPath: "/held") { _ in
      running = RunningServer(server)
      bReply = try? receiveErrnoAndMessage(b)
      // A got its first answer; its second (/held) waits for the lock we hold.
      _ = fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK)
      while let reply = try? receiveErrnoAndMessage(a) { aReplies.append(reply.errno) }
    }
    XCTAssertEqual(bReply?.errno, 0, "B was not answered while A's pipeline was waiting")
    XCTAssertEqual(bReply?.message, "/b")
    XCTAssertEqual(aReplies, [0])
    running?.stop()
  }
}

/// Receives one reply: its errno and message (a passed descriptor is closed).
func receiveErrnoAndMessage(_ sock: Int32) throws(Errno) -> (errno: Int32, message: String) {
  var buffer = [UInt8](repeating: 0, count: 2048)
  var received: Int32 = -1, truncated: Int32 = 0
  let n = buffer.withUnsafeMutableBytes {
    ermfd_receive_message(sock, $0.baseAddress, $0.count, &received, &truncated)
  }
  if received >= 0 { close(received) }
  guard n >= 4 else { throw Errno(rawValue: n < 0 ? errno : EPROTO) }
  let code = buffer.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
  return (code, String(decoding: buffer[4..<n], as: UTF8.self))
}
