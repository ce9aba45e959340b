import ErmAlloc
import ErmCompress
import Synchronization
import SystemPackage

/// A RAM-native file system: files live in memory, are gzip-compressed when their last
/// descriptor closes, and are decompressed chunk by chunk when read again.
///
/// The API follows POSIX and swift-system: every call names its C function, takes
/// swift-system's `AccessMode`/`OpenOptions`/`FilePermissions`/`SeekOrigin` and throws
/// an `Errno`. Paths are absolute (a relative path is EINVAL) and normalised lexically
/// (`.`, `..`, repeated `/`); `..` of the root is the root. There are no symbolic links,
/// so lexical `..` agrees with the tree, except that `/file/..` is `/` (not ENOTDIR). Permission bits are stored and reported but not
/// enforced (the caller is the only user). All calls are thread-safe.
public final class ErmFS: Sendable {
  /// The configuration this instance was created with.
  public let configuration: Configuration

  let registry: any PathRegistry
  let descriptors: any DescriptorTable
  let storage: FileStorage
  let accounting: Accounting

  /// Creates an empty file system (just the root directory).
  ///
  /// - Parameter configuration: limits and compression settings.
  /// - Throws: EINVAL when a limit is out of range (`maxDescriptors` not in
  ///   `1...Int32.max`, a negative quota or maximum file size, a `chunkSize` outside
  ///   `ChunkedGzip.supportedChunkSizes`).
  public init(configuration: Configuration = Configuration()) throws(Errno) {
    guard configuration.maxDescriptors >= 1, configuration.maxDescriptors <= Int(Int32.max),
          (configuration.byteQuota ?? 0) >= 0, configuration.maxFileSize >= 0,
          ChunkedGzip.supportedChunkSizes.contains(configuration.chunkSize) else { throw .invalidArgument }
    self.configuration = configuration
    self.accounting = Accounting(quota: configuration.byteQuota ?? Int.max)
    self.registry = LockedPathRegistry()
    self.descriptors = LockedDescriptorTable(limit: configuration.maxDescriptors)
    self.storage = FileStorage(
      chunked: ChunkedGzip(codec: configuration.codec, chunkSize: configuration.chunkSize,
                           level: configuration.compressionLevel),
      allocator: configuration.allocator, accounting: accounting,
      maxFileSize: configuration.maxFileSize)
  }

  // MARK: Descriptors

