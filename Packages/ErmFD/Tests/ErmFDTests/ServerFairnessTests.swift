import CErmFD
import ErmCompress
import ErmCore
import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmFD

/// One server thread, many clients: a client that pipelines requests is answered one
/// request per turn, so it cannot hold the others back.
final class ServerFairnessTests: XCTestCase {
  func testPipelinedRequestsOfOneClientDoNotStarveAnother() throws {
    // The export of /held decompresses it, and the codec holds that decompression until
    // the test lets go: the server stops at A's second request, deterministically.
    let codec = HeldDecompressionCodec()
    let fs = try ErmFS(configuration: .init(codec: codec))
    try put(fs, "/a", [1])  // too small to compress: exported without the codec
    try put(fs, "/held", Array(repeating: 7, count: 10_000))
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

    codec.hold()
    let running = RunningServer(server)
    let bReply = try? receiveErrnoAndMessage(b)
    codec.waitUntilHeld()  // the server is inside A's second request now
    // A got its first answer; its second (/held) is held in the codec.
    _ = fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK)
    var aReplies: [Int32] = []
    while let reply = try? receiveErrnoAndMessage(a) { aReplies.append(reply.errno) }
    codec.release()
    XCTAssertEqual(bReply?.errno, 0, "B was not answered while A's pipeline was waiting")
    XCTAssertEqual(bReply?.message, "/b")
    XCTAssertEqual(aReplies, [0])
    running.stop()
  }
}

/// zlib, but the first decompression after `hold()` waits inside the codec until
/// `release()`.
final class HeldDecompressionCodec: GzipCodec {
  private let inner = ZlibCodec()
  private let armed = Atomic<Bool>(false)
  private let held = DispatchSemaphore(value: 0)
  private let gate = DispatchSemaphore(value: 0)

  func hold() { armed.store(true, ordering: .sequentiallyConsistent) }
  func waitUntilHeld() { held.wait() }
  func release() { gate.signal() }

  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel,
                      into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    try inner.compressMember(input, level: level, into: output)
  }

  func decompressMember(_ member: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    if armed.exchange(false, ordering: .sequentiallyConsistent) {
      held.signal()
      gate.wait()
    }
    try inner.decompressMember(member, into: output)
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
