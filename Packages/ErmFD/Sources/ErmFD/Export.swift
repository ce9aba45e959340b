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
  /// decompressed 1 MiB at a time and written into the memfd: no buffer of the whole
  /// file is made.
  /// The caller owns the descriptor and closes it.
  ///
  /// The corresponding C functions are `memfd_create`, `pwrite` and
  /// `fcntl(F_ADD_SEALS)`; for C callers, `ermfs_export_memfd`.
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

/// How the bytes of an export reach the memfd. Measured in docs/bench/ermfd.md: on
/// this project's machine `pwrite` of 1 MiB pieces beats filling a `MAP_POPULATE`
/// mapping (whose pages are zeroed first and mapped into this process), so it is the
/// default; both keep memory bounded (no buffer of the whole file).
@_spi(Benchmark)
public enum ExportCopyPath: Sendable {
  /// Copy or decompress 1 MiB at a time into a buffer and `pwrite` it (the default).
  case staged
  /// `ftruncate`, `mmap(MAP_SHARED|MAP_POPULATE)`, copy or decompress into the mapping.
  case mapped

  public static let `default` = ExportCopyPath.staged
}

@_spi(Benchmark)
extension ErmFS {
  /// ``export(_:options:)`` through a chosen copy path (for benchmarks).
  public func export(_ path: String, options: ExportOptions = [],
                     copyPath: ExportCopyPath) throws(Errno) -> FileDescriptor {
    let flags = try MemfdExport.creationFlags(for: options)
    return try withContents(ofPath: path) { (contents) throws(Errno) -> FileDescriptor in
      try MemfdExport.export(contents, name: path, flags: flags, options: options, path: copyPath)
    }
  }
}

/// How contents reach a memfd (shared by `export` and `exportMany`).
enum MemfdExport {
  /// Files up to this size go through exportMany's io_uring staging batches; larger
  /// ones are filled on their own (one file's copy costs more than its system calls).
  static let mappingThreshold = 256 * 1024

  /// Whether the kernel knows `MFD_EXEC` / `MFD_NOEXEC_SEAL` (Linux 6.3+, which added
  /// `vm.memfd_noexec` with them). A property of the running kernel: checked once.
  static let kernelHasExecControl = access("/proc/sys/vm/memfd_noexec", F_OK) == 0

  /// `memfd_create` flags for `options`. No system call: the policy itself is enforced by
  /// the kernel (`MFD_EXEC` fails with EACCES when `vm.memfd_noexec` is 2).
  static func creationFlags(for options: ExportOptions) throws(Errno) -> UInt32 {
    guard options.isSubset(of: .all) else { throw .invalidArgument }
    var flags = ERMFD_MFD_CLOEXEC
    if options.contains(.sealed) { flags |= ERMFD_MFD_ALLOW_SEALING }
    if kernelHasExecControl {
      // Ask for a non-executable memfd explicitly (it also keeps the kernel from logging
      // a warning about memfds created without either flag).
      flags |= options.contains(.executable) ? ERMFD_MFD_EXEC : ERMFD_MFD_NOEXEC_SEAL
    }
    return flags
  }

  /// Creates a memfd and fills it with `contents`. Closes it again on any error.
  static func export(_ contents: borrowing FileContents, name: String, flags: UInt32,
                     options: ExportOptions, path: ExportCopyPath = .default) throws(Errno) -> FileDescriptor {
    let fd = try Memfd.create(name: name, flags: flags)
    do {
      try fill(fd, from: contents, path: path)
      if options.contains(.sealed) { try Memfd.addSeals(.export, to: fd) }
    } catch {
      try? fd.close()
      throw error
    }
    return fd
  }

  /// Bytes copied (or decompressed) per `pwrite` on the staged path: small enough to
  /// stay in cache between the copy and the kernel's copy into the memfd.
  static let stagingPiece = 1 << 20

  /// Writes all of `contents` into the empty memfd `fd` at offset 0, leaving its file
  /// position at 0 and its size equal to the logical size.
  static func fill(_ fd: FileDescriptor, from contents: borrowing FileContents,
                   path: ExportCopyPath = .default) throws(Errno) {
    let size = contents.logicalSize
    if size == 0 { return }
    switch path {
    case .staged: try copyThroughBuffer(fd, from: contents)
    case .mapped: try copyThroughMapping(fd, from: contents)
    }
  }

  /// Copy (or decompress) piece by piece into a bounded buffer and `pwrite` each piece:
  /// the writes size the memfd; at most ``stagingPiece`` bytes are buffered.
  private static func copyThroughBuffer(_ fd: FileDescriptor, from contents: borrowing FileContents) throws(Errno) {
    let size = contents.logicalSize
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(size, stagingPiece), alignment: 64)
    defer { buffer.deallocate() }
    var offset = 0
    while offset < size {
      let count = min(buffer.count, size - offset)
      let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
      try contents.copy(offset..<(offset + count), into: piece)
      try writeAll(fd, UnsafeRawBufferPointer(piece), at: offset)
      offset += count
    }
  }

  /// Size the memfd, map it, copy or decompress straight into the mapping.
  /// The mapping is gone before this returns (F_SEAL_WRITE needs that).
  private static func copyThroughMapping(_ fd: FileDescriptor, from contents: borrowing FileContents) throws(Errno) {
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
