import CErmFD
import ErmCore
import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmFD

/// Programs stored in ErmFS run from memory through fexecve.
final class ExecTests: XCTestCase {
  /// An ErmFS holding the host's `path` at the same path, executable.
  private func fsHolding(_ hostPath: String, at path: String? = nil) throws -> ErmFS {
    let fs = try makeFS()
    let bytes = try XCTUnwrap(FileManager.default.contents(atPath: hostPath))
    var dir = ""
    for part in (path ?? hostPath).split(separator: "/").dropLast() {
      dir += "/\(part)"
      try? fs.mkdir(dir)
    }
    try put(fs, path ?? hostPath, Array(bytes), permissions: [.ownerReadWriteExecute])
    return fs
  }

  func testEchoStoredInErmFSRunsFromMemoryAndPrintsItsArguments() throws {
    let fs = try fsHolding("/bin/echo")
    let (status, output) = try fs.run("/bin/echo", arguments: ["hello", "from", "memory"])
    XCTAssertEqual(status, .exited(0))
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "hello from memory\n")
  }

  func testExitStatusIsReported() throws {
    let fs = try fsHolding("/bin/false")
    XCTAssertEqual(try fs.exec("/bin/false"), .exited(1))
  }

  func testEnvironmentIsPassedToTheProgram() throws {
    let fs = try fsHolding("/usr/bin/env", at: "/env")
    let (status, output) = try fs.run("/env", environment: ["ERMFS_TEST=42"])
    XCTAssertEqual(status, .exited(0))
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "ERMFS_TEST=42\n")
  }

  func testOutputCanBeCapturedThroughACallersPipe() throws {
    let fs = try fsHolding("/bin/echo")
    let (readEnd, writeEnd) = try FileDescriptor.pipe()
    defer { try? readEnd.close() }
    let status = try fs.exec("/bin/echo", arguments: ["piped"], standardOutput: writeEnd)
    try writeEnd.close()
    XCTAssertEqual(status, .exited(0))
    var buffer = [UInt8](repeating: 0, count: 64)
    let n = try buffer.withUnsafeMutableBytes { try readEnd.read(into: $0) }
    XCTAssertEqual(String(decoding: buffer[0..<n], as: UTF8.self), "piped\n")
  }

  func testStandardErrorCanBeTheCallersStandardOutputWhileOutputGoesToAPipe() throws {
    // `2>&1`-style wiring: the child's 2 is the caller's 1, not the pipe its 1 became.
    let fs = try makeFS()
    try put(fs, "/both", Array("#!/bin/sh\necho out\necho err >&2\n".utf8),
            permissions: [.ownerReadWriteExecute])
    let (outRead, outWrite) = try FileDescriptor.pipe()
    let (callerRead, callerWrite) = try FileDescriptor.pipe()
    defer { try? outRead.close(); try? callerRead.close() }
    fflush(nil)  // all C streams: nothing buffered may land in the pipe
    let saved = dup(1)
    XCTAssertGreaterThanOrEqual(saved, 0)
    dup2(callerWrite.rawValue, 1)  // the caller's standard output is now a pipe we read
    let result = Result { () throws(Errno) -> TerminationStatus in
      try fs.exec("/both", standardOutput: outWrite, standardError: .standardOutput)
    }
    dup2(saved, 1)
    close(saved)
    try outWrite.close()
    try callerWrite.close()
    XCTAssertEqual(try result.get(), .exited(0))
    func drain(_ fd: FileDescriptor) throws -> String {
      var buffer = [UInt8](repeating: 0, count: 256)
      let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
      return String(decoding: buffer[0..<n], as: UTF8.self)
    }
    XCTAssertEqual(try drain(outRead), "out\n")
    XCTAssertEqual(try drain(callerRead), "err\n")
  }

  func testArgumentWithANulByteIsEINVALNotTruncated() throws {
    let fs = try fsHolding("/bin/echo")
    XCTAssertThrowsError(try fs.run("/bin/echo", arguments: ["a\u{0}b"])) {
      XCTAssertEqual($0 as? Errno, .invalidArgument)
    }
    XCTAssertThrowsError(try fs.run("/bin/echo", environment: ["A=1\u{0}2"])) {
      XCTAssertEqual($0 as? Errno, .invalidArgument)
    }
  }

  func testShebangScriptRunsFromMemory() throws {
    let fs = try makeFS()
    try put(fs, "/script", Array("#!/bin/sh\necho script says $1\n".utf8), permissions: [.ownerReadWriteExecute])
    let (status, output) = try fs.run("/script", arguments: ["hi"])
    XCTAssertEqual(status, .exited(0))
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "script says hi\n")
  }

  func testFileWithoutExecutePermissionThrowsEACCES() throws {
    let fs = try makeFS()
    try put(fs, "/echo", Array(try XCTUnwrap(FileManager.default.contents(atPath: "/bin/echo"))),
            permissions: [.ownerReadWrite])
    assertThrows(.permissionDenied) { try fs.exec("/echo") }
  }

  func testBytesThatAreNotAProgramThrowENOEXEC() throws {
    let fs = try makeFS()
    try put(fs, "/text", Array("just text, no program\n".utf8), permissions: [.ownerReadWriteExecute])
    assertThrows(.execFormatError) { try fs.exec("/text") }
  }

  func testMissingProgramThrowsENOENT() throws {
    let fs = try makeFS()
    assertThrows(.noSuchFileOrDirectory) { try fs.exec("/nothing") }
  }

  func testExecutableExportHasExecuteBits() throws {
    let fs = try fsHolding("/bin/echo")
    let fd = try fs.export("/bin/echo", options: .executable)
    defer { try? fd.close() }
    var st = stat()
    XCTAssertEqual(fstat(fd.rawValue, &st), 0)
    XCTAssertNotEqual(st.st_mode & 0o111, 0)
  }

  func testPlainExportCannotBeExecuted() throws {
    guard ExecutableMemfdPolicy.current != .predatesExecControl else {
      throw XCTSkip("kernel older than 6.3: every memfd is executable")
    }
    let fs = try fsHolding("/bin/echo")
    let fd = try fs.export("/bin/echo")
    defer { try? fd.close() }
    let argv = CStringArray(["echo"])
    var pid: pid_t = 0
    let rc = ermfd_spawn_fd(fd.rawValue, argv.pointers, environ, 0, -1, -1, -1, &pid)
    XCTAssertEqual(Errno(rawValue: rc), .permissionDenied)
  }

  func testExecLeavesNoDescriptorBehind() throws {
    let fs = try fsHolding("/bin/echo")
    _ = try fs.run("/bin/echo", arguments: ["warm-up"])
    let before = openDescriptorCount()
    for _ in 0..<5 { _ = try fs.run("/bin/echo", arguments: ["x"]) }
    _ = try? fs.exec("/missing")
    XCTAssertEqual(openDescriptorCount(), before)
  }

  func testWaitIfEndedReportsNothingWhileTheProgramRunsThenItsStatus() throws {
    let fs = try makeFS()
    try put(fs, "/reader", Array("#!/bin/sh\nread line\nexit 3\n".utf8), permissions: [.ownerReadWriteExecute])
    var ends: [Int32] = [-1, -1]
    XCTAssertEqual(ermfd_pipe(&ends), 0)  // close-on-exec: the child must not hold the write end
    let pid = try fs.spawn("/reader", standardInput: FileDescriptor(rawValue: ends[0]))
    close(ends[0])
    var writeEnd = ends[1]
    var status: TerminationStatus? = nil
    defer {
      if writeEnd >= 0 { close(writeEnd) }
      if status == nil { kill(pid, SIGKILL); _ = try? ErmFS.wait(for: pid) }
    }
    XCTAssertNil(try ErmFS.waitIfEnded(for: pid), "ended before its input did")
    close(writeEnd)  // end of input: the script exits 3
    writeEnd = -1
    for _ in 0..<60_000 where status == nil {  // up to a minute on a loaded machine
      status = try ErmFS.waitIfEnded(for: pid)
      if status == nil { usleep(1000) }
    }
    XCTAssertEqual(status, .exited(3))
    assertThrows(.noChildProcess) { try ErmFS.waitIfEnded(for: pid) }  // reaped
  }

  func testWaitIfEndedReportsTheSignalThatKilledTheProgram() throws {
    let fs = try makeFS()
    try put(fs, "/suicide", Array("#!/bin/sh\nkill -USR1 $$\n".utf8), permissions: [.ownerReadWriteExecute])
    let pid = try fs.spawn("/suicide")
    var status: TerminationStatus? = nil
    for _ in 0..<60_000 where status == nil {
      status = try ErmFS.waitIfEnded(for: pid)
      if status == nil { usleep(1000) }
    }
    XCTAssertEqual(status, .signaled(SIGUSR1))
  }

  func testProgramStartsWithNoSignalBlockedWhateverTheCallingThreadBlocks() throws {
    // Dispatch and Swift concurrency threads block signals; a program spawned from one
    // must not inherit that (it could not be stopped with SIGTERM or Ctrl-C).
    let fs = try fsHolding("/bin/grep")
    let result = Mutex<Result<(status: TerminationStatus, output: [UInt8]), Errno>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      var blocked = sigset_t()
      sigemptyset(&blocked)
      for signal in [SIGTERM, SIGINT, SIGUSR1] { sigaddset(&blocked, signal) }
      pthread_sigmask(SIG_BLOCK, &blocked, nil)
      let run = Result { () throws(Errno) in try fs.run("/bin/grep", arguments: ["^SigBlk", "/proc/self/status"]) }
      result.withLock { $0 = run }
      done.signal()
    }
    done.wait()
    let (status, output) = try XCTUnwrap(result.withLock { $0 }).get()
    XCTAssertEqual(status, .exited(0))
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "SigBlk:\t0000000000000000\n")
  }

  func testPolicyIsReadFromTheKernel() throws {
    let text = try? String(contentsOfFile: "/proc/sys/vm/memfd_noexec", encoding: .utf8)
    let expected: ExecutableMemfdPolicy
    switch text?.trimmingCharacters(in: .whitespacesAndNewlines) {
    case "0": expected = .allowed
    case "1": expected = .nonExecutableByDefault
    case "2": expected = .forbidden
    default: expected = .predatesExecControl
    }
    XCTAssertEqual(ExecutableMemfdPolicy.current, expected)
  }
}
