import ErmLockless
import Synchronization
import SystemPackage

/// Opening, closing, reading and writing files.
extension ErmFS {
  /// Opens (and optionally creates) a file or directory and returns the lowest free
  /// descriptor.
  ///
  /// The corresponding C function is `open`.
  ///
  /// - Parameters:
  ///   - path: absolute path of the file.
  ///   - mode: `.readOnly`, `.writeOnly` or `.readWrite` (`O_RDONLY`/`O_WRONLY`/`O_RDWR`).
  ///   - options: `.create` (`O_CREAT`), `.exclusiveCreate` (`O_EXCL`), `.truncate`
  ///     (`O_TRUNC`, which empties the file as on Linux even when read-only, and always
  ///     sets its modification time), `.append` (`O_APPEND`), `.directory`
  ///     (`O_DIRECTORY`), `.noFollow` (`O_NOFOLLOW`); other options are accepted and
  ///     ignored.
  ///   - permissions: permission bits of a newly created file (default `0o644`; the
  ///     setuid, setgid and sticky bits are kept).
  /// - Returns: the new descriptor.
  /// - Throws: ENOENT (missing, no `.create`; or a missing directory on the way),
  ///   EEXIST (`.create` + `.exclusiveCreate` on an existing name), EISDIR (a directory
  ///   opened for writing, with `.create` or with `.truncate`; `.create` with a trailing
  ///   `/`), ENOTDIR (a path component, or a `.directory` or `/`-terminated target, that
  ///   is not a directory), ELOOP (`.noFollow` on a symbolic link, or more than 40 links),
  ///   ENXIO (a FIFO, socket or device: ErmFS has no driver for them), EINVAL (bad access
  ///   mode, relative path, NUL in the path, `.create` with `.directory`), ENAMETOOLONG,
  ///   EMFILE (descriptor limit).
  public func open(
    _ path: String, _ mode: FileDescriptor.AccessMode,
    options: FileDescriptor.OpenOptions = [],
    permissions: FilePermissions? = nil
  ) throws(Errno) -> Descriptor {
    let access = try Access(mode)
    // Linux 6.4+ refuses this pair outright (older kernels created a file, then ENOTDIR).
    if options.contains(.create) && options.contains(.directory) { throw .invalidArgument }
    let parsed = try parse(path)
    let create = options.contains(.create)
      ? NodeSpec(type: .regular, permissions: (permissions?.rawValue ?? 0o644) & 0o7777,
                 owner: configuration.owner)
      : nil
    let request = OpenRequest(create: create, exclusive: options.contains(.exclusiveCreate),
                              noFollow: options.contains(.noFollow),
                              directory: options.contains(.directory),
                              writes: access.canWrite || options.contains(.truncate))
    let now = Timestamp.now()
    return try withBackend { (backend) throws(Errno) -> Descriptor in
      // The number first, as the kernel does: EMFILE must not create or truncate anything.
      let number = try backend.descriptors.reserve()
      let opened: (inode: Inode, created: Bool)
      do throws(Errno) {
        opened = try backend.namespace.open(parsed, request, now: now)
      } catch {
        backend.descriptors.cancel(number)
        throw error
      }
      return try finishOpen(opened.inode, number: number, in: backend.descriptors, access: access,
                            truncate: options.contains(.truncate) && !opened.created,
                            appends: options.contains(.append))
    }
  }

  /// Installs an open file description for `inode`, which already holds an open
  /// reference; gives the reference and the number back on failure.
  func finishOpen(_ inode: Inode, number: Int32, in descriptors: any DescriptorTable, access: Access,
                  truncate: Bool, appends: Bool) throws(Errno) -> Descriptor {
    do throws(Errno) {
      guard inode.isRegular || inode.isDirectory else { throw .noSuchAddressOrDevice }
      if truncate && inode.isRegular { storage.empty(inode) }
    } catch {
      descriptors.cancel(number)
      lifetime.releaseOpen(inode)
      throw error
    }
    let file = OpenFile(inode: inode, canRead: access.canRead, canWrite: access.canWrite,
                        appends: appends, accounting: accounting)
    descriptors.install(file, at: number)
    return Descriptor(rawValue: number)
  }

