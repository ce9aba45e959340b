import ErmAlloc
import Foundation
import SystemPackage
import XCTest

@testable import ErmCore

/// fsx-style: random operations on a few files and descriptors, each checked against a
/// plain in-memory reference model. Seeds are fixed so failures reproduce; set
/// ERMCORE_FSX_SEED (one seed) and ERMCORE_FSX_OPS (operations per seed) to explore.
///
/// The file system runs with a byte quota and a maximum file size, so short writes and
/// ENOSPC happen; paths are spelled with `.`, `..` detours and trailing slashes, whose
/// outcome the model works out by walking its own tree; times set with `utimens` must
/// read back exactly (also past 2262) and writes must move the modification time. Files
/// are read back through descriptors in random pieces, and compressed ones also through
/// the system's `gzip -d` on the stored bytes: a decoder that shares no code with ErmFS.
final class ModelBasedTests: XCTestCase {
  func testRandomOperationsMatchTheReferenceModel() throws {
    let environment = ProcessInfo.processInfo.environment
    let fixedSeeds: [UInt64] = [0xE5F5_0001, 0xE5F5_0002, 0xE5F5_0003, 0xE5F5_0004]
    let seeds: [UInt64] = environment["ERMCORE_FSX_SEED"].flatMap { UInt64($0) }.map { [$0] }
      ?? fixedSeeds
    let operations = environment["ERMCORE_FSX_OPS"].flatMap(Int.init) ?? 25_000
    for seed in seeds {
      var run = try FsxRun(seed: seed)
      do {
        try run.perform(operations)
      } catch let failure as FsxFailure {
        XCTFail("""
          fsx seed \(seed) (rerun: ERMCORE_FSX_SEED=\(seed)) failed at operation \
          \(failure.operation): \(failure.message)
          last operations:
          \(run.log.suffix(12).joined(separator: "\n"))
          """)
        return
      }
      let performed = run.tally.counts.values.reduce(0) { $0 + $1.ok + $1.failed }
      XCTAssertEqual(performed, operations, "every step performs one operation")
      XCTAssertGreaterThan(run.tally.events["short write at the quota", default: 0]
                             + run.tally.events["ENOSPC", default: 0], 0, "the quota was reached")
      print("fsx seed \(seed): \(operations) operations (ok/expected errno): \(run.tally.summary)")
    }
  }
}

/// Per-kind counts of operations that succeeded and that failed as predicted.
final class Tally {
  var counts: [String: (ok: Int, failed: Int)] = [:]
  /// Limits met (not operations): short writes, ENOSPC.
  var events: [String: Int] = [:]
  var sawExpectedFailure = false

  func count(_ kind: String, failed: Bool) {
    var entry = counts[kind] ?? (0, 0)
    if failed { entry.failed += 1 } else { entry.ok += 1 }
    counts[kind] = entry
  }

  var summary: String {
    counts.keys.sorted().map { "\($0) \(counts[$0]!.ok)/\(counts[$0]!.failed)" }.joined(separator: ", ")
      + "; limits met: " + events.keys.sorted().map { "\($0) \(events[$0]!)" }.joined(separator: ", ")
  }
}

struct FsxFailure: Error {
  var operation: Int
  var message: String
}

/// SplitMix64: tiny, seedable, good enough for test inputs.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

final class ModelFile {
  var bytes: [UInt8] = []
}

struct ModelDescriptor {
  var file: ModelFile
  var offset = 0
  var canRead: Bool
  var canWrite: Bool
  var appends: Bool
}

struct FsxRun {
  /// Any of these may be a file, a directory or nothing at a given moment.
  static let paths = ["/a", "/b", "/c", "/d", "/e", "/d/a", "/d/b", "/d/s", "/d/s/a", "/e/a", "/e/s"]
  static let maxDescriptors = 12
  static let maxFileSize = 96 * 1024
  /// Small enough that the files outgrow it while materialised.
  static let quota = 28 * PageAllocator.pageSize

