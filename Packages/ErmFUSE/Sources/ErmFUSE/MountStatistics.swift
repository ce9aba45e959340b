import CErmFUSE
import ErmCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a running mount holds, as the read-only extended attribute `user.ermfs.stats` of
/// its root directory reports it (`getfattr -n user.ermfs.stats DIR`, or
/// `ermfs-tool stats DIR`): one `key value` line each, requests as `requests.<name> N`.
public struct MountStatistics: Sendable, Hashable {
  /// The daemon's process id.
  public var processID: Int32
  public var files: Int
  public var directories: Int
  /// Sum of the logical sizes of the contents held.
  public var logicalBytes: Int
  /// Memory those contents hold (ErmCore's `storedBytes`).
  public var storedBytes: Int
  /// Per-descriptor chunk caches.
  public var cacheBytes: Int
  public var openDescriptors: Int
  /// Inodes the kernel holds lookups on (the root included).
  public var rememberedInodes: Int
  /// Inodes with a descriptor open for writing.
  public var inodesOpenForWriting: Int
  /// The allocator's live and reserved bytes and its regions.
  public var allocatorLiveBytes: Int
  public var allocatorReservedBytes: Int
  public var allocatorRegions: Int
  /// The daemon's resident set (`/proc/self/statm`), in bytes.
  public var residentBytes: Int
  /// The daemon's private memory (`RssAnon` of /proc/self/status): file contents, heap
  /// and stacks, without the program's code and libraries (`RssFile`, shared).
  public var anonymousBytes: Int
  /// The daemon's malloc heap: bytes handed out and not freed (`mallinfo2`).
  public var heapInUseBytes: Int
  /// Requests received per FUSE operation name (`lookup`, `read`, ...).
  public var requests: [String: UInt64]
  /// Agreed in FUSE_INIT.
  public var maxWrite: Int
  public var writebackCache: Bool

  /// Stored bytes ÷ logical bytes (1 when empty).
  public var ratio: Double { logicalBytes == 0 ? 1 : Double(storedBytes) / Double(logicalBytes) }

  init(fs: ErmFS, rememberedInodes: Int, requests: [UInt32: UInt64], connection: ermfuse_connection?,
       writers: Int) {
    let s = fs.statistics
    processID = getpid()
    files = s.files
    directories = s.directories
    logicalBytes = s.logicalBytes
    storedBytes = s.storedBytes
    cacheBytes = s.cacheBytes
    openDescriptors = s.openDescriptors
    self.rememberedInodes = rememberedInodes
    inodesOpenForWriting = writers
    allocatorLiveBytes = s.allocator.bytesLive
    allocatorReservedBytes = s.allocator.bytesReserved
    allocatorRegions = s.allocator.regions
    residentBytes = MountStatistics.residentBytes()
    heapInUseBytes = ermfuse_heap_in_use()
    anonymousBytes = MountStatistics.statusField("RssAnon:")
    var named: [String: UInt64] = [:]
    for (opcode, count) in requests { named[MountStatistics.opcodeNames[opcode] ?? "op\(opcode)"] = count }
    self.requests = named
    maxWrite = Int(connection?.max_write ?? 0)
    writebackCache = (connection?.want ?? 0) & OperationTable.writebackCacheCapability != 0
  }

