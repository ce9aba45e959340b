import ErmCore
import ErmFUSE
import Foundation
import SystemPackage
import XCTest

/// An ErmFS mounted on a fresh temporary directory, served on its own thread. `close()`
/// stops it and removes the directory; a mount is never left behind, even when a test
/// fails (the lazy unmount runs whatever happened).
final class Mounted: @unchecked Sendable {
  let fs: ErmFS
  let session: FUSESession
  let root: String
  private let finished = DispatchSemaphore(value: 0)
  private var closed = false

  init(options: MountOptions = MountOptions(), configuration: ErmFS.Configuration? = nil) throws {
    guard geteuid() == 0 else { throw XCTSkip("mounting needs root (this suite runs as root in make test)") }
    guard access("/dev/fuse", R_OK | W_OK) == 0 else { throw XCTSkip("/dev/fuse is missing") }
    let template = FileManager.default.temporaryDirectory.appendingPathComponent("ermfuse-test-XXXXXX").path
    var bytes = Array(template.utf8CString)
    guard let made = mkdtemp(&bytes) else { throw Errno(rawValue: errno) }
    root = String(cString: made)
    fs = try ErmFS(configuration: configuration ?? ErmFS.Configuration(maxDescriptors: 1 << 20, owner: .root))
    session = try FUSESession(fs: fs, mountPoint: root, options: options)
    let ready = DispatchSemaphore(value: 0)
    let session = self.session
    let finished = self.finished
    Thread.detachNewThread {
      try? session.run { ready.signal() }
      ready.signal()
      finished.signal()
    }
    guard ready.wait(timeout: .now() + 20) == .success else {
      close()
      throw XCTSkip("the mount never became ready")
    }
  }

  func path(_ relative: String) -> String { root + "/" + relative }

  func close() {
    guard !closed else { return }
    closed = true
    session.stop()
    if finished.wait(timeout: .now() + 20) != .success {
      try? FUSESession.unmountLazily(root)
    }
    rmdir(root)
  }

  deinit { close() }
}

extension XCTestCase {
  /// Writes `bytes` to a host path (through the kernel), failing the test on error.
  func writeFile(_ path: String, _ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    XCTAssertGreaterThanOrEqual(fd, 0, "open \(path): \(Errno(rawValue: errno))", file: file, line: line)
    guard fd >= 0 else { return }
    var done = 0
    while done < bytes.count {
      let n = bytes[done...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
      XCTAssertGreaterThan(n, 0, "write \(path): \(Errno(rawValue: errno))", file: file, line: line)
      if n <= 0 { break }
      done += n
    }
    XCTAssertEqual(Foundation.close(fd), 0, file: file, line: line)
  }

  /// Reads a whole host file through the kernel.
  func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
  }

  /// Polls `condition` for up to `seconds` (kernel requests like RELEASE and FORGET are
  /// asynchronous to the system call that caused them).
  func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(10_000)
    }
    return condition()
  }
}
