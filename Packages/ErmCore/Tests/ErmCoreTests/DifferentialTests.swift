import CErmCoreTestSupport
import Foundation
import SystemPackage
import XCTest

@testable import ErmCore

#if canImport(Glibc)
import Glibc
#endif

/// Differential test: the same seeded random operations run on an ErmFS and on a fresh
/// directory of a tmpfs (`/dev/shm`), and every result is compared: errno, counts, bytes
/// read, status fields, listings. The test thread unshares its filesystem context and
/// chroots into the directory, so both sides see the very same absolute paths (`/`,
/// `..` of the root, absolute symbolic links included).
///
/// Operations the two sides deliberately answer differently are not generated; each is
/// in the list in docs/decisions/core-semantics.md: opening FIFOs, sockets and devices,
/// SEEK_DATA/SEEK_HOLE on sparse files, `system.` attributes (POSIX ACLs), change times
/// (tmpfs's clock is coarse), sizes near the limits.
///
/// ERMCORE_DIFF_SEED=<n> runs one seed, ERMCORE_DIFF_OPS=<n> sets operations per seed,
/// ERMCORE_DIFF_TRACE=1 prints every operation.
final class DifferentialTests: XCTestCase {
  func testRandomOperationsMatchLinuxTmpfs() throws {
    guard geteuid() == 0 else {
      throw XCTSkip("the differential test chroots into a tmpfs directory: it needs root")
    }
    let environment = ProcessInfo.processInfo.environment
    let seeds: [UInt64] = environment["ERMCORE_DIFF_SEED"].flatMap { UInt64($0) }.map { [$0] }
      ?? [0xD1FF_0001, 0xD1FF_0002, 0xD1FF_0003, 0xD1FF_0004]
    let operations = environment["ERMCORE_DIFF_OPS"].flatMap(Int.init) ?? 6_000
    for seed in seeds {
      let report = try DifferentialRun.run(seed: seed, operations: operations)
      if let mismatch = report.mismatch {
        XCTFail("""
          seed \(seed) (rerun: ERMCORE_DIFF_SEED=\(seed)): operation \(mismatch.step) differs
            \(mismatch.operation)
            ErmFS: \(mismatch.erm)
            Linux: \(mismatch.linux)
          operations before it:
          \(report.log.suffix(15).joined(separator: "\n"))
          """)
        return
      }
      XCTAssertGreaterThan(report.compared, operations / 2, "most operations were compared")
      XCTAssertGreaterThan(report.successes, operations / 10, "many operations succeeded on both sides")
      XCTAssertGreaterThan(report.failures, operations / 10, "many failed alike on both sides")
      print("differential seed \(seed): \(report.compared) operations compared, \(report.successes) succeeded, \(report.failures) failed alike")
    }
  }
}

/// One run: a chrooted thread performing the operations on both sides.
struct DifferentialRun {
  struct Mismatch {
    var step: Int
    var operation: String
    var erm: String
    var linux: String
  }

  struct Report {
    var mismatch: Mismatch?
    var log: [String] = []
    var compared = 0
    var successes = 0
    var failures = 0
  }

