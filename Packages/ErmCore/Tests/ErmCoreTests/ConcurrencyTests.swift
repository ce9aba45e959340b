import ErmAlloc
import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmCore

/// Many threads at once; every test checks invariants afterwards (never timings).
final class ConcurrencyTests: XCTestCase {
  static let threadCount = 8

  func testThreadsOnDistinctFilesKeepEachFileExact() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    onThreads { thread in
      try fs.mkdir("/t\(thread)")
      var random = SplitMix64(state: UInt64(thread) + 1)
      for round in 0..<40 {
        let path = "/t\(thread)/f\(round % 3)"
        let size = Int.random(in: 0...(5 * testChunkSize), using: &random)
        var expected = round % 2 == 0 ? text(size, seed: thread * 1000 + round) : noise(size, seed: UInt64(round))
        let fd = try fs.open(path, .readWrite, options: [.create, .truncate])
        var at = 0
        while at < size {
          let piece = min(size - at, Int.random(in: 1...3000, using: &random))
          try fs.write(fd, bytes: Array(expected[at..<(at + piece)]))
          at += piece
        }
        if size > 10 {
          try fs.pwrite(fd, bytes: [0xAB], at: Int64(size / 2))
          expected[size / 2] = 0xAB
        }
        try fs.close(fd)
        guard try fs.get(path) == expected else {
          throw FsxFailure(operation: round, message: "\(path) differs after reopen")
        }
      }
    }
    let statistics = fs.statistics
    XCTAssertEqual(statistics.files, Self.threadCount * 3)
    XCTAssertEqual(statistics.directories, Self.threadCount)
    XCTAssertEqual(statistics.openDescriptors, 0)
    var logical = 0
    for thread in 0..<Self.threadCount {
      for file in 0..<3 { logical += Int(try fs.stat("/t\(thread)/f\(file)").size) }
    }
    XCTAssertEqual(statistics.logicalBytes, logical)
    try fs.assertAccountingConsistent(allocator)
  }

  func testConcurrentAppendsAllAppearExactlyOnce() throws {
    let fs = try makeFS()
    let perThread = 400
    onThreads { thread in
      var fd = try fs.open("/shared", .writeOnly, options: [.create, .append])
      for record in 0..<perThread {
        // Reopen now and then: last closes compress, the next write materialises again.
        if record % 50 == 49 {
          try fs.close(fd)
          fd = try fs.open("/shared", .writeOnly, options: .append)
        }
        let line = Array(String(format: "T%02d R%05d ....\n", thread, record).utf8)
        guard try fs.write(fd, bytes: line) == 16 else {
          throw FsxFailure(operation: record, message: "short append")
        }
      }
      try fs.close(fd)
    }
    let contents = try fs.get("/shared")
    XCTAssertEqual(contents.count, Self.threadCount * perThread * 16)
    var seen = Set<String>()
    for start in stride(from: 0, to: contents.count, by: 16) {
      let line = String(decoding: contents[start..<min(start + 16, contents.count)], as: UTF8.self)
      XCTAssertTrue(line.hasSuffix(" ....\n"), "torn record at \(start): \(line)")
      XCTAssertTrue(seen.insert(line).inserted, "duplicate record \(line)")
    }
    XCTAssertEqual(seen.count, Self.threadCount * perThread)
    XCTAssertTrue(try fs.isCompressed("/shared"))
  }

  func testDescriptorTableStaysConsistentUnderConcurrentOpensAndCloses() throws {
    let fs = try makeFS(maxDescriptors: 64)
    for thread in 0..<Self.threadCount { try fs.put("/d\(thread)", text(100 + thread)) }
    onThreads { thread in
      let expectedInode = try fs.stat("/d\(thread)").inode
      for _ in 0..<300 {
        let fds = try (0..<3).map { (_) throws(Errno) in try fs.open("/d\(thread)", .readOnly) }
        for fd in fds {
          // Each number must lead to this thread's file, never another thread's.
          guard try fs.fstat(fd).inode == expectedInode else {
            throw FsxFailure(operation: Int(fd.rawValue), message: "descriptor points elsewhere")
          }
        }
        guard Set(fds).count == 3 else { throw FsxFailure(operation: 0, message: "number handed out twice") }
        for fd in fds { try fs.close(fd) }
      }
    }
    XCTAssertEqual(fs.statistics.openDescriptors, 0)
    XCTAssertEqual(try fs.open("/d0", .readOnly).rawValue, 0, "every number was given back")
  }

  func testRenameIsAtomicForDirectoryListings() throws {
    let fs = try makeFS()
    try fs.mkdir("/r")
    try fs.put("/r/a", [1])
    let inode = try fs.stat("/r/a").inode
    let lookupsFound = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    onThreads(4) { thread in
      if thread == 0 {
        for _ in 0..<3000 {
          try fs.rename("/r/a", to: "/r/b")
          try fs.rename("/r/b", to: "/r/a")
        }
        stop.store(true, ordering: .releasing)
      } else {
        while !stop.load(ordering: .acquiring) {
          let names = try fs.readdir("/r").map(\.name)
          guard names == ["a"] || names == ["b"] else {
            throw FsxFailure(operation: 0, message: "listing \(names)")
          }
          // Two lookups are two operations: both may miss (a rename in between). What one
          // finds must be the moving file itself, never another inode or a torn state.
          if let found = (try? fs.stat("/r/a")) ?? (try? fs.stat("/r/b")) {
            guard found.inode == inode, found.size == 1, found.linkCount == 1 else {
              throw FsxFailure(operation: 0, message: "lookup found \(found)")
            }
            lookupsFound.add(1, ordering: .relaxed)
          }
        }
      }
    }
    XCTAssertEqual(try fs.readdir("/r").map(\.name), ["a"])
    XCTAssertEqual(fs.statistics.files, 1)
    XCTAssertGreaterThan(lookupsFound.load(ordering: .relaxed), 0, "lookups found the file")
  }

  func testUnlinkWhileOtherThreadsReadKeepsTheirDataUntilClose() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let data = text(8 * testChunkSize)
    let rounds = 20
    for round in 0..<rounds { try fs.put("/u\(round)", data) }
    let opened = Mutex([Int](repeating: 0, count: rounds))
    onThreads { thread in
      for round in 0..<rounds {
        let path = "/u\(round)"
        if thread == 0 {
          // Unlink only once some reader holds the file open.
          while opened.withLock({ $0[round] }) == 0 { sched_yield() }
          try fs.unlink(path)
          continue
        }
        guard let fd = try? fs.open(path, .readOnly) else { continue }  // already unlinked
        opened.withLock { $0[round] += 1 }
        var all: [UInt8] = []
        while true {
          let piece = try fs.read(fd, upToCount: 1000)
          if piece.isEmpty { break }
          all += piece
        }
        try fs.close(fd)
        guard all == data else { throw FsxFailure(operation: round, message: "\(path) read short") }
      }
    }
    XCTAssertEqual(fs.statistics.files, 0)
    XCTAssertEqual(fs.statistics.storedBytes, 0)
    XCTAssertEqual(fs.statistics.logicalBytes, 0)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }

  func testWithContentsGivesAConsistentSnapshotWhileAnotherThreadWrites() throws {
    let fs = try makeFS()
    let size = 4 * testChunkSize
    try fs.put("/s", [UInt8](repeating: 0, count: size))
    let stop = Atomic<Bool>(false)
    onThreads(2) { thread in
      if thread == 0 {
        let fd = try fs.open("/s", .writeOnly)
        for value in 1...250 {
          // Each write replaces the whole file with one repeated byte.
          try fs.pwrite(fd, bytes: [UInt8](repeating: UInt8(value), count: size), at: 0)
        }
        try fs.close(fd)
        stop.store(true, ordering: .releasing)
      } else {
        var snapshots = 0
        while !stop.load(ordering: .acquiring) || snapshots < 50 {
          snapshots += 1
          let bytes = try fs.withContents(ofPath: "/s") { (contents) throws(Errno) in
            try contents.bytes(0..<contents.logicalSize)
          }
          guard Set(bytes).count == 1 else { throw FsxFailure(operation: 0, message: "torn snapshot") }
        }
      }
    }
    XCTAssertEqual(Set(try fs.get("/s")), [250])
  }
}