  let fs: ErmFS
  var random: SplitMix64
  var names: [String: ModelFile] = [:]
  var directories: Set<String> = ["/"]
  var descriptors: [Int32: ModelDescriptor] = [:]
  var log: [String] = []
  var step = 0
  /// Operations that reached the file system, by kind, and how many of them failed as
  /// the model predicted: printed per seed so coverage is visible in the test log.
  let tally = Tally()
  var lastKind = ""

  init(seed: UInt64) throws {
    fs = try makeFS(maxDescriptors: Self.maxDescriptors, byteQuota: Self.quota,
                    maxFileSize: Self.maxFileSize)
    random = SplitMix64(state: seed)
    for directory in ["/d", "/e"] {
      try fs.mkdir(directory)
      directories.insert(directory)
    }
  }

  mutating func perform(_ count: Int) throws {
    for i in 0..<count {
      step = i
      lastKind = ""
      tally.sawExpectedFailure = false
      try performOne()
      if !lastKind.isEmpty { tally.count(lastKind, failed: tally.sawExpectedFailure) }
      if i % 250 == 249 { try verifyEverything() }
    }
    for number in descriptors.keys.sorted() {
      try expectSuccess("final close \(number)") { () throws(Errno) in
        try fs.close(.init(rawValue: number))
      }
    }
    descriptors.removeAll()
    try verifyEverything()
    try check(fs.statistics.openDescriptors == 0, "descriptors left open")
  }

  // MARK: Operations

  mutating func performOne() throws {
    let roll = Int.random(in: 0..<100, using: &random)
    // Every step performs one operation: descriptor operations with nothing open open.
    if descriptors.isEmpty && (8..<83).contains(roll) { return try open() }
    switch roll {
    case 0..<12: try open()
    case 12..<20: try close()
    case 20..<38: try write(positional: false)
    case 38..<48: try write(positional: true)
    case 48..<62: try read(positional: false)
    case 62..<70: try read(positional: true)
    case 70..<76: try seek()
    case 76..<83: try truncate()
    case 83..<87: try unlink()
    case 87..<92: try rename()
    case 92..<94: try makeDirectory()
    case 94..<96: try removeDirectory()
    case 96..<97: try stat()
    case 97..<98: try setTimes()
    default: try badDescriptor()
    }
  }

  mutating func open() throws {
    let path = pick(Self.paths)
    let (spelled, detourError) = spell(path)
    let mode = pick([FileDescriptor.AccessMode.readOnly, .writeOnly, .readWrite])
    var options: FileDescriptor.OpenOptions = []
    if chance(80) { options.insert(.create) }
    if chance(10) { options.insert(.exclusiveCreate) }
    if chance(10) { options.insert(.truncate) }
    if chance(25) { options.insert(.append) }
    log("open \(spelled) \(mode.rawValue) \(options.rawValue)")
    let expected: Errno?
    let isDirectory = directories.contains(path)
    if descriptors.count >= Self.maxDescriptors {
      expected = .tooManyOpenFiles  // checked first, as the kernel does
    } else if let error = detourError ?? parentError(path) {
      expected = error
    } else if isDirectory && options.contains(.create) && options.contains(.exclusiveCreate) {
      expected = .fileExists
    } else if isDirectory
      && (options.contains(.create) || options.contains(.truncate) || mode != .readOnly) {
      // O_TRUNC asks for write access too (Linux: open("/tmp", O_RDONLY|O_TRUNC) is EISDIR).
      expected = .isDirectory
    } else if names[path] == nil && !isDirectory && !options.contains(.create) {
      expected = .noSuchFileOrDirectory
    } else if names[path] != nil && options.contains(.create) && options.contains(.exclusiveCreate) {
      expected = .fileExists
    } else {
      expected = nil
    }
    let result = capture { () throws(Errno) in try fs.open(spelled, mode, options: options) }
    if let expected { return try expectFailure(expected, result) }
    let descriptor = try unwrap(result)
    let lowestFree = (0...).first { descriptors[Int32($0)] == nil }!
    try check(descriptor.rawValue == Int32(lowestFree),
              "open returned \(descriptor), lowest free is \(lowestFree)")
    if isDirectory {
      // A directory opened read-only: reading it is EISDIR; then it is closed again.
      try expectFailure(.isDirectory, capture { () throws(Errno) in try fs.read(descriptor, upToCount: 1) })
      try expectSuccess("close directory") { () throws(Errno) in try fs.close(descriptor) }
      return
    }
    let file = names[path] ?? ModelFile()
    names[path] = file
    if options.contains(.truncate) { file.bytes = [] }
    descriptors[descriptor.rawValue] = ModelDescriptor(
      file: file, canRead: mode != .writeOnly, canWrite: mode != .readOnly,
      appends: options.contains(.append))
    try checkSize(descriptor)
  }