  /// Opens (and optionally creates) a file or directory and returns the lowest free
  /// descriptor.
  ///
  /// The corresponding C function is `open`.
  ///
  /// - Parameters:
  ///   - path: absolute path of the file.
  ///   - mode: `.readOnly`, `.writeOnly` or `.readWrite` (`O_RDONLY`/`O_WRONLY`/`O_RDWR`).
  ///   - options: `.create` (`O_CREAT`), `.exclusiveCreate` (`O_EXCL`), `.truncate`
  ///     (`O_TRUNC`, which empties the file as on Linux even when read-only), `.append`
  ///     (`O_APPEND`), `.directory` (`O_DIRECTORY`); other options are accepted and ignored.
  ///   - permissions: permission bits of a newly created file (default `0o644`).
  /// - Returns: the new descriptor.
  /// - Throws: ENOENT (missing, no `.create`), EEXIST (`.create` + `.exclusiveCreate` on an
  ///   existing name), EISDIR (a directory opened for writing, with `.create` or with
  ///   `.truncate`),
  ///   ENOTDIR (a path component or a `.directory` target that is not a directory),
  ///   EINVAL (bad access mode or path, or `.create` with `.directory` as on Linux 6.4+),
  ///   ENAMETOOLONG, EMFILE (descriptor limit).
  public func open(
    _ path: String, _ mode: FileDescriptor.AccessMode,
    options: FileDescriptor.OpenOptions = [],
    permissions: FilePermissions? = nil
  ) throws(Errno) -> Descriptor {
    let canRead: Bool, canWrite: Bool
    switch mode {
    case .readOnly: (canRead, canWrite) = (true, false)
    case .writeOnly: (canRead, canWrite) = (false, true)
    case .readWrite: (canRead, canWrite) = (true, true)
    default: throw .invalidArgument
    }
    // Linux 6.4+ refuses this pair outright; older kernels created a file, then said ENOTDIR.
    if options.contains(.create) && options.contains(.directory) { throw .invalidArgument }
    let parsed = try Path(path)
    // The number first, as the kernel does: EMFILE must not create or truncate anything.
    let number = try descriptors.reserve()
    let inode: Inode
    do throws(Errno) {
      (inode, _) = try registry.open(
        parsed, create: options.contains(.create),
        exclusive: options.contains(.exclusiveCreate),
        permissions: permissions ?? [.ownerReadWrite, .groupRead, .otherRead])
    } catch {
      descriptors.cancel(number)
      throw error
    }
    // From here the inode holds an open reference: give it back on any failure.
    do throws(Errno) {
      // O_TRUNC asks for write access too (Linux), so a directory refuses it.
      if inode.isDirectory && (canWrite || options.contains(.truncate)) { throw .isDirectory }
      if options.contains(.directory) && !inode.isDirectory { throw .notDirectory }
      if options.contains(.truncate) && !inode.isDirectory {
        try inode.contents.withLock { (state) throws(Errno) in
          try storage.truncate(&state, inode: inode, to: 0)
        }
      }
    } catch {
      descriptors.cancel(number)
      releaseOpenReference(inode)
      throw error
    }
    let file = OpenFile(inode: inode, canRead: canRead, canWrite: canWrite,
                        appends: options.contains(.append))
    descriptors.install(file, at: number)
    return Descriptor(rawValue: number)
  }

  /// Closes a descriptor. When it was the last one open on a modified file, the file is
  /// compressed (chunked gzip, in place) and its buffer shrunk to the compressed size;
  /// when the file was unlinked, its memory is given back.
  ///
  /// The corresponding C function is `close`.
  ///
  /// - Parameter descriptor: the descriptor to close.
  /// - Throws: EBADF when it is not open. A compression failure is not an error: the
  ///   file then stays materialised (no data are lost) and the next close tries again.
  public func close(_ descriptor: Descriptor) throws(Errno) {
    guard let file = descriptors.remove(descriptor.rawValue) else { throw .badFileDescriptor }
    // Wait for operations in flight on this description, and stop later ones.
    file.state.withLock { $0.closed = true; $0.cache = nil }
    releaseOpenReference(file.inode)
  }

  /// Drops one open reference; the last one compresses a modified file or frees an
  /// unlinked one. Runs under the inode's contents lock only.
  private func releaseOpenReference(_ inode: Inode) {
    guard !inode.isDirectory else {
      inode.openCount.subtract(1, ordering: .sequentiallyConsistent)
      return
    }
    inode.contents.withLock { state in
      let remaining = inode.openCount.subtract(1, ordering: .sequentiallyConsistent).newValue
      guard remaining == 0 else { return }
      if inode.linkCount.load(ordering: .sequentiallyConsistent) == 0 {
        storage.release(&state, inode: inode)
      } else {
        storage.compress(&state, inode: inode)
      }
    }
  }

  /// Frees an unlinked file's memory unless a descriptor still has it open (then the
  /// last close does). Both sides check under the contents lock, so exactly one frees.
  private func releaseIfUnused(_ inode: Inode) {
    guard inode.openCount.load(ordering: .sequentiallyConsistent) == 0 else { return }
    inode.contents.withLock { state in
      if inode.openCount.load(ordering: .sequentiallyConsistent) == 0,
         inode.linkCount.load(ordering: .sequentiallyConsistent) == 0 {
        storage.release(&state, inode: inode)
      }
    }
  }

  private func openFile(_ descriptor: Descriptor) throws(Errno) -> OpenFile {
    guard let file = descriptors.file(for: descriptor.rawValue) else { throw .badFileDescriptor }
    return file
  }

