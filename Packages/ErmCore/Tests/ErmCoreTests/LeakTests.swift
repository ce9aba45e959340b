import ErmAlloc
import Foundation
import SystemPackage
import XCTest

@testable import ErmCore

/// Thousands of open/close and create/unlink cycles from several threads: afterwards the
/// allocator, the descriptor table, the directory tables, the inode table and the
/// reclamation backlog are back at their baseline, and every inode that went was freed
/// exactly once. Runs in both locking modes (and under ThreadSanitizer: no contents are
/// written).
final class LeakTests: XCTestCase {
  func testOpenCloseAndCreateUnlinkCyclesReturnToBaseline() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    try fs.mkdir("/d")
    try fs.mknod("/d/existing", type: .regular, permissions: [.ownerReadWrite])
    let baseline = (sizes: fs.treeSizes, live: allocator.statistics.bytesLive, backlog: fs.settleReclamation())
    let cycles = scaled(600)
    runThreads(4) { thread in
      for cycle in 0..<cycles {
        do throws(Errno) {
          let fd = try fs.open("/d/existing", .readOnly)
          try fs.close(fd)
          let path = "/d/t\(thread)-\(cycle)"  // distinct names: tombstones and table copies
          let made = try fs.open(path, .writeOnly, options: [.create, .exclusiveCreate])
          try fs.close(made)
          try fs.mkdir(path + "d")
          try fs.symlink("existing", at: path + "l")
          try fs.unlink(path)
          try fs.rmdir(path + "d")
          try fs.unlink(path + "l")
        } catch {
          XCTFail("cycle \(cycle) of thread \(thread): \(error)")
          return
        }
      }
    }
    XCTAssertEqual(fs.statistics.openDescriptors, 0)
    XCTAssertEqual(fs.statistics.files, 1)
    XCTAssertEqual(fs.statistics.directories, 1)
    XCTAssertEqual(fs.treeSizes.directories, baseline.sizes.directories, "directory tables")
    XCTAssertEqual(fs.treeSizes.entries, baseline.sizes.entries, "entries")
    XCTAssertEqual(fs.rememberedInodeCount, 1)
    XCTAssertEqual(fs.freedInodes, 4 * cycles * 3, "every file, directory and link freed once")
    XCTAssertEqual(allocator.statistics.bytesLive, baseline.live)
    XCTAssertEqual(fs.settleReclamation(), baseline.backlog, "reclamation backlog")
    XCTAssertEqual(try fs.readdir("/d").map(\.name), ["existing"])
  }

  /// The same through the inode API (FUSE): lookups remembered and forgotten, files made,
  /// opened, released and unlinked; the inode table ends with the root alone.
  func testInodeAPICyclesForgetEverything() throws {
    let fs = try makeFS()
    let directory = try fs.makeDirectory(in: .root, named: "d", permissions: [.ownerReadWriteExecute], owner: .root)
    let parent = ErmFS.InodeNumber(rawValue: directory.inode)
    let cycles = scaled(1_000)
    runThreads(4) { thread in
      for cycle in 0..<cycles {
        do throws(Errno) {
          let name = FileName("t\(thread)-\(cycle % 5)")
          let (status, fd) = try fs.create(in: parent, named: name, .readWrite, permissions: [.ownerReadWrite],
                                           owner: .root)
          let inode = ErmFS.InodeNumber(rawValue: status.inode)
          let again = try fs.lookup(in: parent, named: name)
          XCTAssertEqual(again.inode, status.inode)
          try fs.close(fd)
          try fs.unlink(in: parent, named: name)
          fs.forget(inode, count: 2)
        } catch {
          XCTFail("cycle \(cycle) of thread \(thread): \(error)")
          return
        }
      }
    }
    fs.forget(parent, count: 1)
    XCTAssertEqual(fs.rememberedInodeCount, 1)
    XCTAssertEqual(fs.freedInodes, 4 * cycles)
    XCTAssertEqual(fs.statistics.files, 0)
    XCTAssertEqual(fs.settleReclamation(), 0)
  }

  /// Directories hold their entry tables and the tables their directories (lock-free
  /// mode): removing a directory, switching modes and dropping the file system each let
  /// go of both, so the inodes themselves are deallocated.
  func testInodesAreDeallocatedAfterRemovalSwitchesAndTheEnd() throws {
    weak var removed: AnyObject?
    weak var kept: AnyObject?
    weak var file: AnyObject?
    do {
      let fs = try makeFS()
      try fs.mkdir("/gone")
      try fs.mkdir("/kept")
      try fs.mkdir("/kept/sub")
      try fs.mknod("/kept/sub/f", type: .regular, permissions: [.ownerReadWrite])
      removed = try fs.resolve("/gone")
      kept = try fs.resolve("/kept/sub")
      file = try fs.resolve("/kept/sub/f")
      try fs.rmdir("/gone")
      _ = fs.settleReclamation()
      XCTAssertNil(removed, "a removed directory is deallocated")
      try fs.setLocklessMode(fs.locking == .locked)
      try fs.setLocklessMode(fs.locking == .locked)
      _ = fs.settleReclamation()
      XCTAssertNotNil(kept)
    }
    XCTAssertNil(kept, "directories are deallocated with the file system")
    XCTAssertNil(file)
  }
}