  /// Closes a descriptor. When it was the last one open on a modified file, the file is
  /// compressed (chunked gzip); when nothing refers to the file any more (unlinked), its
  /// memory is given back.
  ///
  /// The corresponding C function is `close`.
  ///
  /// - Parameter descriptor: the descriptor to close.
  /// - Throws: EBADF when it is not open. A compression failure is not an error: the
  ///   file then stays materialised (no data are lost) and the next close tries again.
  public func close(_ descriptor: Descriptor) throws(Errno) {
    guard let file = try withBackend({ $0.descriptors.remove(descriptor.rawValue) }) else {
      throw .badFileDescriptor
    }
    // Calls still running on the description finish first: the last of them finishes the
    // close; later calls get EBADF.
    if file.endCall() { finishClose(file) }
  }

  // MARK: Reading

  /// Reads up to `buffer.count` bytes at the descriptor's offset and advances it.
  ///
  /// The corresponding C function is `read`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for reading.
  ///   - buffer: where the bytes go.
  /// - Returns: bytes read; 0 at or past the end of the file.
  /// - Throws: EBADF (not open, or write-only), EISDIR (a directory), EBADMSG (corrupt
  ///   stored data), ENOMEM (no memory for the chunk cache).
  public func read(_ descriptor: Descriptor, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    try withOpenFile(descriptor) { (file) throws(Errno) -> Int in
      guard file.canRead else { throw .badFileDescriptor }
      guard !file.inode.isDirectory else { throw .isDirectory }
      // The range this read may transfer is claimed first (stopping at the end of file),
      // so threads sharing the descriptor read distinct, adjacent ranges.
      let size = Int64(file.inode.size.load(ordering: .relaxed))
      let claimed = try file.offset.claim(buffer.count, limit: size)
      var count = 0
      defer { file.offset.giveBack(claimed, transferred: count) }
      if !claimed.isEmpty {
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<claimed.count])
        count = try file.cache.withCache { (cache) throws(Errno) -> Int in
          try storage.read(file.inode, at: Int(claimed.lowerBound), into: target, cache: &cache)
        }
      }
      file.inode.touchAccessed()  // even for 0 bytes, as tmpfs (`file_accessed`)
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
  /// - Throws: EINVAL (negative offset, checked first as the kernel does), EBADF,
  ///   EISDIR, EBADMSG, ENOMEM.
  public func pread(_ descriptor: Descriptor, into buffer: UnsafeMutableRawBufferPointer,
                    at offset: Int64) throws(Errno) -> Int {
    guard offset >= 0 else { throw .invalidArgument }
    return try withOpenFile(descriptor) { (file) throws(Errno) -> Int in
      guard file.canRead else { throw .badFileDescriptor }
      guard !file.inode.isDirectory else { throw .isDirectory }
      guard offset <= Int64(Int.max) else { return 0 }
      let count = try file.cache.withCache { (cache) throws(Errno) -> Int in
        try storage.read(file.inode, at: Int(offset), into: buffer, cache: &cache)
      }
      file.inode.touchAccessed()  // even for 0 bytes, as tmpfs (`file_accessed`)
      return count
    }
  }

  // MARK: Writing

  /// Writes `buffer` at the descriptor's offset (at the end of file with `.append`) and
  /// advances the offset. Writing past the end zero-fills the gap. The first write to a
  /// compressed file materialises it (decompresses it into plain bytes).
  ///
  /// The corresponding C function is `write`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - buffer: the bytes to write.
  /// - Returns: bytes written: all of them, or fewer when the write reaches
  ///   `maxFileSize` or the quota (as on Linux).
  /// - Throws: EBADF (not open, or read-only), EFBIG (the offset is at or past
  ///   `maxFileSize`), ENOSPC (the quota has no room for any of it), ENOMEM, EBADMSG.
  public func write(_ descriptor: Descriptor, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
    try withOpenFile(descriptor) { (file) throws(Errno) -> Int in
      guard file.canWrite else { throw .badFileDescriptor }
      // POSIX: writing nothing to a regular file has "no other results" (offset unmoved).
      guard buffer.count > 0 else { return 0 }
      if file.appends {
        // The end of file is found under the contents lock; the offset follows the write.
        let written = try storage.write(file.inode, buffer, at: .end)
        try file.offset.seek(Int64(written.offset + written.count), from: .start)
        return written.count
      }
      let claimed = try file.offset.claim(buffer.count)
      var count = 0
      defer { file.offset.giveBack(claimed, transferred: count) }
      count = try storage.write(file.inode, buffer, at: .at(Int(claimed.lowerBound))).count
      return count
    }
  }