  // MARK: Reading and writing

  /// Reads up to `buffer.count` bytes at the descriptor's offset and advances it.
  ///
  /// The corresponding C function is `read`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for reading.
  ///   - buffer: where the bytes go.
  /// - Returns: bytes read; 0 at or past the end of the file.
  /// - Throws: EBADF (not open, or write-only), EISDIR (a directory), EBADMSG (corrupt
  ///   stored data).
  public func read(_ descriptor: Descriptor, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    let file = try openFile(descriptor)
    guard file.canRead else { throw .badFileDescriptor }
    guard !file.inode.isDirectory else { throw .isDirectory }
    return try file.state.withLock { (position) throws(Errno) -> Int in
      guard !position.closed else { throw .badFileDescriptor }
      let count = try readLocked(file, &position, at: position.offset, into: buffer)
      position.offset += count
      return count
    }
  }

  /// Reads up to `buffer.count` bytes at `offset` without moving the descriptor's offset.
  ///
  /// The corresponding C function is `pread`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for reading.
  ///   - buffer: where the bytes go.
  ///   - offset: file offset to read from (>= 0).
  /// - Returns: bytes read; 0 at or past the end of the file.
  /// - Throws: EBADF, EISDIR, EINVAL (negative offset), EBADMSG.
  public func pread(_ descriptor: Descriptor, into buffer: UnsafeMutableRawBufferPointer,
                    at offset: Int64) throws(Errno) -> Int {
    let file = try openFile(descriptor)
    guard file.canRead else { throw .badFileDescriptor }
    guard !file.inode.isDirectory else { throw .isDirectory }
    guard offset >= 0 else { throw .invalidArgument }
    return try file.state.withLock { (position) throws(Errno) -> Int in
      guard !position.closed else { throw .badFileDescriptor }
      return try readLocked(file, &position, at: Int(offset), into: buffer)
    }
  }

  private func readLocked(_ file: OpenFile, _ position: inout OpenFileState, at offset: Int,
                          into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    let inode = file.inode
    let cache: ChunkCache
    if let existing = position.cache {
      cache = existing
    } else {
      cache = ChunkCache()
      position.cache = cache
    }
    let count = try inode.contents.withLock { (state) throws(Errno) -> Int in
      try storage.read(state, at: offset, into: buffer, cache: cache)
    }
    inode.accessTime.store(WallClock.now(), ordering: .relaxed)
    return count
  }

  /// Writes `buffer` at the descriptor's offset (at the end of file with `.append`) and
  /// advances the offset. Writing past the end zero-fills the gap. The first write to a
  /// compressed file materialises it (decompresses it into a plain buffer).
  ///
  /// The corresponding C function is `write`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - buffer: the bytes to write.
  /// - Returns: bytes written (all of them, or an error is thrown).
  /// - Throws: EBADF (not open, or read-only), EFBIG (beyond `maxFileSize`), ENOSPC
  ///   (beyond `byteQuota`), ENOMEM, EBADMSG.
  public func write(_ descriptor: Descriptor, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
    let file = try openFile(descriptor)
    guard file.canWrite else { throw .badFileDescriptor }
    // POSIX: writing nothing to a regular file has "no other results" (offset unmoved).
    guard buffer.count > 0 else { return 0 }
    return try file.state.withLock { (position) throws(Errno) -> Int in
      guard !position.closed else { throw .badFileDescriptor }
      let inode = file.inode
      let written = try inode.contents.withLock { (state) throws(Errno) -> (Int, Int) in
        let offset = file.appends ? state.logicalCount : position.offset
        return (try storage.write(&state, inode: inode, buffer, at: offset), offset)
      }
      position.offset = written.1 + written.0
      return written.0
    }
  }

