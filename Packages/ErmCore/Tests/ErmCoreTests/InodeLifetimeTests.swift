import ErmAlloc
import Foundation
import SystemPackage
import XCTest

@testable import ErmCore

/// Calls that find a file by name and then work on it, racing the unlink that frees it.
/// They hold a reference on the inode while they work, so they act on the file whole (as
/// if they came before the unlink) and it is freed once, after them. These write contents,
/// so they are not part of the ThreadSanitizer run.
final class InodeLifetimeTests: XCTestCase {
  /// `truncate(path)` used to find the inode, let go of the tree, then materialise it: an
  /// unlink in between freed the file first, and the truncate gave the freed inode new
  /// memory that nothing would ever free (stored bytes stayed above zero).
  func testTruncateByPathRacingUnlinkLeavesNothingBehind() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let rounds = scaled(300)
    let stop = Flag(), unexpected = EventCount()
    runThreads(3) { thread in
      if thread == 0 {
        for _ in 0..<rounds {
          do throws(Errno) {
            try fs.put("/victim", text(3 * testChunkSize))
            try fs.unlink("/victim")
          } catch {
            unexpected.add()
          }
        }
        stop.set()
        return
      }
      while !stop.isSet {
        switch errnoOf({ () throws(Errno) in try fs.truncate("/victim", to: Int64(5 * testChunkSize)) }) {
        case nil, .noSuchFileOrDirectory?: break
        default: unexpected.add()
        }
      }
    }
    XCTAssertEqual(unexpected.value, 0)
    XCTAssertEqual(fs.statistics.files, 0)
    XCTAssertEqual(fs.statistics.storedBytes, 0, "memory given to a freed file")
    XCTAssertEqual(fs.statistics.logicalBytes, 0)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }

  /// A snapshot by path racing the unlink of its file sees the whole file or ENOENT; it
  /// used to pin the contents of a file already freed and see it empty.
  func testSnapshotByPathRacingUnlinkSeesTheWholeFileOrNothing() throws {
    let fs = try makeFS()
    let data = text(2 * testChunkSize)
    let rounds = scaled(300)
    let stop = Flag(), wrong = EventCount(), whole = EventCount()
    runThreads(3) { thread in
      if thread == 0 {
        for _ in 0..<rounds {
          do throws(Errno) {
            // Written under another name first: under /victim it is always whole.
            try fs.put("/staging", data)
            try fs.rename("/staging", to: "/victim")
            try fs.unlink("/victim")
          } catch {
            wrong.add()
          }
        }
        stop.set()
        return
      }
      while !stop.isSet {
        do throws(Errno) {
          let size = try fs.withContents(ofPath: "/victim") { (contents) throws(Errno) in contents.logicalSize }
          if size == data.count { whole.add() } else { wrong.add() }
        } catch {
          if error != .noSuchFileOrDirectory { wrong.add() }
        }
      }
    }
    XCTAssertEqual(wrong.value, 0, "a snapshot saw a size the file never had")
    XCTAssertEqual(fs.statistics.storedBytes, 0)
  }

  /// Many threads close descriptors of the same files while others unlink them: every
  /// inode is freed exactly once (a second free would trap in its reference count), after
  /// its last close, and its memory goes back to the allocator.
  func testConcurrentClosesAndUnlinksFreeEachFileOnce() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let files = scaled(200)
    for file in 0..<files { try fs.put("/f\(file)", text(testChunkSize + file)) }
    var opened: [[ErmFS.Descriptor]] = []
    for file in 0..<files {
      opened.append([try fs.open("/f\(file)", .readOnly), try fs.open("/f\(file)", .readOnly),
                     try fs.open("/f\(file)", .readOnly)])
    }
    let descriptors = opened
    let failures = EventCount()
    runThreads(4) { thread in
      for file in 0..<files {
        if thread == 3 {
          if errnoOf({ () throws(Errno) in try fs.unlink("/f\(file)") }) != nil { failures.add() }
        } else {
          let fd = descriptors[file][thread]
          if (try? fs.read(fd, upToCount: 100)) == nil { failures.add() }
          if errnoOf({ () throws(Errno) in try fs.close(fd) }) != nil { failures.add() }
        }
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertEqual(fs.freedInodes, files)
    XCTAssertEqual(fs.statistics.storedBytes, 0)
    XCTAssertEqual(fs.statistics.cacheBytes, 0)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }
}