  /// Writes `buffer` at `offset` without moving the descriptor's offset. On a `.append`
  /// descriptor the bytes go to the end of the file whatever `offset` says: Linux's
  /// behaviour (POSIX would honour the offset).
  ///
  /// The corresponding C function is `pwrite`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - buffer: the bytes to write.
  ///   - offset: file offset to write at (>= 0).
  /// - Returns: bytes written (fewer at `maxFileSize` or the quota).
  /// - Throws: EINVAL (negative offset, checked first), EBADF, EFBIG, ENOSPC, ENOMEM,
  ///   EBADMSG.
  public func pwrite(_ descriptor: Descriptor, _ buffer: UnsafeRawBufferPointer,
                     at offset: Int64) throws(Errno) -> Int {
    guard offset >= 0 else { throw .invalidArgument }
    return try withOpenFile(descriptor) { (file) throws(Errno) -> Int in
      guard file.canWrite else { throw .badFileDescriptor }
      guard buffer.count > 0 else { return 0 }
      // With .append the offset is not used at all (the end of file is checked instead).
      let position: FileStorage.WritePosition = file.appends ? .end
        : .at(offset < Int64(configuration.maxFileSize) ? Int(offset) : configuration.maxFileSize)
      return try storage.write(file.inode, buffer, at: position).count
    }
  }

  // MARK: Offsets and sizes

  /// Moves the descriptor's offset; positions past the end are allowed (a later write
  /// there zero-fills the gap).
  ///
  /// The corresponding C function is `lseek`.
  ///
  /// - Parameters:
  ///   - descriptor: an open descriptor.
  ///   - offset: the distance to move.
  ///   - origin: `.start` (`SEEK_SET`), `.current` (`SEEK_CUR`), `.end` (`SEEK_END`),
  ///     or, on a regular file, `SeekOrigin(rawValue: SEEK_DATA)` / `SEEK_HOLE`: ErmFS
  ///     keeps no holes, so the data run from `offset` to the end of file (SEEK_DATA
  ///     answers `offset`, SEEK_HOLE the size; ENXIO at or past the end).
  /// - Returns: the new offset from the start of the file.
  /// - Throws: EBADF; EINVAL for an unknown origin or a resulting negative (or
  ///   overflowing) offset, and on a directory for anything but `.start`/`.current`;
  ///   ENXIO as above.
  @discardableResult
  public func lseek(_ descriptor: Descriptor, offset: Int64,
                    from origin: FileDescriptor.SeekOrigin) throws(Errno) -> Int64 {
    let file = try openFile(descriptor)
    let inode = file.inode
    let whence: AtomicFileOffset.Whence
    switch origin.rawValue {
    case FileDescriptor.SeekOrigin.start.rawValue: whence = .start
    case FileDescriptor.SeekOrigin.current.rawValue: whence = .current
    case FileDescriptor.SeekOrigin.end.rawValue where !inode.isDirectory:
      whence = .end(size: Int64(inode.size.load(ordering: .relaxed)))
    case SeekWhence.data, SeekWhence.hole:
      guard !inode.isDirectory else { throw .invalidArgument }
      let size = Int64(inode.size.load(ordering: .relaxed))
      guard offset >= 0, offset < size else { throw .noSuchAddressOrDevice }
      return try file.offset.seek(origin.rawValue == SeekWhence.data ? offset : size, from: .start)
    default:
      throw .invalidArgument
    }
    do throws(Errno) {
      return try file.offset.seek(offset, from: whence)
    } catch {
      throw .invalidArgument  // negative, or past Int64.max (Linux: EINVAL for both)
    }
  }

  /// Sets the size of an open file: shrinking drops the tail, growing zero-fills. The
  /// modification and change times are set even when the size stays (as Linux).
  ///
  /// The corresponding C function is `ftruncate`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - size: the new size in bytes.
  /// - Throws: EINVAL (a negative size, checked first; a descriptor not open for writing
  ///   or not on a regular file, as on Linux); EBADF (not open); EFBIG (beyond
  ///   `maxFileSize`); ENOSPC; ENOMEM.
  public func ftruncate(_ descriptor: Descriptor, to size: Int64) throws(Errno) {
    guard size >= 0 else { throw .invalidArgument }
    try withOpenFile(descriptor) { (file) throws(Errno) in
      guard file.canWrite, file.inode.isRegular else { throw .invalidArgument }
      guard size <= Int64(configuration.maxFileSize) else { throw .fileTooLarge }
      try storage.truncate(file.inode, to: Int(size))
    }
  }