  /// Writes `buffer` at `offset` without moving the descriptor's offset (even with
  /// `.append`, as POSIX says; Linux would append instead).
  ///
  /// The corresponding C function is `pwrite`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - buffer: the bytes to write.
  ///   - offset: file offset to write at (>= 0).
  /// - Returns: bytes written.
  /// - Throws: EBADF, EINVAL (negative offset), EFBIG, ENOSPC, ENOMEM, EBADMSG.
  public func pwrite(_ descriptor: Descriptor, _ buffer: UnsafeRawBufferPointer,
                     at offset: Int64) throws(Errno) -> Int {
    let file = try openFile(descriptor)
    guard file.canWrite else { throw .badFileDescriptor }
    guard offset >= 0 else { throw .invalidArgument }
    guard buffer.count > 0 else { return 0 }
    guard offset <= Int64(configuration.maxFileSize) else { throw .fileTooLarge }
    return try file.state.withLock { (position) throws(Errno) -> Int in
      guard !position.closed else { throw .badFileDescriptor }
      let inode = file.inode
      return try inode.contents.withLock { (state) throws(Errno) -> Int in
        try storage.write(&state, inode: inode, buffer, at: Int(offset))
      }
    }
  }

  /// Moves the descriptor's offset; positions past the end are allowed (a later write
  /// there zero-fills the gap).
  ///
  /// The corresponding C function is `lseek`.
  ///
  /// - Parameters:
  ///   - descriptor: an open descriptor.
  ///   - offset: the distance to move.
  ///   - origin: `.start` (`SEEK_SET`), `.current` (`SEEK_CUR`) or `.end` (`SEEK_END`).
  /// - Returns: the new offset from the start of the file.
  /// - Throws: EBADF; EINVAL for another origin or a resulting negative (or overflowing)
  ///   offset.
  @discardableResult
  public func lseek(_ descriptor: Descriptor, offset: Int64,
                    from origin: FileDescriptor.SeekOrigin) throws(Errno) -> Int64 {
    let file = try openFile(descriptor)
    return try file.state.withLock { (position) throws(Errno) -> Int64 in
      guard !position.closed else { throw .badFileDescriptor }
      let base: Int
      switch origin {
      case .start: base = 0
      case .current: base = position.offset
      case .end: base = file.inode.size.load(ordering: .relaxed)
      default: throw .invalidArgument
      }
      let (target, overflow) = Int64(base).addingReportingOverflow(offset)
      guard !overflow, target >= 0 else { throw .invalidArgument }
      position.offset = Int(target)
      return target
    }
  }

  /// Sets the size of an open file: shrinking drops the tail, growing zero-fills. The
  /// first truncate of a compressed file to a non-zero size materialises it.
  ///
  /// The corresponding C function is `ftruncate`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - size: the new size in bytes.
  /// - Throws: EBADF (not open); EINVAL (not open for writing, as on Linux, or a
  ///   negative size); EFBIG (beyond `maxFileSize`); ENOSPC; ENOMEM.
  public func ftruncate(_ descriptor: Descriptor, to size: Int64) throws(Errno) {
    let file = try openFile(descriptor)
    guard file.canWrite else { throw .invalidArgument }
    guard size >= 0 else { throw .invalidArgument }
    guard size <= Int64(configuration.maxFileSize) else { throw .fileTooLarge }
    try file.state.withLock { (position) throws(Errno) in
      guard !position.closed else { throw .badFileDescriptor }
      let inode = file.inode
      try inode.contents.withLock { (state) throws(Errno) in
        try storage.truncate(&state, inode: inode, to: Int(size))
      }
    }
  }

  // MARK: Metadata

  /// The status of the file or directory at `path`; `size` is always the logical size.
  ///
  /// The corresponding C function is `stat`.
  ///
  /// - Parameter path: absolute path.
  /// - Throws: ENOENT, ENOTDIR, EINVAL, ENAMETOOLONG.
  public func stat(_ path: String) throws(Errno) -> FileStatus {
    try registry.lookup(try Path(path)).status()
  }

  /// The status of an open file (also after it was unlinked: `linkCount` is then 0).
  ///
  /// The corresponding C function is `fstat`.
  ///
  /// - Parameter descriptor: an open descriptor.
  /// - Throws: EBADF.
  public func fstat(_ descriptor: Descriptor) throws(Errno) -> FileStatus {
    try openFile(descriptor).inode.status()
  }