  mutating func close() throws {
    // Sorted: Dictionary order changes from run to run, the seed alone must decide.
    guard let number = descriptors.keys.sorted().randomElement(using: &random) else { return }
    log("close \(number)")
    try expectSuccess("close") { () throws(Errno) in try fs.close(.init(rawValue: number)) }
    descriptors[number] = nil
  }

  mutating func write(positional: Bool) throws {
    guard let (number, model) = pickDescriptor() else { return }
    let count = pickLength()
    let data = chance(70) ? text(count, seed: step) : noise(count, seed: UInt64(step) &+ 1)
    let at = positional ? pickOffset(model.file.bytes.count) : 0
    log("\(positional ? "pwrite" : "write") \(number) count \(count) at \(positional ? at : -1)")
    let descriptor = ErmFS.Descriptor(rawValue: number)
    let before = ErmFS.Timestamp.now()
    let result = capture { () throws(Errno) -> Int in
      positional ? try fs.pwrite(descriptor, bytes: data, at: Int64(at))
        : try fs.write(descriptor, bytes: data)
    }
    // Linux: a write on an O_APPEND descriptor goes to the end, pwrite too.
    let offset = model.appends ? model.file.bytes.count : positional ? at : model.offset
    if !model.canWrite { return try expectFailure(.badFileDescriptor, result) }
    if count == 0 { return try check(try unwrap(result) == 0, "empty write") }
    if offset >= Self.maxFileSize { return try expectFailure(.fileTooLarge, result) }
    // Linux: what fits below the size limit is written, the rest is a short count.
    let fits = min(count, Self.maxFileSize - offset)
    let written: Int
    switch result {
    case .failure(.noSpace):
      tally.sawExpectedFailure = true
      try checkNoRoom(forGrowingTo: max(model.file.bytes.count, offset + 1), "ENOSPC")
      tally.events["ENOSPC", default: 0] += 1
      written = 0
    case .failure(let error):
      throw FsxFailure(operation: step, message: "unexpected \(error)")
    case .success(let n):
      try check(n > 0 && n <= fits, "wrote \(n) of \(count) (\(fits) below the size limit)")
      if n < fits {
        try checkNoRoom(forGrowingTo: offset + n + 1, "short write of \(n)/\(fits)")
        tally.events["short write at the quota", default: 0] += 1
      } else if n < count {
        tally.events["short write at the size limit", default: 0] += 1
      }
      written = n
    }
    if written > 0 {
      if model.file.bytes.count < offset + written {
        model.file.bytes += [UInt8](repeating: 0, count: offset + written - model.file.bytes.count)
      }
      model.file.bytes.replaceSubrange(offset..<(offset + written), with: data[0..<written])
      if !positional { descriptors[number]!.offset = offset + written }
      let mtime = try unwrap(capture { () throws(Errno) in try fs.fstat(descriptor).modificationTime })
      try check(mtime >= before, "a write moves the modification time (\(mtime) < \(before))")
    }
    try checkSize(descriptor)
  }

  mutating func read(positional: Bool) throws {
    guard let (number, model) = pickDescriptor() else { return }
    let count = pickLength()
    let at = positional ? pickOffset(model.file.bytes.count) : model.offset
    log("\(positional ? "pread" : "read") \(number) count \(count) at \(at)")
    let descriptor = ErmFS.Descriptor(rawValue: number)
    let result = capture { () throws(Errno) -> [UInt8] in
      positional ? try fs.pread(descriptor, upToCount: count, at: Int64(at))
        : try fs.read(descriptor, upToCount: count)
    }
    if !model.canRead { return try expectFailure(.badFileDescriptor, result) }
    let size = model.file.bytes.count
    let expected = at >= size ? [] : Array(model.file.bytes[at..<min(size, at + count)])
    let got = try unwrap(result)
    try check(got == expected, "read \(got.count) bytes differ from the model's \(expected.count)")
    if !positional { descriptors[number]!.offset = at + got.count }
  }

