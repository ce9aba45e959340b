import CErmFD
import ErmCompress
import ErmCore
import ErmIOUring
import SystemPackage

extension ErmFS {
  /// Exports many files at once: one memfd per path, each a snapshot as with
  /// ``export(_:options:)``, with the copying batched through io_uring.
  ///
  /// First every memfd is created; then the snapshots of small files are copied (or
  /// decompressed) into a bounded staging buffer, a buffer's worth at a time on every
  /// core (the file system's worker pool), and each full buffer goes to its memfds in
  /// one io_uring batch of positioned writes (`IORING_OP_WRITE`, whose length also sizes
  /// each memfd). Files larger than the
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
    var next = 0
    while next < paths.count {
      let group = gatherGroup(from: &next)
      if group.isEmpty { continue }
      let outcomes = snapshotInParallel(group)
      for (item, outcome) in zip(group, outcomes) {
        switch outcome {
        case .staged:
          pending.append((item.index, item.offset, item.size))
        case .failed(let error):
          fail(item.index, error)
        case .changed:
          // The file changed size since it was measured: take it on its own.
          snapshotAlone(item.index)
        }
      }
      stagingUsed = ExportBatch.stagingCapacity  // the group's slots are in use
      flush()
    }
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

  /// A file of a group and its slot in the staging buffer.
  private struct Slot { var index: Int; var offset: Int; var size: Int }

  private enum Outcome { case staged, changed, failed(Errno) }

  /// The next small files, from `next` on, that fit the staging buffer together (sizes
  /// from `stat`). Large, empty and unmeasurable files are done on their own on the way.
  private mutating func gatherGroup(from next: inout Int) -> [Slot] {
    var group: [Slot] = []
    var used = 0
    while next < paths.count {
      let i = next
      guard descriptors[i] != nil else { next += 1; continue }
      guard let status = try? fs.stat(paths[i]), status.type == .regular,
            status.size > 0, status.size <= Int64(MemfdExport.mappingThreshold) else {
        snapshotAlone(i)  // large, empty, or an error for export to name
        next += 1
        continue
      }
      let size = Int(status.size)
      if used + size > ExportBatch.stagingCapacity { break }
      group.append(Slot(index: i, offset: used, size: size))
      used += size
      next += 1
    }
    return group
  }

  /// Copies (decompresses) every file of `group` into its slot, spread over the pool.
  private func snapshotInParallel(_ group: [Slot]) -> [Outcome] {
    var outcomes = [Outcome](repeating: .changed, count: group.count)
    let fs = self.fs, paths = self.paths, staging = self.staging
    outcomes.withUnsafeMutableBufferPointer { outcomes in
      fs.configuration.pool.forEach(group.count) { k, _ in
        let slot = group[k]
        do throws(Errno) {
          outcomes[k] = try fs.withContents(ofPath: paths[slot.index]) { (contents) throws(Errno) -> Outcome in
            guard contents.logicalSize == slot.size else { return .changed }
            try contents.copy(0..<slot.size, into: UnsafeMutableRawBufferPointer(
              rebasing: staging[slot.offset..<(slot.offset + slot.size)]))
            return .staged
          }
        } catch {
          outcomes[k] = .failed(error)
        }
      }
    }
    return outcomes
  }

  /// File `i` on its own: large files straight into their memfd, small ones through the
  /// staging buffer (flushed first when full).
  private mutating func snapshotAlone(_ i: Int) {
    guard let fd = descriptors[i] else { return }
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