  /// Changes the permission bits (the file type bits are kept).
  ///
  /// The corresponding C function is `chmod`.
  ///
  /// - Parameters:
  ///   - path: absolute path.
  ///   - permissions: the new bits (only `0o7777` is kept).
  /// - Throws: ENOENT, ENOTDIR, EINVAL, ENAMETOOLONG.
  public func chmod(_ path: String, permissions: FilePermissions) throws(Errno) {
    let inode = try registry.lookup(try Path(path))
    inode.permissions.store(permissions.rawValue & 0o7777, ordering: .relaxed)
    inode.touchChanged()
  }

  /// Sets the access and modification times; the change time becomes now.
  ///
  /// The corresponding C function is `utimensat` (with `AT_FDCWD`, as `utimens`).
  ///
  /// - Parameters:
  ///   - path: absolute path.
  ///   - access: new access time (`.now`, `.omit`, or a value).
  ///   - modification: new modification time (`.now`, `.omit`, or a value).
  /// - Throws: ENOENT, ENOTDIR, EINVAL (nanoseconds outside `0..<1_000_000_000`),
  ///   ENAMETOOLONG.
  public func utimens(_ path: String, access: TimeUpdate = .now,
                      modification: TimeUpdate = .now) throws(Errno) {
    for update in [access, modification] {
      if case .set(let time) = update, !(0..<1_000_000_000).contains(time.nanoseconds) {
        throw .invalidArgument
      }
    }
    let inode = try registry.lookup(try Path(path))
    let now = WallClock.now()
    func apply(_ update: TimeUpdate, to field: borrowing Atomic<Int64>) {
      switch update {
      case .now: field.store(now, ordering: .relaxed)
      case .omit: break
      case .set(let time): field.store(time.totalNanoseconds, ordering: .relaxed)
      }
    }
    apply(access, to: inode.accessTime)
    apply(modification, to: inode.modificationTime)
    if access != .omit || modification != .omit { inode.touchChanged(now) }
  }

  // MARK: Names

  /// Removes a file's name. Its data stay readable through descriptors still open on
  /// it and are freed at the last close.
  ///
  /// The corresponding C function is `unlink`.
  ///
  /// - Parameter path: absolute path of a regular file.
  /// - Throws: ENOENT, ENOTDIR, EISDIR (a directory, as on Linux), EINVAL, ENAMETOOLONG.
  public func unlink(_ path: String) throws(Errno) {
    let inode = try registry.unlink(try Path(path))
    releaseIfUnused(inode)
  }

  /// Renames a file or directory atomically: a lookup sees either the old or the new
  /// tree, never neither. An existing destination is replaced when POSIX allows it.
  ///
  /// The corresponding C function is `rename`.
  ///
  /// - Parameters:
  ///   - source: absolute path of what to move.
  ///   - destination: absolute path of its new name.
  /// - Throws: ENOENT (no source, or no destination directory), ENOTDIR (a directory
  ///   over a file, or a path component not a directory), EISDIR (a file over a
  ///   directory), ENOTEMPTY (a directory over a non-empty one), EINVAL (a directory
  ///   into its own subtree, or a last component `.` or `..`), EBUSY (the root),
  ///   ENAMETOOLONG.
  public func rename(_ source: String, to destination: String) throws(Errno) {
    let from = try Path(source)
    let to = try Path(destination)
    if let replaced = try registry.rename(from, to: to) {
      releaseIfUnused(replaced)
    }
  }

  /// Creates a directory.
  ///
  /// The corresponding C function is `mkdir`.
  ///
  /// - Parameters:
  ///   - path: absolute path of the new directory.
  ///   - permissions: its permission bits (default `0o755`).
  /// - Throws: EEXIST (the name exists, the root included), ENOENT (no parent),
  ///   ENOTDIR, EINVAL, ENAMETOOLONG.
  public func mkdir(_ path: String, permissions: FilePermissions = [
    .ownerReadWriteExecute, .groupReadExecute, .otherReadExecute,
  ]) throws(Errno) {
    try registry.makeDirectory(try Path(path), permissions: permissions)
  }

