import CErmFD
import ErmCore
import Foundation
import SystemPackage
import XCTest

@testable import ErmFD

/// The socket file belongs to the server that made it: a live server's socket is never
/// replaced, and a server removes the file only while it is still its own.
final class ServerSocketFileTests: XCTestCase {
  private var directory = ""

  override func setUpWithError() throws {
    directory = try makeSharedDirectory()
  }

  override func tearDown() {
    if !directory.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
  }

  private func fileSystemHolding(_ text: String) throws -> ErmFS {
    let fs = try makeFS()
    try put(fs, "/f", Array(text.utf8))
    return fs
  }

  private func fetchText(_ socketPath: String) throws -> String {
    let fd = try ExportClient(socketPath: socketPath).fetch("/f")
    defer { try? fd.close() }
    return String(decoding: try readAll(fd), as: UTF8.self)
  }

  func testStoppingLeavesASocketFileThatIsNoLongerItsOwn() throws {
    let path = directory + "/s"
    let old = RunningServer(try ExportServer(fs: try fileSystemHolding("old"), socketPath: path))
    XCTAssertEqual(unlink(path), 0)  // someone removed it and a new server took the name
    let new = RunningServer(try ExportServer(fs: try fileSystemHolding("new"), socketPath: path))
    old.stop()
    XCTAssertTrue(FileManager.default.fileExists(atPath: path), "the old server removed the new one's socket")
    XCTAssertEqual(try fetchText(path), "new")
    new.stop()
    XCTAssertFalse(FileManager.default.fileExists(atPath: path))
  }

  func testLiveServersSocketIsNeverReplaced() throws {
    let path = directory + "/s"
    let live = RunningServer(try ExportServer(fs: try fileSystemHolding("live"), socketPath: path))
    assertThrows(.addressInUse) {
      try ExportServer(fs: try! makeFS(), socketPath: path, replacingStaleSocket: true)
    }
    XCTAssertEqual(try fetchText(path), "live")
    live.stop()
  }

  func testStaleSocketIsReplacedOnlyWhenAsked() throws {
    let path = directory + "/s"
    // A server that died without removing its socket: bound, then closed.
    let dead = ermfd_unix_listen(path, 0o600, 1, 0, nil, nil)
    XCTAssertGreaterThanOrEqual(dead, 0)
    close(dead)
    assertThrows(.addressInUse) { try ExportServer(fs: try! makeFS(), socketPath: path) }
    let new = RunningServer(try ExportServer(fs: try fileSystemHolding("new"), socketPath: path,
                                             replacingStaleSocket: true))
    XCTAssertEqual(try fetchText(path), "new")
    new.stop()
  }

  func testFileThatIsNotASocketIsNeverReplaced() throws {
    let path = directory + "/s"
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
    assertThrows(.addressInUse) {
      try ExportServer(fs: try! makeFS(), socketPath: path, replacingStaleSocket: true)
    }
    XCTAssertEqual(FileManager.default.contents(atPath: path), Data("keep me".utf8))
  }

  func testServerThatNeverRanLeavesAReplacedSocketAlone() throws {
    let path = directory + "/s"
    var unused: ExportServer? = try ExportServer(fs: try makeFS(), socketPath: path)
    XCTAssertEqual(unlink(path), 0)
    let new = RunningServer(try ExportServer(fs: try fileSystemHolding("new"), socketPath: path))
    unused = nil  // deinit of a server that never ran
    XCTAssertNil(unused)
    XCTAssertEqual(try fetchText(path), "new")
    new.stop()
  }

  func testSymbolicLinkAtTheSocketPathIsNeverFollowed() throws {
    let target = directory + "/target"
    XCTAssertTrue(FileManager.default.createFile(atPath: target, contents: Data("x".utf8)))
    XCTAssertEqual(chmod(target, 0o640), 0)
    XCTAssertEqual(symlink(target, directory + "/s"), 0)
    assertThrows(.addressInUse) {
      try ExportServer(fs: try! makeFS(), socketPath: self.directory + "/s", peerPolicy: .anyUser,
                       replacingStaleSocket: true)
    }
    var info = stat()
    XCTAssertEqual(stat(target, &info), 0)
    XCTAssertEqual(info.st_mode & 0o7777, 0o640)
  }
}
