import ErmAlloc
import ErmCompress
import ErmLockless
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
/// lets the kernel enforce them (`default_permissions`). All calls are thread-safe; the
/// tree and descriptor table are locked or lock-free (`Configuration.locking`,
/// `setLocklessMode`), with the same answers either way.
/// Deliberate differences from Linux are listed in docs/decisions/core-semantics.md.
public final class ErmFS: Sendable {
  /// The configuration this instance was created with.
  public let configuration: Configuration

  let storage: FileStorage
  let accounting: Accounting
  let inodes: InodeTable
  let lifetime: InodeLifetime
  /// Where this file system's lock-free structures retire what they remove.
  let domain = EpochDomain()
  /// The current `FileSystemBackend` (an `Unmanaged` pointer holding a +1); replaced by
  /// `setLocklessMode`, the old one retired into `domain`.
  private let backendBits: Atomic<UInt>
  /// One switch of locking mode at a time (never taken by any other call).
  private let switching = Mutex<Void>(())

  /// Creates an empty file system (just the root directory, mode 0755, owned by
  /// `configuration.owner`).
  ///
  /// - Parameter configuration: limits and compression settings.
  /// - Throws: EINVAL when a limit is out of range (`maxDescriptors` not in
  ///   `1...Int32.max`, or above 16,777,216 in the lock-free mode; a negative quota or
  ///   maximum file size; a `chunkSize` outside `ChunkedGzip.supportedChunkSizes`).
  public init(configuration: Configuration = Configuration()) throws(Errno) {
    guard configuration.maxDescriptors >= 1, configuration.maxDescriptors <= Int(Int32.max),
          (configuration.byteQuota ?? 0) >= 0, configuration.maxFileSize >= 0 else { throw .invalidArgument }
    if configuration.locking == .lockless && configuration.maxDescriptors > SlotDescriptorTable.maximumCapacity {
      throw .invalidArgument
    }
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
    self.storage = FileStorage(
      chunked: chunked, pool: configuration.pool, allocator: configuration.allocator,
      accounting: accounting, maxFileSize: configuration.maxFileSize, background: background)
    self.lifetime = InodeLifetime(storage: storage)
    self.inodes = InodeTable(root: root, domain: domain)
    let backend = FileSystemBackend(configuration.locking, root: root, limit: configuration.maxDescriptors,
                                    domain: domain, lifetime: lifetime)
    backendBits = Atomic(UInt(bitPattern: Unmanaged.passRetained(backend).toOpaque()))
  }

  deinit {
    storage.background?.stop()
    Unmanaged<FileSystemBackend>.fromOpaque(UnsafeRawPointer(bitPattern: backendBits.load(ordering: .acquiring))!)
      .release()
  }

  /// Returns once every compression queued by `.background` mode before the call has
  /// finished (at once in `.onClose` mode): for tests, benchmarks, and before exit.
  public func waitForBackgroundCompression() {
    storage.background?.waitUntilIdle()
  }

  /// Frees what the lock-free structures retired and no thread can still see: removed
  /// names and descriptions, the old tables of hash maps that grew or shrank. It is freed
  /// anyway as threads keep working; a server calls this when it goes idle so that
  /// memory comes back then too (ErmFUSE: after each quiet second). Waits for calls in
  /// progress on other threads to finish (an epoch grace period); must not be called
  /// from inside a call on this file system.
  public func reclaimRetiredMemory() {
    domain.synchronize()
  }

  // MARK: Backend

  /// Runs `body` with the current backend, pinned in `domain` so a switch of locking mode
  /// can neither free the backend under it nor miss it (the switch marks the old backend
  /// retired, then waits for a grace period: a call either sees the mark, or is waited
  /// for). A call that sees the mark waits, unpinned, for the new backend.
  @inline(__always)
  func withBackend<R>(_ body: (FileSystemBackend) throws(Errno) -> R) throws(Errno) -> R {
    while true {
      let outcome = domain.withPinnedThread { () -> Result<R, Errno>? in
        let bits = backendBits.load(ordering: .acquiring)
        return Unmanaged<FileSystemBackend>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
          ._withUnsafeGuaranteedRef { backend -> Result<R, Errno>? in
            guard !backend.retired.load(ordering: .sequentiallyConsistent) else { return nil }
            do throws(Errno) { return .success(try body(backend)) } catch { return .failure(error) }
          }
      }
      if let outcome { return try outcome.get() }
      sched_yield()  // a switch of locking mode is under way
    }
  }

