import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmCore

/// Races on names, descriptors and offsets, in whichever locking mode the suite runs
/// (`ERMCORE_TEST_LOCKING`); also run under ThreadSanitizer with the lock-free mode
/// (`make test-sanitizers`). No test here writes file contents.
final class NamespaceRaceTests: XCTestCase {
  /// Opens, closes, creates and unlinks of the same four names from six threads: every
  /// create that succeeded is matched by the names left plus the unlinks that succeeded,
  /// every unlinked inode is freed exactly once, nothing stays open.
  func testCreatesOpensAndUnlinksOfAFewNamesKeepTheCountsExact() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    let created = EventCount(), unlinked = EventCount(), failures = EventCount(3)
    let rounds = scaled(1_500)
    runThreads(6) { thread in
      var random = SplitMix64(state: UInt64(thread) &+ 77)
      for _ in 0..<rounds {
        let path = "/d/n\(Int.random(in: 0..<4, using: &random))"
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
          do throws(Errno) {
            let fd = try fs.open(path, .writeOnly, options: [.create, .exclusiveCreate])
            created.add()
            try fs.close(fd)
          } catch {
            if error != .fileExists { failures.add(0) }
          }
        case 1:
          do throws(Errno) {
            let fd = try fs.open(path, .readOnly)
            if try fs.fstat(fd).type != .regular { failures.add(1) }
            try fs.close(fd)
          } catch {
            if error != .noSuchFileOrDirectory { failures.add(1) }
          }
        case 2:
          do throws(Errno) {
            let fd = try fs.open(path, .readWrite, options: .create)  // opens or creates
            try fs.close(fd)
          } catch {
            failures.add(1)
          }
        default:
          do throws(Errno) {
            try fs.unlink(path)
            unlinked.add()
          } catch {
            if error != .noSuchFileOrDirectory { failures.add(2) }
          }
        }
      }
    }
    XCTAssertEqual(failures[0], 0, "O_CREAT|O_EXCL failed other than EEXIST")
    XCTAssertEqual(failures[1], 0, "an open failed other than ENOENT, or opened a non-file")
    XCTAssertEqual(failures[2], 0, "unlink failed other than ENOENT")
    let left = try fs.readdir("/d").count
    XCTAssertEqual(fs.statistics.files, left)
    XCTAssertEqual(fs.statistics.openDescriptors, 0)
    XCTAssertGreaterThan(unlinked.value, 0)
    // Files made by the opening creates (case 2) are not counted in `created`; every name
    // that went was freed: freed = unlinked, whoever made it.
    XCTAssertEqual(fs.freedInodes, unlinked.value, "each unlinked file freed exactly once")
    XCTAssertGreaterThanOrEqual(unlinked.value + left, created.value)
  }

  /// `RENAME_EXCHANGE` swaps two names while other threads look both up: each single
  /// lookup finds something under its name, every time, and a listing shows both names.
  func testExchangeNeverHidesEitherName() throws {
    let fs = try makeFS()
    try fs.mkdir("/r")
    try fs.mknod("/r/a", type: .regular, permissions: [.ownerReadWrite])
    try fs.mkdir("/r/b")
    let a = try fs.stat("/r/a").inode, b = try fs.stat("/r/b").inode
    let stop = Flag(), misses = EventCount(2), lookups = EventCount()
    let swaps = scaled(1_000)
    runThreads(4) { thread in
      if thread == 0 {
        for _ in 0..<swaps {
          if errnoOf({ () throws(Errno) in try fs.rename("/r/a", to: "/r/b", flags: .exchange) }) != nil { misses.add(1) }
        }
        stop.set()
        return
      }
      while !stop.isSet {
        for name in ["/r/a", "/r/b"] {
          guard let found = try? fs.lstat(name), found.inode == a || found.inode == b else {
            misses.add(0)
            continue
          }
          lookups.add()
        }
        if thread == 1, let names = try? fs.readdir("/r").map(\.name), names != ["a", "b"] { misses.add(0) }
      }
    }
    XCTAssertEqual(misses[0], 0, "a lookup or listing missed a name during an exchange")
    XCTAssertEqual(misses[1], 0, "an exchange failed")
    XCTAssertGreaterThan(lookups.value, 0)
    XCTAssertEqual(Set([try fs.stat("/r/a").inode, try fs.stat("/r/b").inode]), [a, b])
    XCTAssertEqual(fs.statistics.files, 1)
    XCTAssertEqual(fs.statistics.directories, 2)
  }

  /// A plain rename back and forth while another thread unlinks and re-creates the
  /// destination: the moving file is never lost, the replaced ones are freed exactly once.
  func testRenameRacingUnlinkAndCreateOfTheDestination() throws {
    let fs = try makeFS()
    try fs.mkdir("/r")
    try fs.mknod("/r/mover", type: .regular, permissions: [.ownerReadWrite])
    let mover = try fs.stat("/r/mover").inode
    let stop = Flag(), made = EventCount(), failures = EventCount()
    let rounds = scaled(1_000)
    runThreads(3) { thread in
      switch thread {
      case 0:
        for _ in 0..<rounds {
          if errnoOf({ () throws(Errno) in try fs.rename("/r/mover", to: "/r/other") }) != nil { failures.add() }
          if errnoOf({ () throws(Errno) in try fs.rename("/r/other", to: "/r/mover") }) != nil { failures.add() }
        }
        stop.set()
      case 1:
        while !stop.isSet {
          // Make a file under either name when it is free; it is replaced or unlinked later.
          for name in ["/r/mover", "/r/other", "/r/spare"] {
            if errnoOf({ () throws(Errno) in try fs.mknod(name, type: .regular, permissions: [.ownerReadWrite]) }) == nil {
              made.add()
            }
          }
        }
      default:
        while !stop.isSet { _ = errnoOf { () throws(Errno) in try fs.unlink("/r/spare") } }
      }
    }
    XCTAssertEqual(failures.value, 0, "the moving file went missing")
    XCTAssertEqual(try fs.stat("/r/mover").inode, mover)
    let left = try fs.readdir("/r").count
    XCTAssertEqual(fs.statistics.files, left)
    XCTAssertEqual(fs.freedInodes, made.value + 1 - left, "every file that lost its name was freed once")
  }

  /// `rmdir` of a directory that always holds a file fails with ENOTEMPTY while creates
  /// and unlinks run in it; none of them ever sees the directory as removed.
  func testFailingRmdirNeverMakesACreateFail() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.mknod("/d/keep", type: .regular, permissions: [.ownerReadWrite])
    let stop = Flag(), spurious = EventCount(2)
    let rounds = scaled(2_000)
    runThreads(4) { thread in
      if thread == 0 {
        for _ in 0..<rounds where errnoOf({ () throws(Errno) in try fs.rmdir("/d") }) != .directoryNotEmpty { spurious.add(1) }
        stop.set()
        return
      }
      var count = 0
      while !stop.isSet {
        count += 1
        let path = "/d/t\(thread)-\(count % 3)"
        if errnoOf({ () throws(Errno) in try fs.mknod(path, type: .regular, permissions: [.ownerReadWrite]) }) != nil { spurious.add(0) }
        if errnoOf({ () throws(Errno) in try fs.unlink(path) }) != nil { spurious.add(0) }
      }
    }
    XCTAssertEqual(spurious[0], 0, "a create or unlink failed in a directory that was never removed")
    XCTAssertEqual(spurious[1], 0, "rmdir of a non-empty directory did not fail with ENOTEMPTY")
    XCTAssertEqual(try fs.readdir("/d").map(\.name), ["keep"])
  }

  /// `rmdir` and `mkdir` of one directory race creates inside it: a create either lands in
  /// a live directory (then its own unlink finds the file: the directory cannot be removed
  /// while it holds it) or fails with ENOENT; no file is left counted in a removed
  /// directory.
  func testRmdirRacingCreatesLeavesNoFileInARemovedDirectory() throws {
    let fs = try makeFS()
    let stop = Flag(), created = EventCount(), unexpected = EventCount(2)
    let rounds = scaled(500)
    runThreads(4) { thread in
      if thread == 0 {
        for _ in 0..<rounds {
          if errnoOf({ () throws(Errno) in try fs.mkdir("/d") }) != nil { unexpected.add(1) }
          // Creates keep it busy now and then; it empties again, since each unlinks its file.
          while let error = errnoOf({ () throws(Errno) in try fs.rmdir("/d") }) {
            if error != .directoryNotEmpty { unexpected.add(1) }
            sched_yield()
          }
        }
        stop.set()
        return
      }
      var count = 0
      while !stop.isSet {
        count += 1
        let path = "/d/t\(thread)-\(count % 2)"
        switch errnoOf({ () throws(Errno) in try fs.mknod(path, type: .regular, permissions: [.ownerReadWrite]) }) {
        case nil:
          created.add()
          if errnoOf({ () throws(Errno) in try fs.unlink(path) }) != nil { unexpected.add(0) }
        case .noSuchFileOrDirectory?:
          break
        default:
          unexpected.add(0)
        }
      }
    }
    XCTAssertEqual(unexpected[0], 0, "a create failed other than ENOENT, or its file went missing")
    XCTAssertEqual(unexpected[1], 0, "mkdir or rmdir failed other than ENOTEMPTY")
    XCTAssertEqual(fs.statistics.files, 0, "a file was left in a removed directory")
    XCTAssertEqual(fs.statistics.directories, 0)
    XCTAssertEqual(fs.freedInodes, created.value + rounds, "every file and directory freed once")
  }

  /// Descriptor numbers are reused at once; a thread's own descriptor always reaches its
  /// own file, and probes of random numbers only ever find whole descriptions.
  func testReusedDescriptorNumbersNeverReachAnotherFile() throws {
    let fs = try makeFS(maxDescriptors: 16)
    for owner in 0..<4 { try fs.mknod("/f\(owner)", type: .regular, permissions: [.ownerReadWrite]) }
    let inodes = try (0..<4).map { (owner) throws(Errno) in try fs.stat("/f\(owner)").inode }
    let known = Set(inodes)
    let wrong = EventCount(2), probes = EventCount()
    let rounds = scaled(2_000)
    runThreads(6) { thread in
      if thread < 4 {
        for _ in 0..<rounds {
          guard let fd = try? fs.open("/f\(thread)", .readOnly) else {
            wrong.add(0)
            continue
          }
          if (try? fs.fstat(fd).inode) != inodes[thread] { wrong.add(0) }
          if (try? fs.lseek(fd, offset: Int64(thread), from: .start)) != Int64(thread) { wrong.add(0) }
          if (try? fs.close(fd)) == nil { wrong.add(0) }
        }
        return
      }
      for round in 0..<(rounds * 2) {
        let number = Int32(round % 8)
        if let status = try? fs.fstat(ErmFS.Descriptor(rawValue: number)) {
          if !known.contains(status.inode) { wrong.add(1) }
          probes.add()
        }
      }
    }
    XCTAssertEqual(wrong[0], 0, "a descriptor reached another thread's file")
    XCTAssertEqual(wrong[1], 0, "a probe found a description that is not whole")
    XCTAssertEqual(fs.statistics.openDescriptors, 0)
  }

  /// One descriptor shared by threads that seek and stat it while two of them close it at
  /// once: exactly one close succeeds, calls after it fail with EBADF, and the file (also
  /// unlinked meanwhile) is freed exactly once, after the last call on it ended.
  func testSharedDescriptorClosedConcurrentlyIsFreedOnce() throws {
    let fs = try makeFS()
    let rounds = scaled(400)
    let closes = EventCount(), unexpected = EventCount()
    for round in 0..<rounds {
      let path = "/s\(round % 3)"
      try fs.mknod(path, type: .regular, permissions: [.ownerReadWrite])
      let fd = try fs.open(path, .readOnly)
      runThreads(4) { thread in
        switch thread {
        case 0, 1:
          if errnoOf({ () throws(Errno) in try fs.close(fd) }) == nil { closes.add() }
        case 2:
          if errnoOf({ () throws(Errno) in try fs.unlink(path) }) != nil { unexpected.add() }
        default:
          for _ in 0..<20 {
            switch errnoOf({ () throws(Errno) in _ = try fs.lseek(fd, offset: 1, from: .current) }) {
            case nil, .badFileDescriptor?: break
            default: unexpected.add()
            }
          }
        }
      }
    }
    XCTAssertEqual(closes.value, rounds, "exactly one of two concurrent closes succeeds")
    XCTAssertEqual(unexpected.value, 0)
    XCTAssertEqual(fs.freedInodes, rounds)
    XCTAssertEqual(fs.statistics.files, 0)
  }

  /// Threads reading one compressed file through one shared descriptor each get distinct,
  /// adjacent ranges: together they read every byte exactly once.
  func testReadsThroughASharedDescriptorSplitTheFile() throws {
    let fs = try makeFS()
    let words = 8 * testChunkSize / 8
    var bytes: [UInt8] = []
    for word in 0..<words { withUnsafeBytes(of: UInt64(word).littleEndian) { bytes += $0 } }
    try fs.put("/shared", bytes)
    XCTAssertTrue(try fs.isCompressed("/shared"))
    let fd = try fs.open("/shared", .readOnly)
    let seen = EventCount(words)
    let torn = EventCount()
    runThreads(4) { _ in
      while true {
        guard let piece = try? fs.read(fd, upToCount: 8 * 37), !piece.isEmpty else { return }
        if piece.count % 8 != 0 { torn.add() }
        for start in stride(from: 0, to: piece.count - 7, by: 8) {
          let word = piece[start..<(start + 8)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
          if word < words { seen.add(word) } else { torn.add() }
        }
      }
    }
    try fs.close(fd)
    XCTAssertEqual(torn.value, 0, "a read returned part of a word or garbage")
    XCTAssertEqual((0..<words).filter { seen[$0] != 1 }.count, 0, "every word read exactly once")
  }
}