  static func run(seed: UInt64, operations: Int) throws -> Report {
    var template = Array("/dev/shm/ermcore-diff-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
      throw XCTSkip("cannot make a directory in /dev/shm (errno \(errno)): no tmpfs to compare with")
    }
    let root = String(cString: made)
    chmod(root, 0o755)  // as ErmFS's root
    defer { try? FileManager.default.removeItem(atPath: root) }
    let box = ReportBox()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      defer { done.signal() }
      let unshared = erm_test_unshare_fs()
      let entered = unshared == 0 ? erm_test_enter_root(root) : unshared
      guard entered == 0 else {
        box.setupError = "unshare/chroot failed: errno \(-entered)"
        return
      }
      do {
        var run = try DifferentialRun(seed: seed)
        run.perform(operations)
        run.closeAll()
        box.report = run.report
      } catch {
        box.setupError = "\(error)"
      }
    }
    thread.start()
    done.wait()
    if let error = box.setupError { XCTFail(error) }
    return box.report
  }

  final class ReportBox: @unchecked Sendable {  // written by the test thread before it signals
    var report = Report()
    var setupError: String?
  }

  let erm: ErmFS
  var random: SplitMix64
  var step = 0
  var report = Report()
  /// Descriptors open on both sides, pairwise.
  var handles: [(erm: ErmFS.Descriptor, linux: Int32, path: String)] = []
  let start = Date().timeIntervalSince1970

  init(seed: UInt64) throws {
    erm = try ErmFS(configuration: .init(maxDescriptors: 64, chunkSize: 4096, owner: .root, locking: testLocking))
    random = SplitMix64(state: seed)
  }

  mutating func perform(_ count: Int) {
    while step < count && report.mismatch == nil {
      performOne()
      if step % 300 == 299 && report.mismatch == nil { compareTree() }
      step += 1
    }
    if report.mismatch == nil { compareTree() }
  }

  mutating func closeAll() {
    for handle in handles {
      try? erm.close(handle.erm)
      Glibc.close(handle.linux)
    }
    handles.removeAll()
  }

  // MARK: Operations

  mutating func performOne() {
    switch Int.random(in: 0..<100, using: &random) {
    case 0..<14: openFile()
    case 14..<19: closeFile()
    case 19..<27: writeFile(positional: chance(40))
    case 27..<33: readFile(positional: chance(40))
    case 33..<36: seekFile()
    case 36..<40: truncateFile()
    case 40..<44: statName(follow: chance(60))
    case 44..<49: makeDirectory()
    case 49..<52: removeDirectory()
    case 52..<56: unlinkName()
    case 56..<61: renameName()
    case 61..<64: linkName()
    case 64..<68: symbolicLink()
    case 68..<70: readLink()
    case 70..<73: changeMode()
    case 73..<75: changeOwner()
    case 75..<79: setTimes()
    case 79..<81: makeNode()
    case 81..<83: listDirectory()
    case 83..<88: attributes()
    case 88..<90: allocate()
    case 90..<92: fstatHandle()
    default: openFile()
    }
  }

  mutating func openFile() {
    let path = pickPath()
    if isSpecialOnLinux(path) { return }
    let access = pick([(FileDescriptor.AccessMode.readOnly, O_RDONLY), (.writeOnly, O_WRONLY),
                       (.readWrite, O_RDWR)])
    var options: FileDescriptor.OpenOptions = []
    var flags = access.1
    for (chance, option, flag) in [(45, FileDescriptor.OpenOptions.create, O_CREAT),
                                    (10, .exclusiveCreate, O_EXCL), (12, .truncate, O_TRUNC),
                                    (20, .append, O_APPEND), (7, .directory, O_DIRECTORY),
                                    (7, .noFollow, O_NOFOLLOW)] where self.chance(chance) {
      options.insert(option)
      flags |= flag
    }
    let mode = pick([0o644, 0o600, 0o4755, 0o777, 0o2640] as [UInt32])
    let description = "open \(path) flags 0o\(String(flags, radix: 8)) mode 0o\(String(mode, radix: 8))"
    if handles.count >= 48 { return }
    let ermResult = capture { () throws(Errno) in
      try erm.open(path, access.0, options: options, permissions: FilePermissions(rawValue: mode))
    }
    let fd = Glibc.open(path, flags, mode_t(mode))
    let linuxError = fd < 0 ? errno : 0
    switch ermResult {
    case .success(let descriptor):
      if fd >= 0 {
        handles.append((descriptor, fd, path))
        compare(description, "ok", "ok")
      } else {
        try? erm.close(descriptor)
        compare(description, "ok", name(linuxError))
      }
    case .failure(let error):
      if fd >= 0 { Glibc.close(fd) }
      compare(description, name(error.rawValue), fd >= 0 ? "ok" : name(linuxError))
    }
  }

  mutating func closeFile() {
    guard !handles.isEmpty else { return }
    let index = Int.random(in: 0..<handles.count, using: &random)
    let handle = handles.remove(at: index)
    let ermResult = outcome { () throws(Errno) in try erm.close(handle.erm) }
    compare("close \(handle.path)", ermResult, linuxOutcome(Glibc.close(handle.linux)))
  }

  mutating func writeFile(positional: Bool) {
    guard let handle = pickHandle() else { return }
    let count = pickCount()
    let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ step) }
    let offset = pickOffset()
    let description = positional ? "pwrite \(handle.path) \(count) at \(offset)" : "write \(handle.path) \(count)"
    let ermResult = outcome { () throws(Errno) -> Int in
      positional ? try erm.pwrite(handle.erm, bytes: bytes, at: offset) : try erm.write(handle.erm, bytes: bytes)
    }
    let written = bytes.withUnsafeBytes { buffer in
      positional ? Glibc.pwrite(handle.linux, buffer.baseAddress, count, off_t(offset))
        : Glibc.write(handle.linux, buffer.baseAddress, count)
    }
    compare(description, ermResult, written < 0 ? name(errno) : "ok \(written)")
  }

  mutating func readFile(positional: Bool) {
    guard let handle = pickHandle() else { return }
    let count = pickCount()
    let offset = pickOffset()
    let description = positional ? "pread \(handle.path) \(count) at \(offset)" : "read \(handle.path) \(count)"
    let ermResult = outcome { () throws(Errno) -> String in
      let bytes = positional ? try erm.pread(handle.erm, upToCount: count, at: offset)
        : try erm.read(handle.erm, upToCount: count)
      return Self.digest(bytes)
    }
    var buffer = [UInt8](repeating: 0, count: count)
    let n = buffer.withUnsafeMutableBytes { raw in
      positional ? Glibc.pread(handle.linux, raw.baseAddress, count, off_t(offset))
        : Glibc.read(handle.linux, raw.baseAddress, count)
    }
    compare(description, ermResult, n < 0 ? name(errno) : "ok " + Self.digest(Array(buffer.prefix(n))))
  }

  mutating func seekFile() {
    guard let handle = pickHandle() else { return }
    let whence = pick([SEEK_SET, SEEK_CUR, SEEK_END, 7])
    let offset = chance(20) ? -Int64.random(in: 1...5000, using: &random) : Int64.random(in: 0...70_000, using: &random)
    let ermResult = outcome { () throws(Errno) in
      try erm.lseek(handle.erm, offset: offset, from: FileDescriptor.SeekOrigin(rawValue: whence))
    }
    let result = erm_test_lseek(handle.linux, offset, whence)
    compare("lseek \(handle.path) \(offset) whence \(whence)", ermResult,
            result < 0 ? name(Int32(-result)) : "ok \(result)")
  }

  mutating func truncateFile() {
    let size = chance(10) ? -1 : Int64(pick([0, 1, 100, 4096, 5000, 9000, 40_000]))
    if chance(50), let handle = pickHandle() {
      let ermResult = outcome { () throws(Errno) in try erm.ftruncate(handle.erm, to: size) }
      compare("ftruncate \(handle.path) \(size)", ermResult,
              linuxOutcome(Glibc.ftruncate(handle.linux, off_t(size))))
    } else {
      let path = pickPath()
      if isSpecialOnLinux(path) { return }
      let ermResult = outcome { () throws(Errno) in try erm.truncate(path, to: size) }
      compare("truncate \(path) \(size)", ermResult, linuxOutcome(Glibc.truncate(path, off_t(size))))
    }
  }

  mutating func statName(follow: Bool) {
    let path = pickPath()
    let ermResult = outcome { () throws(Errno) -> String in
      describe(follow ? try erm.stat(path) : try erm.lstat(path))
    }
    var status = Glibc.stat()
    let rc = follow ? stat(path, &status) : lstat(path, &status)
    compare("\(follow ? "stat" : "lstat") \(path)", ermResult, rc < 0 ? name(errno) : "ok " + describe(status))
  }

  mutating func fstatHandle() {
    guard let handle = pickHandle() else { return }
    let ermResult = outcome { () throws(Errno) -> String in describe(try erm.fstat(handle.erm)) }
    var status = Glibc.stat()
    let rc = Glibc.fstat(handle.linux, &status)
    compare("fstat \(handle.path)", ermResult, rc < 0 ? name(errno) : "ok " + describe(status))
  }

  mutating func makeDirectory() {
    let path = pickPath()
    // No world-writable sticky modes: there Linux refuses even root (`may_create_in_sticky`),
    // a permission check, which ErmFS leaves to the kernel of a FUSE mount.
    let mode = pick([0o755, 0o700, 0o6743, 0o1775, 0o2775] as [UInt32])
    let ermResult = outcome { () throws(Errno) in try erm.mkdir(path, permissions: FilePermissions(rawValue: mode)) }
    compare("mkdir \(path) 0o\(String(mode, radix: 8))", ermResult, linuxOutcome(Glibc.mkdir(path, mode_t(mode))))
  }

  mutating func removeDirectory() {
    let path = pickPath()
    compare("rmdir \(path)", outcome { () throws(Errno) in try erm.rmdir(path) }, linuxOutcome(Glibc.rmdir(path)))
  }

  mutating func unlinkName() {
    let path = pickPath()
    compare("unlink \(path)", outcome { () throws(Errno) in try erm.unlink(path) },
            linuxOutcome(Glibc.unlink(path)))
  }

  mutating func renameName() {
    let from = pickPath()
    let to = pickPath()
    let flags = pick([[], [], [], ErmFS.RenameFlags.noReplace, .exchange, [.noReplace, .exchange]])
    let ermResult = outcome { () throws(Errno) in try erm.rename(from, to: to, flags: flags) }
    compare("rename \(from) \(to) flags \(flags.rawValue)", ermResult,
            linuxResult(erm_test_renameat2(from, to, flags.rawValue)))
  }

  mutating func linkName() {
    let from = pickPath()
    let to = pickPath()
    compare("link \(from) \(to)", outcome { () throws(Errno) in try erm.link(from, to: to) },
            linuxOutcome(Glibc.link(from, to)))
  }

  mutating func symbolicLink() {
    let target = chance(15) ? "" : pickPath(relative: chance(40))
    let path = pickPath()
    compare("symlink \(target) \(path)", outcome { () throws(Errno) in try erm.symlink(target, at: path) },
            linuxOutcome(Glibc.symlink(target, path)))
  }

  mutating func readLink() {
    let path = pickPath()
    let ermResult = outcome { () throws(Errno) in try erm.readlink(path) }
    var buffer = [CChar](repeating: 0, count: 8192)
    let n = Glibc.readlink(path, &buffer, buffer.count)
    let linux = n < 0 ? name(errno)
      : "ok " + String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    compare("readlink \(path)", ermResult, linux)
  }

  mutating func changeMode() {
    let path = pickPath()
    let mode = pick([0o644, 0o7775, 0o4711, 0o2755, 0o1700, 0] as [UInt32])  // see makeDirectory
    compare("chmod \(path) 0o\(String(mode, radix: 8))",
            outcome { () throws(Errno) in try erm.chmod(path, permissions: FilePermissions(rawValue: mode)) },
            linuxOutcome(Glibc.chmod(path, mode_t(mode))))
  }

  mutating func changeOwner() {
    let path = pickPath()
    let user = pick([nil, 0, 1000, 65534] as [UInt32?])
    let group = pick([nil, 0, 100, 65534] as [UInt32?])
    let follow = chance(70)
    let ermResult = outcome { () throws(Errno) in
      try erm.chown(path, userID: user, groupID: group, followLast: follow)
    }
    let rc = follow ? Glibc.chown(path, user ?? UInt32.max, group ?? UInt32.max)
      : Glibc.lchown(path, user ?? UInt32.max, group ?? UInt32.max)
    compare("\(follow ? "chown" : "lchown") \(path) \(user.map(String.init) ?? "-1") \(group.map(String.init) ?? "-1")",
            ermResult, linuxOutcome(rc))
  }

  mutating func setTimes() {
    let path = pickPath()
    let choices: [(ErmFS.TimeUpdate, Int64, Int)] = [
      (.now, 0, erm_test_utime_now()), (.omit, 0, erm_test_utime_omit()),
      (.set(.init(seconds: 1000, nanoseconds: 5)), 1000, 5),
      (.set(.init(seconds: 10_000_000_000, nanoseconds: 7)), 10_000_000_000, 7),
      (.set(.init(seconds: -5, nanoseconds: 999_999_999)), -5, 999_999_999),
      (.set(.init(seconds: 7, nanoseconds: 1_000_000_000)), 7, 1_000_000_000),
    ]
    let access = pick(choices)
    let modification = pick(choices)
    let follow = chance(80)
    let ermResult = outcome { () throws(Errno) in
      try erm.utimens(path, access: access.0, modification: modification.0, followLast: follow)
    }
    let rc = erm_test_utimensat(path, access.1, access.2, modification.1, modification.2, follow ? 0 : 1)
    compare("utimens \(path) \(access.0) \(modification.0) follow \(follow)", ermResult, linuxResult(rc))
  }

  mutating func makeNode() {
    let path = pickPath()
    let kind = pick([(FileType.fifo, S_IFIFO), (.socket, S_IFSOCK), (.characterSpecial, S_IFCHR),
                     (.regular, S_IFREG)])
    let device: UInt64 = kind.0 == .characterSpecial ? 0x0103 : 0
    let ermResult = outcome { () throws(Errno) in
      try erm.mknod(path, type: kind.0, permissions: [.ownerReadWrite], device: device)
    }
    compare("mknod \(path) \(kind.0)", ermResult,
            linuxOutcome(Glibc.mknod(path, kind.1 | 0o600, dev_t(device))))
  }

  mutating func listDirectory() {
    let path = pickPath()
    let ermResult = outcome { () throws(Errno) -> String in
      try erm.readdir(path).map { "\($0.name):\(typeName($0.type.rawValue))" }.joined(separator: ",")
    }
    compare("readdir \(path)", ermResult, linuxListing(path))
  }

  mutating func attributes() {
    let path = pickPath()
    let attribute = pick(["user.x", "user.y", "trusted.t", "security.s", "user.", "other.z",
                          String(repeating: "u", count: 251) + "user."])
    let value = pick([[], [1, 2, 3], [UInt8](repeating: 7, count: 300)])
    switch Int.random(in: 0..<4, using: &random) {
    case 0:
      let flags = pick([0, 1, 2, 3] as [Int32])
      let ermResult = outcome { () throws(Errno) in
        try erm.setExtendedAttribute(attribute, value, at: path, flags: .init(rawValue: flags))
      }
      let rc = value.withUnsafeBytes { erm_test_setxattr(path, attribute, $0.baseAddress, value.count, flags) }
      compare("setxattr \(path) \(attribute) \(value.count) flags \(flags)", ermResult, linuxResult(rc))
    case 1:
      let ermResult = outcome { () throws(Errno) -> String in
        Self.digest(try erm.extendedAttribute(attribute, at: path))
      }
      var buffer = [UInt8](repeating: 0, count: 70_000)
      let n = buffer.withUnsafeMutableBytes { erm_test_getxattr(path, attribute, $0.baseAddress, $0.count) }
      compare("getxattr \(path) \(attribute)", ermResult,
              n < 0 ? name(Int32(-n)) : "ok " + Self.digest(Array(buffer.prefix(n))))
    case 2:
      let ermResult = outcome { () throws(Errno) -> String in
        try erm.extendedAttributeNames(at: path).joined(separator: ",")
      }
      var buffer = [CChar](repeating: 0, count: 70_000)
      let n = erm_test_listxattr(path, &buffer, buffer.count)
      let linux = n < 0 ? name(Int32(-n)) : "ok " + buffer.prefix(n).split(separator: 0)
        .map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        .filter { !$0.hasPrefix("system.") }.joined(separator: ",")
      compare("listxattr \(path)", ermResult, linux)
    default:
      compare("removexattr \(path) \(attribute)",
              outcome { () throws(Errno) in try erm.removeExtendedAttribute(attribute, at: path) },
              linuxResult(erm_test_removexattr(path, attribute)))
    }
  }

  mutating func allocate() {
    guard let handle = pickHandle() else { return }
    let mode = pick([(ErmFS.AllocationMode(), 0), (.keepSize, 1), ([.punchHole, .keepSize], 3),
                     (.punchHole, 2)] as [(ErmFS.AllocationMode, Int32)])
    let offset = chance(10) ? -1 : Int64(pick([0, 100, 4096, 6000]))
    let length = chance(10) ? 0 : Int64(pick([1, 100, 4096, 10_000]))
    let ermResult = outcome { () throws(Errno) in
      try erm.fallocate(handle.erm, mode: mode.0, offset: offset, length: length)
    }
    compare("fallocate \(handle.path) mode \(mode.1) \(offset) \(length)", ermResult,
            linuxResult(erm_test_fallocate(handle.linux, mode.1, offset, length)))
  }

  // MARK: Whole-tree comparison

  /// Every name, its status and (for regular files) its bytes, read through new
  /// descriptors on both sides.
  mutating func compareTree() {
    let ermTree = describeErmTree("/").split(separator: "\n")
    let linuxTree = describeLinuxTree("/").split(separator: "\n")
    for (ermLine, linuxLine) in zip(ermTree, linuxTree) where ermLine != linuxLine {
      return compare("whole tree", String(ermLine), String(linuxLine))
    }
    compare("whole tree", "\(ermTree.count) names", "\(linuxTree.count) names")
  }

  func describeErmTree(_ directory: String) -> String {
    guard let entries = try? erm.readdir(directory) else { return "unlistable \(directory)" }
    var out = ""
    for entry in entries {
      let path = (directory == "/" ? "" : directory) + "/" + entry.name
      guard let status = try? erm.lstat(path) else { out += "\(path) vanished\n"; continue }
      out += "\(path) \(describe(status))"
      if entry.type == .regular, let bytes = try? erm.withContents(ofPath: path, { (c) throws(Errno) in
        try c.bytes(0..<c.logicalSize)
      }) {
        out += " " + Self.digest(bytes)
      }
      out += "\n"
      if entry.type == .directory { out += describeErmTree(path) }
    }
    return out
  }

  func describeLinuxTree(_ directory: String) -> String {
    guard let names = linuxNames(directory) else { return "unlistable \(directory)" }
    var out = ""
    for entry in names {
      let path = (directory == "/" ? "" : directory) + "/" + entry
      var status = Glibc.stat()
      guard lstat(path, &status) == 0 else { out += "\(path) vanished\n"; continue }
      out += "\(path) \(describe(status))"
      if status.st_mode & S_IFMT == S_IFREG {
        let fd = Glibc.open(path, O_RDONLY | 0o1000000 /* O_NOATIME */)
        var bytes: [UInt8] = []
        if fd >= 0 {
          var buffer = [UInt8](repeating: 0, count: 65536)
          while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer.prefix(n)
          }
          Glibc.close(fd)
        }
        out += " " + Self.digest(bytes)
      }
      out += "\n"
      if status.st_mode & S_IFMT == S_IFDIR { out += describeLinuxTree(path) }
    }
    return out
  }

  func linuxNames(_ directory: String) -> [String]? {
    guard let stream = opendir(directory) else { return nil }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = Glibc.readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
  }

  func linuxListing(_ path: String) -> String {
    var status = Glibc.stat()
    guard stat(path, &status) == 0 else { return name(errno) }
    guard status.st_mode & S_IFMT == S_IFDIR else { return name(ENOTDIR) }
    guard let names = linuxNames(path) else { return name(errno) }
    let base = path.hasSuffix("/") ? path : path + "/"
    return "ok " + names.map { entry -> String in
      var child = Glibc.stat()
      _ = Glibc.lstat(base + entry, &child)
      return "\(entry):\(typeName(UInt32(child.st_mode & S_IFMT)))"
    }.joined(separator: ",")
  }

  // MARK: Describing results

  func describe(_ status: ErmFS.FileStatus) -> String {
    "type \(typeName(status.mode.rawValue & UInt32(S_IFMT))) mode 0o\(String(status.mode.rawValue & 0o7777, radix: 8)) "
      + "nlink \(status.linkCount) uid \(status.userID) gid \(status.groupID) size \(status.size) "
      + "rdev \(status.device) atime \(classify(status.accessTime.seconds, status.accessTime.nanoseconds)) "
      + "mtime \(classify(status.modificationTime.seconds, status.modificationTime.nanoseconds))"
  }

  func describe(_ status: Glibc.stat) -> String {
    "type \(typeName(UInt32(status.st_mode & S_IFMT))) mode 0o\(String(status.st_mode & 0o7777, radix: 8)) "
      + "nlink \(status.st_nlink) uid \(status.st_uid) gid \(status.st_gid) size \(status.st_size) "
      + "rdev \(status.st_rdev) atime \(classify(Int64(status.st_atim.tv_sec), Int64(status.st_atim.tv_nsec))) "
      + "mtime \(classify(Int64(status.st_mtim.tv_sec), Int64(status.st_mtim.tv_nsec)))"
  }

  /// Times set by the clock differ between the sides; times set explicitly must match.
  func classify(_ seconds: Int64, _ nanoseconds: Int64) -> String {
    let now = Date().timeIntervalSince1970
    if Double(seconds) >= start - 5 && Double(seconds) <= now + 5 { return "recent" }
    return "\(seconds).\(nanoseconds)"
  }

  static func digest(_ bytes: [UInt8]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return "\(bytes.count)b:\(String(hash, radix: 16))"
  }

  // MARK: Comparing

  static let trace = ProcessInfo.processInfo.environment["ERMCORE_DIFF_TRACE"] != nil

  mutating func compare(_ operation: String, _ erm: String, _ linux: String) {
    if Self.trace { print("#\(step) \(operation) -> \(erm)") }
    report.log.append("#\(step) \(operation) -> \(erm)")
    if report.log.count > 64 { report.log.removeFirst(32) }
    report.compared += 1
    if erm == linux {
      if erm.hasPrefix("ok") { report.successes += 1 } else { report.failures += 1 }
      return
    }
    report.mismatch = Mismatch(step: step, operation: operation, erm: erm, linux: linux)
  }

  func outcome<R>(_ body: () throws(Errno) -> R) -> String {
    do throws(Errno) {
      let value = try body()
      if value is Void { return "ok" }
      return "ok \(value)"
    } catch {
      return name(error.rawValue)
    }
  }

  func capture<R>(_ body: () throws(Errno) -> R) -> Result<R, Errno> {
    do throws(Errno) { return .success(try body()) } catch { return .failure(error) }
  }

  func linuxOutcome(_ rc: Int32) -> String { rc < 0 ? name(errno) : "ok" }
  func linuxResult(_ rc: Int32) -> String { rc < 0 ? name(-rc) : "ok" }

  func name(_ code: Int32) -> String { "errno \(code) (\(String(cString: strerror(code))))" }

  func typeName(_ bits: UInt32) -> String {
    switch bits {
    case UInt32(S_IFREG): return "file"
    case UInt32(S_IFDIR): return "dir"
    case UInt32(S_IFLNK): return "link"
    case UInt32(S_IFIFO): return "fifo"
    case UInt32(S_IFSOCK): return "socket"
    case UInt32(S_IFCHR): return "chr"
    case UInt32(S_IFBLK): return "blk"
    default: return "type\(bits)"
    }
  }

  /// FIFOs, sockets and devices open differently by design (ErmFS: ENXIO); opening a
  /// FIFO on Linux would even block. Operations that open such a node are skipped.
  func isSpecialOnLinux(_ path: String) -> Bool {
    var status = Glibc.stat()
    guard stat(path, &status) == 0 else { return false }
    let type = status.st_mode & S_IFMT
    return type != S_IFREG && type != S_IFDIR
  }

  // MARK: Random choices

  mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
  mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &random)] }

  mutating func pickHandle() -> (erm: ErmFS.Descriptor, linux: Int32, path: String)? {
    handles.isEmpty ? nil : handles[Int.random(in: 0..<handles.count, using: &random)]
  }

  /// Small names so operations meet each other; now and then `.`, `..`, `//`, a
  /// trailing `/`, or a name of 256 bytes.
  mutating func pickPath(relative: Bool = false) -> String {
    var components: [String] = []
    for _ in 0..<Int.random(in: 1...3, using: &random) {
      switch Int.random(in: 0..<100, using: &random) {
      case 0..<8: components.append(".")
      case 8..<16: components.append("..")
      case 16..<18: components.append(String(repeating: "n", count: 256))
      default: components.append(pick(["a", "b", "c", "l"]))
      }
    }
    var path = (relative ? "" : "/") + components.joined(separator: chance(5) ? "//" : "/")
    if chance(8) { path += "/" }
    if !relative && chance(2) { path = "/" }
    return path
  }

  mutating func pickCount() -> Int {
    switch Int.random(in: 0..<10, using: &random) {
    case 0: return 0
    case 1..<7: return Int.random(in: 1...600, using: &random)
    default: return Int.random(in: 1...12_000, using: &random)
    }
  }

  mutating func pickOffset() -> Int64 {
    switch Int.random(in: 0..<20, using: &random) {
    case 0: return -Int64.random(in: 1...100, using: &random)
    case 1..<4: return Int64.random(in: 10_000...60_000, using: &random)
    default: return Int64.random(in: 0...9000, using: &random)
    }
  }
}
