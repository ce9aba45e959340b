import CErmFUSE
import ErmCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Answers FUSE requests with ErmCore calls: one request, one call on the inode API
/// (readdirplus adds a lookup per entry it sends, copy_file_range is pread + pwrite).
/// Every method returns 0 or an errno, or a count / negative errno, as the shim expects;
/// the errno is the one ErmCore threw.
///
/// File handles are ErmCore descriptors: the low 32 bits are the descriptor number, bit
/// 32 says it was opened for writing (so its last release can drop the kernel's cached
/// copy once ErmCore has compressed the file).
final class RequestAdapter: Sendable {
  let fs: ErmFS
  let options: MountOptions
  /// The kernel agreed to the writeback cache: it may read through any open file and
  /// tracks O_APPEND itself.
  let writeback = Atomic<Bool>(false)
  let connection = Mutex<ermfuse_connection?>(nil)
  /// The shim session, once created (for counters and cache invalidation).
  let session = Mutex<SessionHandle?>(nil)
  /// Descriptors open for writing per inode: the last one's release drops cached pages.
  private let writers = Mutex<[UInt64: Int]>([:])

  static let writableBit: UInt64 = 1 << 32
  /// The read-only attribute on the root that carries `MountStatistics`.
  static let statisticsAttribute: [UInt8] = Array("user.ermfs.stats".utf8)

  init(fs: ErmFS, options: MountOptions) {
    self.fs = fs
    self.options = options
  }

  // MARK: Names and attributes