  mutating func seek() throws {
    guard let (number, model) = pickDescriptor() else { return }
    let origin = pick([FileDescriptor.SeekOrigin.start, .current, .end])
    let distance = Int.random(in: -20_000...40_000, using: &random)
    log("lseek \(number) \(distance) from \(origin.rawValue)")
    let base = origin == .start ? 0 : origin == .current ? model.offset : model.file.bytes.count
    let result = capture { () throws(Errno) in
      try fs.lseek(.init(rawValue: number), offset: Int64(distance), from: origin)
    }
    if base + distance < 0 { return try expectFailure(.invalidArgument, result) }
    try check(try unwrap(result) == Int64(base + distance), "lseek result")
    descriptors[number]!.offset = base + distance
  }

  mutating func truncate() throws {
    guard let (number, model) = pickDescriptor() else { return }
    let size = chance(20) ? 0 : pickOffset(model.file.bytes.count)
    log("ftruncate \(number) \(size)")
    let descriptor = ErmFS.Descriptor(rawValue: number)
    let result = capture { () throws(Errno) in try fs.ftruncate(descriptor, to: Int64(size)) }
    if !model.canWrite { return try expectFailure(.invalidArgument, result) }
    if size > Self.maxFileSize { return try expectFailure(.fileTooLarge, result) }
    if case .failure(.noSpace) = result {
      tally.sawExpectedFailure = true
      return try checkNoRoom(forGrowingTo: max(size, model.file.bytes.count), "ftruncate ENOSPC")
    }
    try unwrap(result)
    if size < model.file.bytes.count {
      model.file.bytes.removeSubrange(size...)
    } else {
      model.file.bytes += [UInt8](repeating: 0, count: size - model.file.bytes.count)
    }
    try checkSize(descriptor)
  }

  mutating func unlink() throws {
    let path = pick(Self.paths)
    let (spelled, detourError) = spell(path)
    log("unlink \(spelled)")
    let result = capture { () throws(Errno) in try fs.unlink(spelled) }
    if let error = detourError ?? parentError(path) { return try expectFailure(error, result) }
    if directories.contains(path) { return try expectFailure(.isDirectory, result) }
    if names[path] == nil { return try expectFailure(.noSuchFileOrDirectory, result) }
    try unwrap(result)
    names[path] = nil
  }

  mutating func rename() throws {
    let source = pick(Self.paths)
    let destination = pick(Self.paths)
    log("rename \(source) \(destination)")
    let result = capture { () throws(Errno) in try fs.rename(source, to: destination) }
    // Linux walks both parents before it looks for the source (do_renameat2).
    if let error = parentError(source) ?? parentError(destination) { return try expectFailure(error, result) }
    let movingDirectory = directories.contains(source)
    guard movingDirectory || names[source] != nil else {
      return try expectFailure(.noSuchFileOrDirectory, result)
    }
    if source == destination { return try unwrap(result) }
    if movingDirectory && destination.hasPrefix(source + "/") {
      return try expectFailure(.invalidArgument, result)
    }
    // The destination is a directory above the source: Linux says ENOTEMPTY.
    if source.hasPrefix(destination + "/") { return try expectFailure(.directoryNotEmpty, result) }
    if movingDirectory && names[destination] != nil { return try expectFailure(.notDirectory, result) }
    if movingDirectory && directories.contains(destination) && !isEmptyDirectory(destination) {
      return try expectFailure(.directoryNotEmpty, result)
    }
    if !movingDirectory && directories.contains(destination) { return try expectFailure(.isDirectory, result) }
    try unwrap(result)
    if movingDirectory {
      directories.remove(destination)
      let prefix = source + "/"
      for directory in directories where directory == source || directory.hasPrefix(prefix) {
        directories.remove(directory)
        directories.insert(destination + directory.dropFirst(source.count))
      }
      for (path, file) in names where path.hasPrefix(prefix) {
        names[path] = nil
        names[destination + path.dropFirst(source.count)] = file
      }
    } else {
      let file = names[source]!
      names[source] = nil
      names[destination] = file
    }
  }