  /// The locking mode in use now.
  public var locking: Locking {
    (try? withBackend { $0.locking }) ?? configuration.locking
  }

  /// Switches the tree and the descriptor table between their locked and lock-free
  /// backends (a no-op when already in that mode). Only while the file system is idle:
  /// no descriptor open and no inode looked up by the kernel. Calls made meanwhile wait
  /// for the switch, then run on the new backend.
  ///
  /// The corresponding C function is `ermfs_set_lockless_mode` (ErmFD's C API).
  ///
  /// - Parameter enabled: true for `.lockless`, false for `.locked`.
  /// - Throws: EBUSY when a descriptor is open or the kernel holds a lookup (FUSE);
  ///   EINVAL to go lock-free with `maxDescriptors` above 16,777,216.
  public func setLocklessMode(_ enabled: Bool) throws(Errno) {
    let wanted: Locking = enabled ? .lockless : .locked
    try switching.withLock { _ throws(Errno) in
      let bits = backendBits.load(ordering: .acquiring)
      let old = Unmanaged<FileSystemBackend>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
      guard old.locking != wanted else { return }
      if wanted == .lockless && configuration.maxDescriptors > SlotDescriptorTable.maximumCapacity {
        throw .invalidArgument
      }
      old.retired.store(true, ordering: .sequentiallyConsistent)
      // Every call that found `old` before the mark has finished; later ones wait.
      domain.synchronize()
      guard old.descriptors.count == 0, inodes.count == 1 else {
        old.retired.store(false, ordering: .sequentiallyConsistent)
        throw .resourceBusy
      }
      let image = old.namespace.image()
      old.namespace.releaseInodes()
      let fresh = FileSystemBackend(wanted, image: image, limit: configuration.maxDescriptors,
                                    domain: domain, lifetime: lifetime)
      let previous = backendBits.exchange(UInt(bitPattern: Unmanaged.passRetained(fresh).toOpaque()),
                                          ordering: .acquiringAndReleasing)
      let retired = Unmanaged<FileSystemBackend>.fromOpaque(UnsafeRawPointer(bitPattern: previous)!)
      domain.retire(retired.takeUnretainedValue())
      retired.release()
    }
  }

  // MARK: Shared plumbing

  /// The open file description behind `descriptor`.
  func openFile(_ descriptor: Descriptor) throws(Errno) -> OpenFile {
    guard let file = try withBackend({ $0.descriptors.file(for: descriptor.rawValue) }) else {
      throw .badFileDescriptor
    }
    return file
  }

  /// Runs `body` on the open file description behind `descriptor`, holding it open: a
  /// `close` meanwhile takes effect when `body` returns (`OpenFile.users`).
  ///
  /// - Throws: EBADF when it is not open (or was closed before the call could start).
  func withOpenFile<R>(_ descriptor: Descriptor, _ body: (OpenFile) throws(Errno) -> R) throws(Errno) -> R {
    let file = try openFile(descriptor)
    try file.beginCall()
    defer { if file.endCall() { finishClose(file) } }
    return try body(file)
  }

  /// The last user of a closed description: its cache goes, then its open reference.
  func finishClose(_ file: OpenFile) {
    file.cache.drop()
    lifetime.releaseOpen(file.inode)
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
    return try withBackend { (backend) throws(Errno) in try backend.namespace.resolve(parsed, followLast: followLast) }
  }

  /// Runs `body` on the inode `path` names, holding a reference on it, so that an unlink
  /// racing the call cannot free its contents before `body` is done (the call then acts
  /// on the unlinked file, as if it had come first).
  func withReferencedInode<R>(_ path: String, followLast: Bool = true,
                              _ body: (Inode) throws(Errno) -> R) throws(Errno) -> R {
    while true {
      let inode = try resolve(path, followLast: followLast)
      guard inode.references.retainIfNotZero() else { continue }  // it just died: look again
      defer { lifetime.release(inode) }
      return try body(inode)
    }
  }

  // MARK: Statistics

  /// What the file system holds now. Exact when no call is in flight.
  public var statistics: Statistics {
    let (counts, open) = (try? withBackend { ($0.namespace.counts, $0.descriptors.count) })
      ?? ((files: 0, directories: 0), 0)
    return Statistics(
      files: counts.files, directories: counts.directories,
      logicalBytes: accounting.logicalBytes.load(ordering: .relaxed),
      storedBytes: accounting.storedBytes.load(ordering: .relaxed),
      cacheBytes: accounting.cacheBytes.load(ordering: .relaxed),
      openDescriptors: open,
      allocator: configuration.allocator.statistics)
  }
}