  /// Removes an empty directory.
  ///
  /// The corresponding C function is `rmdir`.
  ///
  /// - Parameter path: absolute path of the directory.
  /// - Throws: ENOENT, ENOTDIR (not a directory), ENOTEMPTY, EBUSY (the root), EINVAL
  ///   (a last component `.` or `..`, or a bad path), ENAMETOOLONG.
  public func rmdir(_ path: String) throws(Errno) {
    try registry.removeDirectory(try Path(path))
  }

  /// Lists a directory, sorted by name, without `.` and `..`.
  ///
  /// The corresponding C functions are `opendir`/`readdir`/`closedir` (one call here).
  ///
  /// - Parameter path: absolute path of the directory.
  /// - Throws: ENOENT, ENOTDIR, EINVAL, ENAMETOOLONG.
  public func readdir(_ path: String) throws(Errno) -> [DirectoryEntry] {
    try registry.entries(of: try Path(path))
  }

  // MARK: Statistics and export

  /// What the file system holds now. Exact when no call is in flight.
  public var statistics: Statistics {
    let counts = registry.counts
    return Statistics(
      files: counts.files, directories: counts.directories,
      logicalBytes: accounting.logicalBytes.load(ordering: .relaxed),
      storedBytes: accounting.storedBytes.load(ordering: .relaxed),
      openDescriptors: descriptors.count,
      allocator: configuration.allocator.statistics)
  }

  /// Calls `body` with a consistent snapshot of the file at `path`, taken when the call
  /// starts: concurrent writes never show through it.
  ///
  /// A compressed file's stored bytes are immutable (a writer materialises a new buffer),
  /// so its snapshot holds no lock and writers proceed while `body` runs. A materialised
  /// file changes in place, so its contents lock is held while `body` runs: `body` must
  /// not write that file through this ErmFS (it would wait for itself).
  ///
  /// - Parameters:
  ///   - path: absolute path of a regular file.
  ///   - body: reads the contents through `FileContents.copy` or `FileContents.bytes`.
  /// - Throws: ENOENT, ENOTDIR, EISDIR (a directory), EINVAL, ENAMETOOLONG, or what
  ///   `body` throws.
  public func withContents<R>(ofPath path: String,
                              _ body: (FileContents) throws(Errno) -> R) throws(Errno) -> R {
    let parsed = try Path(path)
    let (inode, _) = try registry.open(parsed, create: false, exclusive: false,
                                       permissions: [])
    defer { releaseOpenReference(inode) }
    return try withContents(of: inode, body)
  }

  /// `withContents(ofPath:_:)` for an open descriptor (any access mode).
  ///
  /// - Parameters:
  ///   - descriptor: an open descriptor.
  ///   - body: reads the contents through `FileContents.copy`.
  /// - Throws: EBADF, EISDIR, or what `body` throws.
  public func withContents<R>(of descriptor: Descriptor,
                              _ body: (FileContents) throws(Errno) -> R) throws(Errno) -> R {
    try withContents(of: try openFile(descriptor).inode, body)
  }

  private func withContents<R>(of inode: Inode,
                               _ body: (FileContents) throws(Errno) -> R) throws(Errno) -> R {
    guard !inode.isDirectory else { throw .isDirectory }
    let immutable: FileContentsState? = inode.contents.withLock { state in
      switch state.data {
      case .compressed, .empty: return state
      case .materialised: return nil
      }
    }
    if let immutable {
      return try body(FileContents(state: immutable, storage: storage))
    }
    // The file may have been compressed meanwhile; under the lock any form is consistent.
    return try inode.contents.withLock { (state) throws(Errno) -> R in
      try body(FileContents(state: state, storage: storage))
    }
  }
}