  mutating func makeDirectory() throws {
    let path = pick(Self.paths)
    let (detoured, detourError) = spell(path)
    let spelled = chance(20) ? detoured + "/" : detoured  // mkdir takes a trailing slash
    log("mkdir \(spelled)")
    let result = capture { () throws(Errno) in try fs.mkdir(spelled) }
    if let error = detourError ?? parentError(path) { return try expectFailure(error, result) }
    if names[path] != nil || directories.contains(path) { return try expectFailure(.fileExists, result) }
    try unwrap(result)
    directories.insert(path)
  }

  mutating func removeDirectory() throws {
    let path = pick(Self.paths)
    let (detoured, detourError) = spell(path)
    let spelled = chance(20) ? detoured + "/" : detoured
    log("rmdir \(spelled)")
    let result = capture { () throws(Errno) in try fs.rmdir(spelled) }
    if let error = detourError ?? parentError(path) { return try expectFailure(error, result) }
    if names[path] != nil { return try expectFailure(.notDirectory, result) }
    if !directories.contains(path) { return try expectFailure(.noSuchFileOrDirectory, result) }
    if !isEmptyDirectory(path) { return try expectFailure(.directoryNotEmpty, result) }
    try unwrap(result)
    directories.remove(path)
  }

  /// Another spelling of `path` with a detour at its start: `/./`, or `/X/..` where X is
  /// an existing directory (same target), a file (ENOTDIR) or missing (ENOENT). The model
  /// predicts the detour's error; ErmFS must walk it as Linux does, not erase it as text.
  mutating func spell(_ path: String) -> (String, Errno?) {
    switch Int.random(in: 0..<10, using: &random) {
    case 0..<5:
      return (path, nil)
    case 5..<7:
      return ("/." + path, nil)
    default:
      let detour = pick(["d", "e", "a", "b", "zz"])
      let error: Errno? = directories.contains("/" + detour) ? nil
        : names["/" + detour] != nil ? .notDirectory : .noSuchFileOrDirectory
      return ("/\(detour)/.." + path, error)
    }
  }

  /// A write or truncate refused for room: the quota must really have none left for it.
  func checkNoRoom(forGrowingTo size: Int, _ what: String) throws {
    let free = Self.quota - fs.statistics.storedBytes
    try check(free >= 0, "stored bytes \(fs.statistics.storedBytes) above the quota")
    try check(free < pages(size), "\(what) with \(free) bytes of quota free (needed at most \(pages(size)))")
  }

  /// What resolving the directories above `path` fails with (walking from the root).
  func parentError(_ path: String) -> Errno? {
    var prefix = ""
    for component in path.split(separator: "/").dropLast() {
      prefix += "/" + component
      if names[prefix] != nil { return .notDirectory }
      if !directories.contains(prefix) { return .noSuchFileOrDirectory }
    }
    return nil
  }

  func isEmptyDirectory(_ path: String) -> Bool {
    let prefix = path + "/"
    return !names.keys.contains { $0.hasPrefix(prefix) } && !directories.contains { $0.hasPrefix(prefix) }
  }

  mutating func stat() throws {
    let path = pick(Self.paths)
    let (detoured, detourError) = spell(path)
    let slash = chance(15)
    let spelled = slash ? detoured + "/" : detoured
    log("stat \(spelled)")
    let result = capture { () throws(Errno) in try fs.stat(spelled) }
    if let error = detourError ?? parentError(path) { return try expectFailure(error, result) }
    if directories.contains(path) {
      return try check(try unwrap(result).type == .directory, "stat type of \(path)")
    }
    guard let file = names[path] else { return try expectFailure(.noSuchFileOrDirectory, result) }
    if slash { return try expectFailure(.notDirectory, result) }  // a file named with a trailing /
    let status = try unwrap(result)
    try check(status.size == Int64(file.bytes.count), "stat size \(status.size) != \(file.bytes.count)")
    try check(status.linkCount == 1, "stat link count")
  }

