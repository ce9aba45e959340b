import ErmAlloc
import ErmCompress
import Synchronization
import SystemPackage

/// A RAM-native file system: files live in memory, are gzip-compressed when their last
/// descriptor closes, and are decompressed chunk by chunk when read again.
///
/// Two front doors share one implementation. The path API (`open("/a/b")`, `stat`, ...)
/// follows POSIX and swift-system: every call names its C function, takes swift-system's
/// `AccessMode`/`OpenOptions`/`FilePermissions`/`SeekOrigin` and throws an `Errno`, with
/// Linux's errno for each failure and in Linux's order. Paths are absolute (a relative
/// path is EINVAL) and walked component by component as Linux walks them (`..` of the
/// root is the root; symbolic links are followed). The inode API (`lookup(in:named:)`,
/// `status(of:)`, `create(in:named:...)`, ...) is what a FUSE adapter speaks; the path
/// calls walk to an inode and end in the same rules.
///
/// Permission bits and owners are stored and reported but not enforced: a FUSE mount
/// lets the kernel enforce them (`default_permissions`). All calls are thread-safe.
/// Deliberate differences from Linux are listed in docs/decisions/core-semantics.md.
public final class ErmFS: Sendable {
  /// The configuration this instance was created with.
  public let configuration: Configuration

  let namespace: LockedNamespace
  let descriptors: any DescriptorTable
  let storage: FileStorage
  let accounting: Accounting
  let inodes: InodeTable

  /// Creates an empty file system (just the root directory, mode 0755, owned by
  /// `configuration.owner`).
  ///
  /// - Parameter configuration: limits and compression settings.
  /// - Throws: EINVAL when a limit is out of range (`maxDescriptors` not in
  ///   `1...Int32.max`, a negative quota or maximum file size, a `chunkSize` outside
  ///   `ChunkedGzip.supportedChunkSizes`).
  public init(configuration: Configuration = Configuration()) throws(Errno) {
    guard configuration.maxDescriptors >= 1, configuration.maxDescriptors <= Int(Int32.max),
          (configuration.byteQuota ?? 0) >= 0, configuration.maxFileSize >= 0 else { throw .invalidArgument }
    let chunked = try configuration.makeChunkedGzip()
    var background: BackgroundCompressor? = nil
    if case .background(let maxPendingBytes) = configuration.compression {
      guard maxPendingBytes >= 0 else { throw .invalidArgument }
      background = BackgroundCompressor(maxPendingBytes: maxPendingBytes)
    }
    self.configuration = configuration
    self.accounting = Accounting(quota: configuration.byteQuota ?? Int.max)
    let root = Inode(number: InodeNumber.root.rawValue, type: .directory, permissions: 0o755,
                     owner: configuration.owner, now: .now())
    self.namespace = LockedNamespace(root: root)
    self.inodes = InodeTable(root: root)
    self.descriptors = LockedDescriptorTable(limit: configuration.maxDescriptors)
    self.storage = FileStorage(
      chunked: chunked, pool: configuration.pool, allocator: configuration.allocator,
      accounting: accounting, maxFileSize: configuration.maxFileSize, background: background)
  }

  deinit { storage.background?.stop() }

  /// Returns once every compression queued by `.background` mode before the call has
  /// finished (at once in `.onClose` mode): for tests, benchmarks, and before exit.
  public func waitForBackgroundCompression() {
    storage.background?.waitUntilIdle()
  }

  // MARK: Shared plumbing

  func openFile(_ descriptor: Descriptor) throws(Errno) -> OpenFile {
    guard let file = descriptors.file(for: descriptor.rawValue) else { throw .badFileDescriptor }
    return file
  }

  /// Parses an absolute path (the path API refuses relative ones: EINVAL).
  func parse(_ path: String) throws(Errno) -> ParsedPath {
    let parsed = try ParsedPath(path)
    guard parsed.isAbsolute else { throw .invalidArgument }
    return parsed
  }

  /// The inode an absolute path names, following a final symbolic link unless told not to.
  func resolve(_ path: String, followLast: Bool = true) throws(Errno) -> Inode {
    let parsed = try parse(path)
    return try namespace.withTree { (tree) throws(Errno) in try tree.resolve(parsed, followLast: followLast) }
  }

  /// Drops one open reference; the last one compresses a modified file that still has a
  /// name, or frees one nothing refers to any more.
  func releaseOpenReference(_ inode: Inode) {
    let remaining = inode.openCount.subtract(1, ordering: .sequentiallyConsistent).newValue
    guard remaining == 0, inode.isRegular else { return }
    if isUnreferenced(inode) {
      storage.release(inode)
    } else if inode.linkCount.load(ordering: .sequentiallyConsistent) > 0 {
      storage.compress(inode)
    }
  }

  /// Frees a file's memory once no name, descriptor or kernel lookup refers to it. Every
  /// path that drops one of the three counts calls this after dropping it; the counts
  /// are sequentially consistent, so the last of them sees all three at zero, and
  /// `release` is idempotent when two do.
  func releaseIfUnreferenced(_ inode: Inode) {
    guard inode.isRegular, isUnreferenced(inode) else { return }
    storage.release(inode)
  }

  private func isUnreferenced(_ inode: Inode) -> Bool {
    inode.linkCount.load(ordering: .sequentiallyConsistent) == 0
      && inode.openCount.load(ordering: .sequentiallyConsistent) == 0
      && inode.lookupCount.load(ordering: .sequentiallyConsistent) == 0
  }

  // MARK: Statistics

  /// What the file system holds now. Exact when no call is in flight.
  public var statistics: Statistics {
    let counts = namespace.counts
    return Statistics(
      files: counts.files, directories: counts.directories,
      logicalBytes: accounting.logicalBytes.load(ordering: .relaxed),
      storedBytes: accounting.storedBytes.load(ordering: .relaxed),
      cacheBytes: accounting.cacheBytes.load(ordering: .relaxed),
      openDescriptors: descriptors.count,
      allocator: configuration.allocator.statistics)
  }
}