  /// Parses the attribute's text; nil when a required line is missing.
  public init?(text: String) {
    var values: [String: String] = [:]
    var requests: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1)
      guard parts.count == 2 else { continue }
      let key = String(parts[0])
      if key.hasPrefix("requests.") {
        requests[String(key.dropFirst("requests.".count))] = UInt64(parts[1])
      } else {
        values[key] = String(parts[1])
      }
    }
    func int(_ key: String) -> Int? { values[key].flatMap { Int($0) } }
    guard let pid = int("pid"), let files = int("files"), let directories = int("directories"),
          let logical = int("logical_bytes"), let stored = int("stored_bytes"),
          let cache = int("cache_bytes"), let open = int("open_descriptors"),
          let remembered = int("remembered_inodes"), let writers = int("inodes_open_for_writing"),
          let live = int("allocator_live_bytes"), let reserved = int("allocator_reserved_bytes"),
          let regions = int("allocator_regions"), let rss = int("daemon_rss_bytes"),
          let heapInUse = int("heap_in_use_bytes"), let anonymous = int("daemon_anon_bytes"),
          let maxWrite = int("max_write"), let writeback = int("writeback_cache") else { return nil }
    processID = Int32(pid)
    self.files = files
    self.directories = directories
    logicalBytes = logical
    storedBytes = stored
    cacheBytes = cache
    openDescriptors = open
    rememberedInodes = remembered
    inodesOpenForWriting = writers
    allocatorLiveBytes = live
    allocatorReservedBytes = reserved
    allocatorRegions = regions
    residentBytes = rss
    heapInUseBytes = heapInUse
    anonymousBytes = anonymous
    self.requests = requests
    self.maxWrite = maxWrite
    writebackCache = writeback != 0
  }

  /// Reads a running mount's statistics from its root (`getxattr`).
  ///
  /// - Parameter mountPoint: the mount point.
  /// - Throws: ENOTCONN (the daemon is gone), ENODATA or EOPNOTSUPP (not an ERMFS
  ///   mount), EBADMSG (unreadable text), or what getxattr reports (ENOENT, EACCES...).
  public static func read(from mountPoint: String) throws(Errno) -> MountStatistics {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let n = buffer.withUnsafeMutableBytes {
      ermfuse_getxattr(mountPoint, "user.ermfs.stats", $0.baseAddress, $0.count)
    }
    guard n >= 0 else { throw Errno(rawValue: errno) }
    guard let stats = MountStatistics(text: String(decoding: buffer[0..<n], as: UTF8.self)) else {
      throw .badMessage
    }
    return stats
  }

  /// The attribute's text.
  public var text: String {
    var lines = [
      "pid \(processID)", "files \(files)", "directories \(directories)",
      "logical_bytes \(logicalBytes)", "stored_bytes \(storedBytes)",
      "ratio \(String(format3: ratio))", "cache_bytes \(cacheBytes)",
      "open_descriptors \(openDescriptors)", "remembered_inodes \(rememberedInodes)",
      "inodes_open_for_writing \(inodesOpenForWriting)",
      "allocator_live_bytes \(allocatorLiveBytes)", "allocator_reserved_bytes \(allocatorReservedBytes)",
      "allocator_regions \(allocatorRegions)", "daemon_rss_bytes \(residentBytes)",
      "daemon_anon_bytes \(anonymousBytes)", "heap_in_use_bytes \(heapInUseBytes)",
      "max_write \(maxWrite)", "writeback_cache \(writebackCache ? 1 : 0)",
    ]
    for name in requests.keys.sorted() { lines.append("requests.\(name) \(requests[name]!)") }
    return lines.joined(separator: "\n") + "\n"
  }

  /// This process's resident set in bytes (second field of `/proc/self/statm`, in pages).
  static func residentBytes() -> Int {
    let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return 0 }
    let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }

  /// A `kB` line of /proc/self/status, in bytes (0 when missing).
  static func statusField(_ key: String) -> Int {
    guard let text = MountTable.readWholeFile("/proc/self/status") else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(key) {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
    }
    return 0
  }

  /// FUSE opcodes (linux/fuse.h) by name.
  static let opcodeNames: [UInt32: String] = [
    1: "lookup", 2: "forget", 3: "getattr", 4: "setattr", 5: "readlink", 6: "symlink",
    8: "mknod", 9: "mkdir", 10: "unlink", 11: "rmdir", 12: "rename", 13: "link", 14: "open",
    15: "read", 16: "write", 17: "statfs", 18: "release", 20: "fsync", 21: "setxattr",
    22: "getxattr", 23: "listxattr", 24: "removexattr", 25: "flush", 26: "init",
    27: "opendir", 28: "readdir", 29: "releasedir", 35: "create", 42: "batch_forget",
    43: "fallocate", 44: "readdirplus", 45: "rename2", 46: "lseek", 47: "copy_file_range",
  ]
}

extension String {
  /// A number with three decimals, without Foundation.
  init(format3 value: Double) {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(abs(thousandths) % 1000)
    self = "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
  }
}