  /// Sets the size of the file at `path` (following a final symbolic link).
  ///
  /// The corresponding C function is `truncate`.
  ///
  /// - Parameters:
  ///   - path: absolute path of a regular file.
  ///   - size: the new size in bytes.
  /// - Throws: EINVAL (negative size, checked first; not a regular file), ENOENT,
  ///   ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EFBIG, ENOSPC, ENOMEM.
  public func truncate(_ path: String, to size: Int64) throws(Errno) {
    guard size >= 0 else { throw .invalidArgument }
    try withReferencedInode(path) { (inode) throws(Errno) in
      guard !inode.isDirectory else { throw .isDirectory }
      guard inode.isRegular else { throw .invalidArgument }
      guard size <= Int64(configuration.maxFileSize) else { throw .fileTooLarge }
      try storage.truncate(inode, to: Int(size))
    }
  }

  /// Allocates or frees space inside an open file.
  ///
  /// The corresponding C function is `fallocate`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing on a regular file.
  ///   - mode: `[]` grows the file to `offset + length` if shorter (zero-filled);
  ///     `.keepSize` allocates without changing the size (ErmFS has nothing to reserve:
  ///     it only checks the range); `[.punchHole, .keepSize]` zeroes the range and gives
  ///     its whole pages back, as tmpfs does.
  ///   - offset: start of the range (>= 0).
  ///   - length: length of the range (> 0).
  /// - Throws: EINVAL (negative offset or non-positive length), EOPNOTSUPP (other
  ///   modes, or `.punchHole` without `.keepSize`), EBADF (not open or not for writing),
  ///   EISDIR, ENODEV (not a regular file), EFBIG, ENOSPC, ENOMEM.
  public func fallocate(_ descriptor: Descriptor, mode: AllocationMode = [],
                        offset: Int64, length: Int64) throws(Errno) {
    let file = try openFile(descriptor)
    guard offset >= 0, length > 0 else { throw .invalidArgument }
    guard mode.isSubset(of: [.keepSize, .punchHole]) else { throw .notSupported }
    if mode.contains(.punchHole) && !mode.contains(.keepSize) { throw .notSupported }
    guard file.canWrite else { throw .badFileDescriptor }
    guard !file.inode.isDirectory else { throw .isDirectory }
    guard file.inode.isRegular else { throw .operationNotSupportedByDevice }
    let (end, overflow) = offset.addingReportingOverflow(length)
    guard !overflow, end <= Int64(configuration.maxFileSize) else { throw .fileTooLarge }
    try file.beginCall()
    defer { if file.endCall() { finishClose(file) } }
    do {
      // tmpfs marks the file modified for every mode (`file_modified`).
      if mode.contains(.punchHole) {
        try storage.punchHole(file.inode, Int(offset)..<Int(end))
      } else if !mode.contains(.keepSize) && end > Int64(file.inode.size.load(ordering: .relaxed)) {
        try storage.truncate(file.inode, to: Int(end))
      } else {
        file.inode.touchModified()
      }
    }
  }

  /// `fallocate` modes.
  public struct AllocationMode: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `FALLOC_FL_KEEP_SIZE`.
    public static let keepSize = AllocationMode(rawValue: 0x01)
    /// `FALLOC_FL_PUNCH_HOLE`.
    public static let punchHole = AllocationMode(rawValue: 0x02)
  }

  /// Flushes a file to stable storage: ErmFS's storage is memory, so there is nothing to
  /// flush; the call checks the descriptor.
  ///
  /// The corresponding C functions are `fsync` and `fdatasync`.
  ///
  /// - Parameter descriptor: an open descriptor.
  /// - Throws: EBADF.
  public func fsync(_ descriptor: Descriptor) throws(Errno) {
    _ = try openFile(descriptor)
  }
}

/// The access half of `open`'s flags.
struct Access {
  let canRead: Bool
  let canWrite: Bool

  init(_ mode: FileDescriptor.AccessMode) throws(Errno) {
    switch mode {
    case .readOnly: (canRead, canWrite) = (true, false)
    case .writeOnly: (canRead, canWrite) = (false, true)
    case .readWrite: (canRead, canWrite) = (true, true)
    default: throw .invalidArgument
    }
  }

  init(canRead: Bool, canWrite: Bool) {
    self.canRead = canRead
    self.canWrite = canWrite
  }
}

/// `SEEK_DATA` and `SEEK_HOLE` (Linux values; swift-system has no names for them).
public enum SeekWhence {
  public static let data: CInt = 3
  public static let hole: CInt = 4
}
