@testable import ArenaBPF
import CArenaStructures
import CArenaTestSupport
import Foundation
import Testing

/// Which creations the producer reports, and what `name` and `path` mean in each event.
extension KernelTests {
  static func makeDirectory(_ label: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appending(path: "arena-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
    return directory
  }

  /// Closes what a creating call returned (a descriptor for the open family).
  static func closeResult(_ result: Int) {
    #expect(result >= 0, "creating call failed: \(result)")
    if result > 0 { close(Int32(result)) }
  }

  static func drain(_ feed: FileCreationFeed, where keep: (FileCreationEvent) -> Bool) -> [FileCreationEvent] {
    var events: [FileCreationEvent] = []
    while let event = feed.poll() {
      if keep(event) { events.append(event) }
    }
    return events
  }

  @Test func everyCoveredCreatingCallIsReportedOnceWithItsNameAndPath() throws {
    let directory = try Self.makeDirectory("coverage")
    defer { try? FileManager.default.removeItem(at: directory) }
    let prefix = directory.path + "/"
    let dirfd = open(directory.path, O_RDONLY | O_DIRECTORY)
    defer { close(dirfd) }
    let feed = try FileCreationFeed(process: getpid())
    defer { feed.close() }
    #expect(feed.activeHook == .tracepoint, "this machine loads only tracepoints; extend the test for \(feed.activeHook)")

    let fifo = UInt32(S_IFIFO) | 0o640
    let exclusive = O_CREAT | O_WRONLY | O_EXCL
    // (name, origin, path as given or nil when relative to dirfd, the call)
    let calls: [(String, FileCreationEvent.Origin, Bool, () -> Int)] = [
      ("open-f", .open, true, { ermfs_test_open(prefix + "open-f", exclusive, 0o640) }),
      ("openat-f", .openat, false, { ermfs_test_openat(dirfd, "openat-f", exclusive, 0o640) }),
      ("openat2-f", .openat2, true, { ermfs_test_openat2(AT_FDCWD, prefix + "openat2-f", UInt64(exclusive), 0o640) }),
      ("creat-f", .creat, true, { ermfs_test_creat(prefix + "creat-f", 0o640) }),
      ("mkdir-d", .mkdir, true, { ermfs_test_mkdir(prefix + "mkdir-d", 0o750) }),
      ("mkdirat-d", .mkdirat, false, { ermfs_test_mkdirat(dirfd, "mkdirat-d", 0o750) }),
      ("mknod-p", .mknod, true, { ermfs_test_mknod(prefix + "mknod-p", fifo) }),
      ("mknodat-p", .mknodat, false, { ermfs_test_mknodat(dirfd, "mknodat-p", fifo) }),
    ]
    for (_, _, _, call) in calls { Self.closeResult(call()) }
    // Not creations: opening an existing file without O_CREAT, with openat and openat2;
    // a creating call that fails.
    Self.closeResult(ermfs_test_openat(AT_FDCWD, prefix + "open-f", O_RDONLY, 0))
    Self.closeResult(ermfs_test_openat2(AT_FDCWD, prefix + "open-f", UInt64(O_RDONLY), 0))
    #expect(ermfs_test_mkdir(prefix + "mkdir-d", 0o750) == -Int(EEXIST))

    let events = Self.drain(feed) { $0.path?.hasPrefix(prefix) == true || $0.directoryDescriptor == dirfd }
    #expect(events.count == calls.count, "\(events.map { "\($0.origin.map { "\($0)" } ?? "?") \($0.path ?? "-")" })")
    for (name, origin, absolute, _) in calls {
      let matching = events.filter { $0.name == name }
      #expect(matching.count == 1, "\(name): \(matching.count) events")
      guard let event = matching.first else { continue }
      #expect(event.origin == origin, "\(name)")
      #expect(event.path == (absolute ? prefix + name : name), "\(name)")
      #expect(event.directoryDescriptor == (absolute ? -100 : dirfd), "\(name)")
      #expect(event.nameStatus == .complete, "\(name)")
      #expect(event.mode & 0o777 == (name.hasSuffix("-d") ? 0o750 : 0o640), "\(name)")
    }
  }

  @Test func nameIsTheEntrysOwnNameAndPathIsAsGiven() throws {
    let directory = try Self.makeDirectory("names")
    defer { try? FileManager.default.removeItem(at: directory) }
    let prefix = directory.path + "/"
    let feed = try FileCreationFeed(process: getpid())
    defer { feed.close() }
    Self.closeResult(ermfs_test_mkdir(prefix + "trailing//", 0o755))
    Self.closeResult(ermfs_test_openat(AT_FDCWD, prefix + "trailing/./file", O_CREAT | O_WRONLY, 0o644))
    let events = Self.drain(feed) { $0.path?.hasPrefix(prefix) == true }
    #expect(events.map(\.name) == ["trailing", "file"])
    #expect(events.map(\.path) == [prefix + "trailing//", prefix + "trailing/./file"])
  }

  @Test func pathsLongerThanTheBufferAreMarkedTruncatedNotMisnamed() throws {
    let directory = try Self.makeDirectory("long")
    defer { try? FileManager.default.removeItem(at: directory) }
    let prefix = directory.path + "/"
    let feed = try FileCreationFeed(process: getpid())
    defer { feed.close() }
    // Exactly 255 bytes fit (plus the NUL); 256 do not.
    let fits = prefix + String(repeating: "a", count: 255 - prefix.utf8.count)
    let long = prefix + String(repeating: "b", count: 256 - prefix.utf8.count)
    #expect(fits.utf8.count == 255 && long.utf8.count == 256)
    Self.closeResult(ermfs_test_openat(AT_FDCWD, fits, O_CREAT | O_WRONLY, 0o644))
    Self.closeResult(ermfs_test_openat(AT_FDCWD, long, O_CREAT | O_WRONLY, 0o644))
    let events = Self.drain(feed) { $0.path?.hasPrefix(prefix) == true }
    #expect(events.count == 2)
    #expect(events.first?.nameStatus == .complete)
    #expect(events.first?.path == fits)
    #expect(events.first?.name == String(fits.split(separator: "/").last!))
    #expect(events.last?.nameStatus == .truncated)
    #expect(events.last?.path == String(long.utf8.prefix(255))!)
    #expect(events.last?.name == "")
  }

  @Test func aNameNotYetMappedWhenTheCallStartsIsReadAtItsExit() throws {
    // The name lives in a file mapping nobody has touched: no page-table entry yet, so
    // the producer's non-faulting read at syscall entry fails; the kernel's own copy of
    // the name then maps the page, and the exit reads it.
    let directory = try Self.makeDirectory("fault")
    defer { try? FileManager.default.removeItem(at: directory) }
    let target = directory.path + "/faulted"
    let holder = directory.appending(path: "name-holder")
    try Data((target + "\0").utf8).write(to: holder)
    let fd = open(holder.path, O_RDONLY)
    defer { close(fd) }
    let page = mmap(nil, 4096, PROT_READ, MAP_PRIVATE, fd, 0)
    #expect(page != MAP_FAILED)
    defer { munmap(page, 4096) }
    let feed = try FileCreationFeed(process: getpid())
    defer { feed.close() }
    let before = feed.counters.namesReadAtExit
    Self.closeResult(
      ermfs_test_openat(AT_FDCWD, page!.assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY | O_EXCL, 0o600))
    let events = Self.drain(feed) { $0.path == target || $0.name == "faulted" || $0.name.isEmpty }
    #expect(events.count == 1)
    #expect(events.first?.path == target)
    #expect(events.first?.name == "faulted")
    #expect(events.first?.nameStatus == .complete)
    #expect(feed.counters.namesReadAtExit - before == 1, "the entry read did not fault: the test proves nothing")
  }
}