  /// `utimens` with explicit times, read back exactly: seconds and nanoseconds apart,
  /// including times no 64-bit nanosecond count can hold.
  mutating func setTimes() throws {
    let path = pick(Self.paths)
    let access = ErmFS.Timestamp(seconds: pick([0, 1_000, 10_000_000_000, -86_400, Int64.max / 2]),
                                 nanoseconds: Int64.random(in: 0..<1_000_000_000, using: &random))
    let modification = ErmFS.Timestamp(seconds: pick([5, 1_700_000_000, 20_000_000_000, -1]),
                                       nanoseconds: Int64.random(in: 0..<1_000_000_000, using: &random))
    log("utimens \(path) \(access) \(modification)")
    let result = capture { () throws(Errno) in
      try fs.utimens(path, access: .set(access), modification: .set(modification))
    }
    if let error = parentError(path) { return try expectFailure(error, result) }
    guard names[path] != nil || directories.contains(path) else {
      return try expectFailure(.noSuchFileOrDirectory, result)
    }
    try unwrap(result)
    let status = try unwrap(capture { () throws(Errno) in try fs.stat(path) })
    try check(status.accessTime == access, "atime \(status.accessTime) != \(access)")
    try check(status.modificationTime == modification, "mtime \(status.modificationTime) != \(modification)")
  }

  mutating func badDescriptor() throws {
    let start = Int32.random(in: 0..<Int32(Self.maxDescriptors + 2), using: &random)
    let number = (start...).first { descriptors[$0] == nil }!
    log("read of closed \(number)")
    try expectFailure(.badFileDescriptor,
                      capture { () throws(Errno) in try fs.read(.init(rawValue: number), upToCount: 1) })
  }

  // MARK: Checks

  func checkSize(_ descriptor: ErmFS.Descriptor) throws {
    let model = descriptors[descriptor.rawValue]!
    let size = try unwrap(capture { () throws(Errno) in try fs.fstat(descriptor).size })
    try check(size == Int64(model.file.bytes.count), "fstat size \(size) != \(model.file.bytes.count)")
  }

  /// Every name's full contents (through the export seam), the directory listings and
  /// the statistics.
  mutating func verifyEverything() throws {
    let throughGzip = step % 2000 == 1999
    for (path, file) in names.sorted(by: { $0.key < $1.key }) {
      try check(try readInPieces(path) == file.bytes, "contents of \(path) differ from the model")
      if throughGzip, let stream = try unwrap(capture { () throws(Errno) in try fs.storedGzipStream(path) }) {
        try check(try gunzipWithSystemGzip(stream) == file.bytes,
                  "gzip -d of \(path)'s stored bytes differs from the model")
      }
    }
    try check(fs.statistics.storedBytes <= Self.quota, "stored bytes above the quota")
    for directory in directories {
      let listed = try unwrap(capture { () throws(Errno) in try fs.readdir(directory) })
        .map { (directory == "/" ? "/" : directory + "/") + $0.name + ($0.type == .directory ? "/" : "") }
      let prefix = directory == "/" ? "/" : directory + "/"
      let children = names.keys.map { $0 } + directories.filter { $0 != "/" }.map { $0 + "/" }
      let expected = children.filter {
        $0 != prefix && $0.hasPrefix(prefix)
          && !$0.dropFirst(prefix.count).dropLast($0.hasSuffix("/") ? 1 : 0).contains("/")
      }.sorted()
      try check(listed.sorted() == expected, "readdir \(directory): \(listed) != \(expected)")
    }
    var live: [ObjectIdentifier: Int] = [:]
    for file in names.values { live[ObjectIdentifier(file)] = file.bytes.count }
    for descriptor in descriptors.values { live[ObjectIdentifier(descriptor.file)] = descriptor.file.bytes.count }
    let statistics = fs.statistics
    try check(statistics.files == names.count, "statistics files \(statistics.files) != \(names.count)")
    try check(statistics.directories == directories.count - 1, "statistics directories")
    try check(statistics.logicalBytes == live.values.reduce(0, +),
              "statistics logical bytes \(statistics.logicalBytes) != \(live.values.reduce(0, +))")
    try check(statistics.openDescriptors == descriptors.count, "statistics descriptors")
  }

