import CErmFD
import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// The user id the cross-user tests become (`nobody` on Debian).
let otherUser: UInt32 = 65534

/// Skips a test that must change user ids (setresuid) or chmod other users' view.
func requireRoot() throws {
  guard geteuid() == 0 else { throw XCTSkip("needs root: the peer changes its uid with setresuid") }
}

/// A fresh directory under /tmp that every user may traverse, so a peer running as
/// ``otherUser`` can reach a socket in it. Removed by the caller.
func makeSharedDirectory() throws -> String {
  var template = Array("/tmp/ermfd-test-XXXXXX".utf8CString)
  guard let made = mkdtemp(&template) else { throw Errno(rawValue: errno) }
  let path = String(cString: made)
  guard chmod(path, 0o755) == 0 else { throw Errno(rawValue: errno) }
  return path
}

/// An ExportServer running `run()` on its own thread until ``stop()``.
final class RunningServer {
  let server: ExportServer
  private let finished = DispatchSemaphore(value: 0)
  private var stopped = false

  init(_ server: ExportServer) {
    self.server = server
    let finished = self.finished
    Thread.detachNewThread {
      server.run()
      finished.signal()
    }
  }

  var socketPath: String { server.socketPath }

  /// Stops the server and waits until `run()` has returned.
  func stop() {
    guard !stopped else { return }
    stopped = true
    server.stop()
    finished.wait()
  }

  deinit { stop() }
}

/// The ermfd-peer program built beside the test bundle.
func peerExecutable() -> URL {
  URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("ermfd-peer")
}

/// Runs ermfd-peer with `arguments` to completion; returns (status, stdout, stderr).
func runPeer(_ arguments: [String]) throws -> (Int32, Data, String) {
  let process = Process()
  process.executableURL = peerExecutable()
  process.arguments = arguments
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  let errors = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, data, String(decoding: errors, as: UTF8.self))
}

/// An ermfd-peer `fetch-each` run that keeps its connections open until ``finish()``.
final class HoldingPeer {
  private let process = Process()
  private let input = Pipe(), output = Pipe(), errors = Pipe()
  private var finished = false

  /// Starts the peer and waits until it has printed "ready": every connection has been
  /// answered (or refused) and is still held.
  /// - Returns: one line per connection, the errno of each fetch (0: a memfd).
  init(_ arguments: [String]) throws {
    process.executableURL = peerExecutable()
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
  }

  /// Lines printed before "ready" (nil when the peer ended without it).
  func linesUntilReady() -> [String]? {
    var text = ""
    while !text.hasSuffix("ready\n") {
      let data = output.fileHandleForReading.availableData
      if data.isEmpty { return nil }
      text += String(decoding: data, as: UTF8.self)
    }
    return Array(text.split(separator: "\n").dropLast().map(String.init))
  }

  /// Lets the peer close its connections and exit; returns its status and stderr.
  @discardableResult
  func finish() -> (Int32, String) {
    if !finished {
      finished = true
      try? input.fileHandleForWriting.close()
      process.waitUntilExit()
    }
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, text)
  }

  deinit { finish() }
}
