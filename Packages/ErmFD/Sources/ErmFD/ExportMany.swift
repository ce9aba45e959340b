import CErmFD
import ErmCore
import ErmIOUring
import SystemPackage

extension ErmFS {
  /// Exports many files at once: one memfd per path, each a snapshot as with
  /// ``export(_:options:)``, with the copying batched through io_uring.
  ///
  /// First every memfd is created; then each file's snapshot is copied (or
  /// decompressed) into a bounded staging buffer, and whenever the buffer is full its
  /// contents go to their memfds in one io_uring batch of positioned writes
  /// (`IORING_OP_WRITE`, whose length also sizes each memfd). Files larger than the
  /// threshold (256 KiB) are filled on their own as ``export(_:options:)`` does (1 MiB
  /// pieces, `pwrite`): for them the copy, not the system call, is the cost. See
  /// docs/decisions/memfd-export.md and docs/bench/ermfd.md for the measurements.
  ///
  /// One bad path does not fail the others: each path gets its own result, and a
  /// failed path leaves no descriptor behind. When io_uring is unavailable (disabled by
  /// sysctl or seccomp) the writes fall back to `pwrite`, with the same results.
  ///
  /// The corresponding C functions are `memfd_create`, liburing's `io_uring_prep_write`
  /// and `io_uring_submit_and_wait`, `mmap` and `fcntl(F_ADD_SEALS)`.
  ///
  /// - Parameters:
  ///   - paths: absolute paths in this file system (duplicates are allowed).
  ///   - options: applied to every export.
  ///   - ring: a ring to submit through; nil creates one for the call.
  /// - Returns: per path, in order, its memfd (owned by the caller) or its errno
  ///   (ENOENT, EISDIR, EMFILE, ... as for ``export(_:options:)``).
  /// - Throws: only EINVAL for unknown `options`, or EACCES for
  ///   ``ExportOptions/executable`` when the kernel forbids executable memfds.
  public func exportMany(_ paths: [String], options: ExportOptions = [],
                         ring: IOUring? = nil) throws(Errno) -> [Result<FileDescriptor, Errno>] {
    let flags = try MemfdExport.creationFlags(for: options)
    var batch = ExportBatch(fs: self, paths: paths, flags: flags,
                            ring: ring ?? (try? IOUring(depth: ExportBatch.ringDepth)))
    return batch.run(sealing: options.contains(.sealed))
  }
}

/// The state of one `exportMany` call.
struct ExportBatch: ~Copyable {
  /// Bytes of snapshots gathered before one io_uring batch is submitted: small enough
  /// to stay in cache until the kernel copies it (8 MiB measured slower than 1 MiB).
  static let stagingCapacity = 1 << 20
  /// Writes in flight at once.
  static let ringDepth = 512

  let fs: ErmFS
  let paths: [String]
  let ring: IOUring?
  let staging: UnsafeMutableRawBufferPointer
  var descriptors: [FileDescriptor?]
  var failures: [Errno?]
  /// Files copied into `staging` but not yet written: (path index, staging offset, count).
  var pending: [(index: Int, offset: Int, count: Int)] = []
  var stagingUsed = 0

  init(fs: ErmFS, paths: [String], flags: UInt32, ring: IOUring?) {
    self.fs = fs
    self.paths = paths
    self.ring = ring
    self.staging = .allocate(byteCount: ExportBatch.stagingCapacity, alignment: 4096)
    self.failures = [Errno?](repeating: nil, count: paths.count)
    self.descriptors = [FileDescriptor?](repeating: nil, count: paths.count)
    for (i, path) in paths.enumerated() {
      do throws(Errno) {
        descriptors[i] = try Memfd.create(name: path, flags: flags)
      } catch {
        failures[i] = error
      }
    }
  }

  deinit { staging.deallocate() }

  /// Where one file's snapshot went.
  private enum Placement { case done, staged(offset: Int, count: Int), needsRoom }

  mutating func run(sealing: Bool) -> [Result<FileDescriptor, Errno>] {
    for i in paths.indices {
      guard let fd = descriptors[i] else { continue }
      do throws(Errno) {
        var placement = try snapshot(i, into: fd)
        if case .needsRoom = placement {
          flush()
          placement = try snapshot(i, into: fd)
        }
        if case .staged(let offset, let count) = placement {
          pending.append((i, offset, count))
          stagingUsed += count
        }
      } catch {
        fail(i, error)
      }
    }
    flush()
    var results = [Result<FileDescriptor, Errno>]()
    results.reserveCapacity(paths.count)
    for i in paths.indices {
      if let fd = descriptors[i], sealing {
        do throws(Errno) { try Memfd.addSeals(.export, to: fd) } catch { fail(i, error) }
      }
      if let fd = descriptors[i] { results.append(.success(fd)) } else { results.append(.failure(failures[i]!)) }
    }
    return results
  }

  /// Takes file `i`'s snapshot: small files are copied into free staging space, large
  /// ones straight into their memfd.
  private mutating func snapshot(_ i: Int, into fd: FileDescriptor) throws(Errno) -> Placement {
    let free = ExportBatch.stagingCapacity - stagingUsed
    let start = stagingUsed
    let staging = self.staging
    return try fs.withContents(ofPath: paths[i]) { (contents) throws(Errno) -> Placement in
      let size = contents.logicalSize
      if size == 0 { return .done }
      if size > MemfdExport.mappingThreshold {
        try MemfdExport.fill(fd, from: contents)
        return .done
      }
      guard size <= free else { return .needsRoom }
      try contents.copy(0..<size, into: UnsafeMutableRawBufferPointer(
        rebasing: staging[start..<(start + size)]))
      return .staged(offset: start, count: size)
    }
  }

  /// Writes everything staged to its memfd: one io_uring batch, or pwrite without a ring.
  private mutating func flush() {
    defer {
      pending.removeAll(keepingCapacity: true)
      stagingUsed = 0
    }
    if pending.isEmpty { return }
    let staging = UnsafeRawBufferPointer(self.staging)
    if let ring {
      let requests = pending.map {
        WriteRequest(descriptor: descriptors[$0.index]!,
                     bytes: UnsafeRawBufferPointer(rebasing: staging[$0.offset..<($0.offset + $0.count)]),
                     offset: 0)
      }
      do throws(Errno) {
        let results = try ring.write(requests)
        for (p, result) in zip(pending, results) where result.error != nil {
          fail(p.index, result.error!)
        }
        return
      } catch {
        // The ring itself broke (it closed itself): fall through to pwrite, which is
        // idempotent for these positioned writes.
      }
    }
    for p in pending {
      do throws(Errno) {
        try MemfdExport.writeAll(descriptors[p.index]!,
                                 UnsafeRawBufferPointer(rebasing: staging[p.offset..<(p.offset + p.count)]),
                                 at: 0)
      } catch {
        fail(p.index, error)
      }
    }
  }

  /// Records `error` for file `i` and closes its memfd.
  private mutating func fail(_ i: Int, _ error: Errno) {
    if let fd = descriptors[i] { try? fd.close() }
    descriptors[i] = nil
    failures[i] = error
  }
}
