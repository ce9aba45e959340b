import CErmFD
import ErmCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ErmFS {
  /// Exports a file as a memfd holding a snapshot of its contents.
  ///
  /// The snapshot is taken under the file's contents lock, so it is one consistent
  /// state: a file open for writing exports what has been written so far, and later
  /// writes do not change the export. The memfd is close-on-exec (`MFD_CLOEXEC`), named
  /// after `path` (`/memfd:PATH` in `/proc/PID/fd`), positioned at offset 0; `fstat`
  /// reports the logical size; it can be read, seeked and mapped. A compressed file is
  /// decompressed straight into the memfd's pages: no buffer of the whole file is made.
  /// The caller owns the descriptor and closes it.
  ///
  /// The corresponding C functions are `memfd_create`, `ftruncate`, `mmap`/`pwrite`
  /// and `fcntl(F_ADD_SEALS)`; for C callers, `ermfs_export_memfd`.
  ///
  /// - Parameters:
  ///   - path: an absolute path in this file system.
  ///   - options: ``ExportOptions/sealed``, ``ExportOptions/executable``.
  /// - Returns: the memfd.
  /// - Throws: ENOENT (no such file), EISDIR (a directory), ENOTDIR, EINVAL (unknown
  ///   options or a relative path), EMFILE/ENFILE (out of descriptors), ENOMEM/ENOSPC
  ///   (no memory for the memfd), EACCES (``ExportOptions/executable`` while
  ///   `vm.memfd_noexec` is 2), EBADMSG (corrupt stored data). No descriptor or mapping
  ///   is left behind on any error.
  public func export(_ path: String, options: ExportOptions = []) throws(Errno) -> FileDescriptor {
    let flags = try MemfdExport.creationFlags(for: options)
    return try withContents(ofPath: path) { (contents) throws(Errno) -> FileDescriptor in
      try MemfdExport.export(contents, name: path, flags: flags, options: options)
    }
  }

  /// ``export(_:options:)`` for a file open in this file system (any access mode),
  /// e.g. one still being written.
  ///
  /// - Parameters:
  ///   - descriptor: an open ErmFS descriptor.
  ///   - name: the memfd's name.
  ///   - options: ``ExportOptions/sealed``, ``ExportOptions/executable``.
  /// - Throws: EBADF for a descriptor that is not open, and the errors of
  ///   ``export(_:options:)``.
  public func export(_ descriptor: Descriptor, name: String,
                     options: ExportOptions = []) throws(Errno) -> FileDescriptor {
    let flags = try MemfdExport.creationFlags(for: options)
    return try withContents(of: descriptor) { (contents) throws(Errno) -> FileDescriptor in
      try MemfdExport.export(contents, name: name, flags: flags, options: options)
    }
  }
}

/// How contents reach a memfd (shared by `export` and `exportMany`).
enum MemfdExport {
  /// Files up to this size are copied into a small buffer and `pwrite`n; larger ones
  /// are decompressed or copied straight into a shared mapping of the memfd. A mapping
  /// costs mmap + munmap + page-table work that only pays off for larger files.
  static let mappingThreshold = 256 * 1024

  /// `memfd_create` flags for `options`.
  static func creationFlags(for options: ExportOptions) throws(Errno) -> UInt32 {
    guard options.isSubset(of: .all) else { throw .invalidArgument }
    var flags = ERMFD_MFD_CLOEXEC
    if options.contains(.sealed) { flags |= ERMFD_MFD_ALLOW_SEALING }
    let policy = ExecutableMemfdPolicy.current
    if options.contains(.executable) {
      guard policy.permitsExecutableMemfds else { throw .permissionDenied }
      if policy != .predatesExecControl { flags |= ERMFD_MFD_EXEC }
    } else if policy != .predatesExecControl {
      // Ask for a non-executable memfd explicitly (it also keeps the kernel from logging
      // a warning about memfds created without either flag).
      flags |= ERMFD_MFD_NOEXEC_SEAL
    }
    return flags
  }

  /// Creates a memfd and fills it with `contents`. Closes it again on any error.
  static func export(_ contents: FileContents, name: String, flags: UInt32,
                     options: ExportOptions) throws(Errno) -> FileDescriptor {
    let fd = try Memfd.create(name: name, flags: flags)
    do {
      try fill(fd, from: contents)
      if options.contains(.sealed) { try Memfd.addSeals(.export, to: fd) }
    } catch {
      try? fd.close()
      throw error
    }
    return fd
  }

  /// Writes all of `contents` into the empty memfd `fd` at offset 0, leaving its file
  /// position at 0 and its size equal to the logical size.
  static func fill(_ fd: FileDescriptor, from contents: FileContents) throws(Errno) {
    let size = contents.logicalSize
    if size == 0 { return }
    if size <= mappingThreshold {
      try copyThroughBuffer(fd, from: contents)
    } else {
      try copyThroughMapping(fd, from: contents)
    }
  }

  /// Small files: copy into a heap buffer, one `pwrite` (the write sizes the memfd).
  private static func copyThroughBuffer(_ fd: FileDescriptor, from contents: FileContents) throws(Errno) {
    let size = contents.logicalSize
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { buffer.deallocate() }
    try contents.copy(0..<size, into: buffer)
    try writeAll(fd, UnsafeRawBufferPointer(buffer), at: 0)
  }

  /// Large files: size the memfd, map it, copy or decompress straight into the mapping.
  /// The mapping is gone before this returns (F_SEAL_WRITE needs that).
  private static func copyThroughMapping(_ fd: FileDescriptor, from contents: FileContents) throws(Errno) {
    let size = contents.logicalSize
    try truncate(fd, to: size)
    // MAP_POPULATE allocates every page in one call instead of one fault per page.
    guard let base = ermfd_map_shared(fd.rawValue, size, 1) else { throw Errno(rawValue: errno) }
    defer { munmap(base, size) }
    try contents.copy(0..<size, into: UnsafeMutableRawBufferPointer(start: base, count: size))
  }

  /// `ftruncate`, retried on EINTR.
  static func truncate(_ fd: FileDescriptor, to size: Int) throws(Errno) {
    while ftruncate(fd.rawValue, off_t(size)) != 0 {
      let error = Errno(rawValue: errno)
      if error != .interrupted { throw error }
    }
  }

  /// `pwrite` until every byte is written.
  static func writeAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(Errno) {
    var done = 0
    while done < bytes.count {
      let n = pwrite(fd.rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
      if n < 0 {
        let error = Errno(rawValue: errno)
        if error == .interrupted { continue }
        throw error
      }
      if n == 0 { throw .ioError }
      done += n
    }
  }
}