  /// The whole file through a new descriptor, in random-sized preads at random order.
  mutating func readInPieces(_ path: String) throws -> [UInt8] {
    guard descriptors.count < Self.maxDescriptors else {
      // No descriptor to spare: the export seam instead.
      return try unwrap(capture { () throws(Errno) -> [UInt8] in
        try fs.withContents(ofPath: path) { (contents) throws(Errno) -> [UInt8] in
          try contents.bytes(0..<contents.logicalSize)
        }
      })
    }
    let descriptor = try unwrap(capture { () throws(Errno) in try fs.open(path, .readOnly) })
    defer { try? fs.close(descriptor) }
    let size = Int(try unwrap(capture { () throws(Errno) in try fs.fstat(descriptor).size }))
    var pieces: [Range<Int>] = []
    var offset = 0
    while offset < size {
      let count = min(size - offset, Int.random(in: 1...(2 * testChunkSize), using: &random))
      pieces.append(offset..<(offset + count))
      offset += count
    }
    var bytes = [UInt8](repeating: 0xA5, count: size)
    for piece in pieces.shuffled(using: &random) {
      let got = try unwrap(capture { () throws(Errno) in
        try fs.pread(descriptor, upToCount: piece.count, at: Int64(piece.lowerBound))
      })
      try check(got.count == piece.count, "pread of \(piece) in \(path) returned \(got.count) bytes")
      bytes.replaceSubrange(piece, with: got)
    }
    return bytes
  }

  // MARK: Helpers

  func capture<R>(_ body: () throws(Errno) -> R) -> Result<R, Errno> {
    do throws(Errno) { return .success(try body()) } catch { return .failure(error) }
  }

  @discardableResult
  func unwrap<R>(_ result: Result<R, Errno>) throws -> R {
    switch result {
    case .success(let value): return value
    case .failure(let error): throw FsxFailure(operation: step, message: "unexpected \(error)")
    }
  }

  func expectFailure<R>(_ expected: Errno, _ result: Result<R, Errno>) throws {
    tally.sawExpectedFailure = true
    switch result {
    case .success(let value):
      throw FsxFailure(operation: step, message: "expected \(expected), got \(value)")
    case .failure(let error):
      try check(error == expected, "expected \(expected), got \(error)")
    }
  }

  func expectSuccess(_ what: String, _ body: () throws(Errno) -> Void) throws {
    try unwrap(capture(body))
  }

  func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw FsxFailure(operation: step, message: message()) }
  }

  mutating func log(_ line: String) {
    log.append("#\(step) \(line)")
    lastKind = String(line.prefix { $0 != " " })
    if log.count > 64 { log.removeFirst(32) }
  }

  mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
  mutating func pick<T>(_ items: [T]) -> T { items.randomElement(using: &random)! }

  mutating func pickDescriptor() -> (Int32, ModelDescriptor)? {
    guard let number = descriptors.keys.sorted().randomElement(using: &random) else { return nil }
    return (number, descriptors[number]!)
  }

  /// Mostly small, sometimes a few chunks, rarely empty.
  mutating func pickLength() -> Int {
    switch Int.random(in: 0..<20, using: &random) {
    case 0: return 0
    case 1..<12: return Int.random(in: 1...1500, using: &random)
    case 12..<18: return Int.random(in: 1...(3 * testChunkSize), using: &random)
    default: return Int.random(in: 1...(6 * testChunkSize), using: &random)
    }
  }

  /// Near the end of the file, sometimes past it, rarely beyond the size limit.
  mutating func pickOffset(_ size: Int) -> Int {
    switch Int.random(in: 0..<20, using: &random) {
    case 0: return Int.random(in: (Self.maxFileSize - 2000)...(Self.maxFileSize + 2000), using: &random)
    case 1..<4: return size + Int.random(in: 0...8000, using: &random)
    default: return Int.random(in: 0...max(size, 1), using: &random)
    }
  }
}
