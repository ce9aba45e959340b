import CErmFUSE

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a mount talks to the kernel: caching, request sizes, threads and `-o` options.
/// The defaults are the ones measured best in docs/decisions/fuse-caching.md and
/// fuse-threading.md.
public struct MountOptions: Sendable, Hashable {
  /// How `readdir` answers.
  public enum DirectoryListing: Sendable, Hashable {
    /// Names only (`FUSE_READDIR`); attributes come by separate lookups.
    case names
    /// Names with attributes and a lookup each (`FUSE_READDIRPLUS`), always.
    case namesAndAttributes
    /// The kernel picks per call (`FUSE_CAP_READDIRPLUS_AUTO`).
    case adaptive
  }

  /// Seconds the kernel may keep a name -> inode answer without asking again.
  public var entryTimeout: Double
  /// Seconds the kernel may keep an inode's attributes.
  public var attributeTimeout: Double
  /// Seconds the kernel may remember that a name does not exist (0: never).
  public var negativeTimeout: Double
  /// `FUSE_CAP_WRITEBACK_CACHE`: writes land in the page cache and reach ErmFS in pages,
  /// and the kernel keeps mtime and size itself. Off by default (measured no faster here,
  /// and it makes one POSIX difference: see docs/decisions/fuse-caching.md).
  public var writebackCache: Bool
  /// `FOPEN_KEEP_CACHE`: opening an unchanged file keeps its cached pages.
  public var keepCache: Bool
  /// After the last release of a modified file (when ErmFS compresses it), drop the
  /// kernel's cached pages of it so its memory is the compressed copy alone.
  public var dropCacheOnCompress: Bool
  /// Replies through pipes (`FUSE_CAP_SPLICE_*`).
  public var splice: Bool
  /// Largest write request in bytes (0: libfuse's, 1 MiB with `max_pages` 256).
  public var maxWrite: UInt32
  /// Largest readahead in bytes (0: what the kernel offers).
  public var maxReadahead: UInt32
  /// Background requests (readahead, async direct I/O) in flight (0: kernel default 12).
  public var maxBackground: UInt32
  /// Readahead window set on the mount's backing device after mounting
  /// (`/sys/class/bdi/<dev>/read_ahead_kb`); nil leaves the kernel's 128 KiB.
  public var readAheadKiB: Int?
  public var directoryListing: DirectoryListing
  /// Worker threads serving requests (`fuse_loop_cfg_set_max_threads`).
  public var threads: Int
  /// One /dev/fuse descriptor per worker.
  public var cloneFD: Bool
  /// Let other users than the mounting one in (`allow_other`); with
  /// `default_permissions` the kernel still enforces mode bits.
  public var allowOther: Bool
  /// More `-o` options for libfuse and the kernel (e.g. `"max_read=131072"`).
  public var extraOptions: [String]

  /// One worker per online core, at least 2 (docs/decisions/fuse-threading.md).
  public static var defaultThreads: Int {
    max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
  }

  /// - Parameters: see the properties; the defaults are the measured choices.
  public init(entryTimeout: Double = 86_400, attributeTimeout: Double = 86_400,
              negativeTimeout: Double = 86_400, writebackCache: Bool = false, keepCache: Bool = true,
              dropCacheOnCompress: Bool = true, splice: Bool = false, maxWrite: UInt32 = 0,
              maxReadahead: UInt32 = 0, maxBackground: UInt32 = 0, readAheadKiB: Int? = 1024,
              directoryListing: DirectoryListing = .adaptive, threads: Int = MountOptions.defaultThreads,
              cloneFD: Bool = false, allowOther: Bool = false, extraOptions: [String] = []) {
    self.entryTimeout = entryTimeout
    self.attributeTimeout = attributeTimeout
    self.negativeTimeout = negativeTimeout
    self.writebackCache = writebackCache
    self.keepCache = keepCache
    self.dropCacheOnCompress = dropCacheOnCompress
    self.splice = splice
    self.maxWrite = maxWrite
    self.maxReadahead = maxReadahead
    self.maxBackground = maxBackground
    self.readAheadKiB = readAheadKiB
    self.directoryListing = directoryListing
    self.threads = threads
    self.cloneFD = cloneFD
    self.allowOther = allowOther
    self.extraOptions = extraOptions
  }

  /// The `-o` options given to libfuse: the file system's name and type, the kernel's
  /// permission checks, `allow_other` when asked, then `extraOptions`.
  public var fuseOptions: [String] {
    var options = ["fsname=ermfs", "subtype=ermfs", "default_permissions"]
    if allowOther { options.append("allow_other") }
    return options + extraOptions
  }

  var config: ermfuse_config {
    var c = ermfuse_config()
    c.entry_timeout = entryTimeout
    c.attr_timeout = attributeTimeout
    c.negative_timeout = negativeTimeout
    c.writeback_cache = writebackCache ? 1 : 0
    c.keep_cache = keepCache ? 1 : 0
    c.splice = splice ? 1 : 0
    c.max_write = maxWrite
    c.max_readahead = maxReadahead
    c.max_background = maxBackground
    switch directoryListing {
    case .names: c.readdirplus = 0
    case .namesAndAttributes: c.readdirplus = 1
    case .adaptive: c.readdirplus = 2
    }
    c.max_threads = UInt32(max(1, threads))
    c.max_idle_threads = -1
    c.clone_fd = cloneFD ? 1 : 0
    return c
  }
}