  func lookup(_ parent: UInt64, _ name: UnsafePointer<CChar>, _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      out = ermfuse_attr(try fs.lookup(in: .init(rawValue: parent), named: fileName(name)))
      return 0
    } catch { return error.rawValue }
  }

  func forget(_ inode: UInt64, _ count: UInt64) {
    fs.forget(.init(rawValue: inode), count: count)
  }

  func getattr(_ inode: UInt64, _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      out = ermfuse_attr(try fs.status(of: .init(rawValue: inode)))
      return 0
    } catch { return error.rawValue }
  }

  func setattr(_ inode: UInt64, _ changes: ermfuse_setattr, _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      out = ermfuse_attr(try fs.setAttributes(of: .init(rawValue: inode), ErmFS.AttributeChanges(changes)))
      return 0
    } catch { return error.rawValue }
  }

  func readlink(_ inode: UInt64, _ target: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
    do throws(Errno) {
      let bytes = try fs.readLink(.init(rawValue: inode))
      bytes.withUnsafeBytes { source in
        UnsafeMutableRawPointer(target).copyMemory(from: source.baseAddress!, byteCount: min(source.count, capacity))
      }
      return bytes.count
    } catch { return -Int(error.rawValue) }
  }

  func mknod(_ caller: ermfuse_caller, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: UInt32,
             _ device: UInt64, _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      let type = FileType(rawValue: CInterop.Mode(mode) & CInterop.Mode(S_IFMT))
      out = ermfuse_attr(try fs.makeNode(in: .init(rawValue: parent), named: fileName(name), type: type,
                                         permissions: FilePermissions(rawValue: CInterop.Mode(mode) & 0o7777),
                                         device: device, owner: caller.ownership))
      return 0
    } catch { return error.rawValue }
  }

  func mkdir(_ caller: ermfuse_caller, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: UInt32,
             _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      out = ermfuse_attr(try fs.makeDirectory(in: .init(rawValue: parent), named: fileName(name),
                                              permissions: FilePermissions(rawValue: CInterop.Mode(mode) & 0o7777),
                                              owner: caller.ownership))
      return 0
    } catch { return error.rawValue }
  }

  func unlink(_ parent: UInt64, _ name: UnsafePointer<CChar>) -> Int32 {
    do throws(Errno) {
      try fs.unlink(in: .init(rawValue: parent), named: fileName(name))
      return 0
    } catch { return error.rawValue }
  }

  func rmdir(_ parent: UInt64, _ name: UnsafePointer<CChar>) -> Int32 {
    do throws(Errno) {
      try fs.removeDirectory(in: .init(rawValue: parent), named: fileName(name))
      return 0
    } catch { return error.rawValue }
  }

  func symlink(_ caller: ermfuse_caller, _ target: UnsafePointer<CChar>, _ parent: UInt64,
               _ name: UnsafePointer<CChar>, _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      out = ermfuse_attr(try fs.makeSymbolicLink(in: .init(rawValue: parent), named: fileName(name),
                                                 target: bytes(target), owner: caller.ownership))
      return 0
    } catch { return error.rawValue }
  }

  func rename(_ parent: UInt64, _ name: UnsafePointer<CChar>, _ newParent: UInt64,
              _ newName: UnsafePointer<CChar>, _ flags: UInt32) -> Int32 {
    // RENAME_WHITEOUT (overlayfs) is not supported: EINVAL, as for any unknown flag.
    let known = ErmFS.RenameFlags.noReplace.rawValue | ErmFS.RenameFlags.exchange.rawValue
    guard flags & ~known == 0 else { return Errno.invalidArgument.rawValue }
    do throws(Errno) {
      try fs.rename(in: .init(rawValue: parent), named: fileName(name), to: .init(rawValue: newParent),
                    named: fileName(newName), flags: ErmFS.RenameFlags(rawValue: flags))
      return 0
    } catch { return error.rawValue }
  }

  func link(_ inode: UInt64, _ newParent: UInt64, _ newName: UnsafePointer<CChar>,
            _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      out = ermfuse_attr(try fs.link(.init(rawValue: inode), in: .init(rawValue: newParent), named: fileName(newName)))
      return 0
    } catch { return error.rawValue }
  }

  // MARK: Files

  /// The access mode ErmCore opens with. With the writeback cache the kernel reads pages
  /// through whichever file it has, so a write-only open must be able to read.
  private func access(_ flags: Int32) -> FileDescriptor.AccessMode {
    switch flags & O_ACCMODE {
    case O_WRONLY: return writeback.load(ordering: .relaxed) ? .readWrite : .writeOnly
    case O_RDWR: return .readWrite
    default: return .readOnly
    }
  }

  /// O_TRUNC (the kernel sends it with FUSE_CAP_ATOMIC_O_TRUNC) and O_EXCL. O_APPEND is
  /// not passed: every FUSE write names its offset, which the kernel chose under its
  /// inode lock (the end of file for O_APPEND).
  private func openOptions(_ flags: Int32) -> FileDescriptor.OpenOptions {
    var options: FileDescriptor.OpenOptions = []
    if flags & O_TRUNC != 0 { options.insert(.truncate) }
    if flags & O_EXCL != 0 { options.insert(.exclusiveCreate) }
    return options
  }

  private func handle(_ descriptor: ErmFS.Descriptor, writable: Bool) -> UInt64 {
    UInt64(UInt32(bitPattern: descriptor.rawValue)) | (writable ? Self.writableBit : 0)
  }

  private func descriptor(_ fh: UInt64) -> ErmFS.Descriptor {
    ErmFS.Descriptor(rawValue: Int32(bitPattern: UInt32(truncatingIfNeeded: fh)))
  }

  private func addWriter(_ inode: UInt64) {
    writers.withLock { $0[inode, default: 0] += 1 }
  }

  /// One writer fewer; true when it was the last one.
  private func removeWriter(_ inode: UInt64) -> Bool {
    writers.withLock { table -> Bool in
      let remaining = (table[inode] ?? 1) - 1
      table[inode] = remaining > 0 ? remaining : nil
      return remaining == 0
    }
  }

  func open(_ inode: UInt64, _ flags: Int32, _ fh: inout UInt64) -> Int32 {
    do throws(Errno) {
      let mode = access(flags)
      let descriptor = try fs.open(.init(rawValue: inode), mode, options: openOptions(flags))
      let writable = mode != .readOnly
      if writable { addWriter(inode) }
      fh = handle(descriptor, writable: writable)
      return 0
    } catch { return error.rawValue }
  }

  func create(_ caller: ermfuse_caller, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: UInt32,
              _ flags: Int32, _ fh: inout UInt64, _ out: inout ermfuse_attr) -> Int32 {
    do throws(Errno) {
      let access = access(flags)
      let created = try fs.create(in: .init(rawValue: parent), named: fileName(name), access,
                                  options: openOptions(flags),
                                  permissions: FilePermissions(rawValue: CInterop.Mode(mode) & 0o7777),
                                  owner: caller.ownership)
      let writable = access != .readOnly
      if writable { addWriter(created.status.inode) }
      fh = handle(created.descriptor, writable: writable)
      out = ermfuse_attr(created.status)
      return 0
    } catch { return error.rawValue }
  }

  func read(_ fh: UInt64, _ buffer: UnsafeMutableRawPointer, _ size: Int, _ offset: Int64) -> Int {
    do throws(Errno) {
      return try fs.pread(descriptor(fh), into: UnsafeMutableRawBufferPointer(start: buffer, count: size), at: offset)
    } catch { return -Int(error.rawValue) }
  }

  func write(_ fh: UInt64, _ buffer: UnsafeRawPointer, _ size: Int, _ offset: Int64) -> Int {
    do throws(Errno) {
      return try fs.pwrite(descriptor(fh), UnsafeRawBufferPointer(start: buffer, count: size), at: offset)
    } catch { return -Int(error.rawValue) }
  }

  /// FUSE_RELEASE: ErmCore's close, which compresses a modified file on its last close.
  /// The last writer's release then drops the kernel's cached pages (asynchronously, on
  /// the shim's invalidation thread), so the file's memory is its compressed copy.
  func release(_ inode: UInt64, _ fh: UInt64) -> Int32 {
    do throws(Errno) {
      try fs.close(descriptor(fh))
    } catch { return error.rawValue }
    if fh & Self.writableBit != 0, removeWriter(inode), options.dropCacheOnCompress,
       let status = try? fs.status(of: .init(rawValue: inode)), status.size > 0,
       let session = session.withLock({ $0 }) {
      ermfuse_invalidate_inode_later(session.pointer, inode)
    }
    return 0
  }

  func fsync(_ fh: UInt64) -> Int32 {
    do throws(Errno) {
      try fs.fsync(descriptor(fh))
      return 0
    } catch { return error.rawValue }
  }

  func fallocate(_ fh: UInt64, _ mode: Int32, _ offset: Int64, _ length: Int64) -> Int32 {
    do throws(Errno) {
      try fs.fallocate(descriptor(fh), mode: ErmFS.AllocationMode(rawValue: mode), offset: offset, length: length)
      return 0
    } catch { return error.rawValue }
  }

  func lseek(_ fh: UInt64, _ offset: Int64, _ whence: Int32, _ result: inout Int64) -> Int32 {
    do throws(Errno) {
      result = try fs.lseek(descriptor(fh), offset: offset, from: FileDescriptor.SeekOrigin(rawValue: whence))
      return 0
    } catch { return error.rawValue }
  }

  /// FUSE_COPY_FILE_RANGE: ErmCore has no copy call, so the bytes go through a 1 MiB
  /// buffer (pread + pwrite per piece); a short piece ends the copy, as a short write.
  func copyFileRange(_ fhIn: UInt64, _ offsetIn: Int64, _ fhOut: UInt64, _ offsetOut: Int64,
                     _ length: Int, _ flags: UInt32) -> Int {
    guard flags == 0 else { return -Int(Errno.invalidArgument.rawValue) }
    let piece = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(max(length, 1), piece), alignment: 64)
    defer { buffer.deallocate() }
    var copied = 0
    do throws(Errno) {
      while copied < length {
        let want = min(length - copied, buffer.count)
        let got = try fs.pread(descriptor(fhIn), into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]),
                               at: offsetIn + Int64(copied))
        if got == 0 { break }
        let put = try fs.pwrite(descriptor(fhOut), UnsafeRawBufferPointer(rebasing: buffer[0..<got]),
                                at: offsetOut + Int64(copied))
        copied += put
        if put < got { break }
      }
      return copied
    } catch {
      return copied > 0 ? copied : -Int(error.rawValue)
    }
  }

  // MARK: Directories

  func opendir(_ inode: UInt64, _ fh: inout UInt64) -> Int32 {
    do throws(Errno) {
      fh = handle(try fs.open(.init(rawValue: inode), .readOnly), writable: false)
      return 0
    } catch { return error.rawValue }
  }

  func releasedir(_ fh: UInt64) -> Int32 {
    do throws(Errno) {
      try fs.close(descriptor(fh))
      return 0
    } catch { return error.rawValue }
  }

  /// FUSE_READDIR(PLUS): entries after `offset` (ErmCore's cookies) until the buffer is
  /// full. For readdirplus each sent entry but `.` and `..` carries one lookup, added
  /// only once it is known to fit.
  func readdir(_ inode: UInt64, _ offset: Int64, _ plus: Bool, _ buffer: OpaquePointer) -> Int32 {
    let directory = ErmFS.InodeNumber(rawValue: inode)
    let entries: [ErmFS.DirectoryEntry]
    do throws(Errno) {
      entries = try fs.entries(of: directory, after: UInt64(max(0, offset)),
                               limit: max(1, ermfuse_dirbuf_capacity_hint(buffer)))
    } catch { return error.rawValue }
    for entry in entries {
      let name = entry.fileName.bytes
      let isDots = name == [0x2E] || name == [0x2E, 0x2E]
      var attr = ermfuse_attr(inode: entry.inode, type: entry.type)
      if plus && !isDots {
        guard ermfuse_dirbuf_fits(buffer, name.count) != 0 else { break }
        // Removed since the listing was taken: leave it out.
        guard let status = try? fs.lookup(in: directory, named: entry.fileName) else { continue }
        attr = ermfuse_attr(status)
      }
      let full = name.withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) {
          ermfuse_dirbuf_add(buffer, $0.baseAddress, name.count, &attr, Int64(entry.cookie))
        }
      }
      if full != 0 {
        if plus && !isDots { fs.forget(.init(rawValue: attr.ino), count: 1) }
        break
      }
    }
    return 0
  }

  func statfs(_ out: inout ermfuse_statfs) -> Int32 {
    let status = fs.statfs()
    out.block_size = UInt64(status.blockSize)
    out.blocks = status.blocks
    out.blocks_free = status.freeBlocks
    out.files = status.files
    out.files_free = status.freeFiles
    out.name_max = UInt64(status.maximumNameLength)
    return 0
  }

  // MARK: Extended attributes

  private func isStatistics(_ inode: UInt64, _ name: [UInt8]) -> Bool {
    inode == ErmFS.InodeNumber.root.rawValue && name == Self.statisticsAttribute
  }

  func setxattr(_ caller: ermfuse_caller, _ inode: UInt64, _ name: UnsafePointer<CChar>,
                _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32) -> Int32 {
    let key = bytes(name)
    if isStatistics(inode, key) { return Errno.notPermitted.rawValue }
    let data = size > 0 && value != nil ? Array(UnsafeRawBufferPointer(start: value, count: size)) : []
    do throws(Errno) {
      try fs.setAttribute(key, data, of: .init(rawValue: inode), flags: ErmFS.AttributeFlags(rawValue: flags),
                          privileged: caller.isPrivileged)
      return 0
    } catch { return error.rawValue }
  }

  func getxattr(_ caller: ermfuse_caller, _ inode: UInt64, _ name: UnsafePointer<CChar>,
                _ buffer: UnsafeMutableRawPointer?, _ capacity: Int) -> Int {
    let key = bytes(name)
    let value: [UInt8]
    if isStatistics(inode, key) {
      value = Array(statistics().text.utf8)
      if capacity > 0 && value.count > capacity { return -Int(Errno.outOfRange.rawValue) }
    } else {
      do throws(Errno) {
        value = try fs.attributeValue(key, of: .init(rawValue: inode), size: capacity, privileged: caller.isPrivileged)
      } catch { return -Int(error.rawValue) }
    }
    if capacity > 0, let buffer, !value.isEmpty {
      value.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
    return value.count
  }

  func listxattr(_ caller: ermfuse_caller, _ inode: UInt64, _ buffer: UnsafeMutableRawPointer?,
                 _ capacity: Int) -> Int {
    do throws(Errno) {
      let names = try fs.attributeNames(of: .init(rawValue: inode), size: capacity, privileged: caller.isPrivileged)
      if capacity > 0, let buffer, !names.isEmpty {
        names.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
      }
      return names.count
    } catch { return -Int(error.rawValue) }
  }

  func removexattr(_ caller: ermfuse_caller, _ inode: UInt64, _ name: UnsafePointer<CChar>) -> Int32 {
    let key = bytes(name)
    if isStatistics(inode, key) { return Errno.notPermitted.rawValue }
    do throws(Errno) {
      try fs.removeAttribute(key, of: .init(rawValue: inode), privileged: caller.isPrivileged)
      return 0
    } catch { return error.rawValue }
  }

  // MARK: Statistics

  func statistics() -> MountStatistics {
    let counts: [UInt32: UInt64] = session.withLock { handle in
      guard let handle else { return [:] }
      var counts: [UInt32: UInt64] = [:]
      for opcode in MountStatistics.opcodeNames.keys {
        let n = ermfuse_request_count(handle.pointer, opcode)
        if n > 0 { counts[opcode] = n }
      }
      return counts
    }
    return MountStatistics(fs: fs, rememberedInodes: fs.rememberedInodeCount, requests: counts,
                           connection: connection.withLock { $0 }, writers: writers.withLock { $0.count })
  }
}

/// The shim's session pointer. The shim's calls on it are thread-safe.
struct SessionHandle: @unchecked Sendable {
  let pointer: OpaquePointer
}
