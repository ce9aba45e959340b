import ErmAlloc
import ErmCompress
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a regular file's bytes change form: materialise on the first write or truncate,
/// compress on the last close of a modified file, release when unlinked and closed.
///
/// Every method runs with the inode's contents lock held (`state` is the locked value)
/// and keeps the inode's size mirrors and the file-system byte counters in step.
struct FileStorage: Sendable {
  let chunked: ChunkedGzip
  let allocator: PageAllocator
  let accounting: Accounting
  let maxFileSize: Int

  // MARK: Reading

  /// Copies up to `destination.count` bytes at `offset` (clipped at the end of file);
  /// returns the count. Compressed files decompress only the chunks the range touches,
  /// going through `cache` for chunks read partially.
  func read(_ state: FileContentsState, at offset: Int,
            into destination: UnsafeMutableRawBufferPointer,
            cache: ChunkCache?) throws(Errno) -> Int {
    let size = state.logicalCount
    guard offset < size, destination.count > 0 else { return 0 }
    let count = min(destination.count, size - offset)
    let range = offset..<(offset + count)
    let target = UnsafeMutableRawBufferPointer(rebasing: destination[0..<count])
    try copy(state, range, into: target, cache: cache)
    return count
  }

  /// Copies exactly `range` (which must lie within the file) into `destination`
  /// (`destination.count == range.count`).
  func copy(_ state: FileContentsState, _ range: Range<Int>,
            into destination: UnsafeMutableRawBufferPointer,
            cache: ChunkCache?) throws(Errno) {
    guard !range.isEmpty else { return }
    switch state.data {
    case .empty:
      return  // unreachable: an empty file has no range to copy
    case .materialised(let buffer):
      buffer.withUnsafeBytes { bytes in
        destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[range]))
      }
    case .compressed(let stored, let index):
      try stored.withUnsafeBytes { (bytes) throws(Errno) in
        if let cache {
          try readThroughCache(range, stored: bytes, index: index, generation: state.generation,
                               cache: cache, into: destination)
        } else {
          do throws(GzipError) {
            try chunked.read(range, stored: bytes, index: index, into: destination)
          } catch {
            throw error.errno
          }
        }
      }
    }
  }

  /// Whole chunks decompress straight into the destination; partial ones go through the
  /// per-descriptor cache, so small sequential reads decompress each chunk once.
  private func readThroughCache(_ range: Range<Int>, stored: UnsafeRawBufferPointer,
                                index: ChunkIndex, generation: UInt64, cache: ChunkCache,
                                into destination: UnsafeMutableRawBufferPointer) throws(Errno) {
    for chunk in index.chunks(covering: range) {
      let chunkRange = index.logicalRange(ofChunk: chunk)
      let lower = max(chunkRange.lowerBound, range.lowerBound)
      let upper = min(chunkRange.upperBound, range.upperBound)
      let target = UnsafeMutableRawBufferPointer(
        rebasing: destination[(lower - range.lowerBound)..<(upper - range.lowerBound)])
      let cached = cache.holds(chunk: chunk, generation: generation)
      do throws(GzipError) {
        if !cached && lower == chunkRange.lowerBound && upper == chunkRange.upperBound {
          try chunked.decompressChunk(chunk, stored: stored, index: index, into: target)
          continue
        }
        if !cached {
          let space = cache.prepare(capacity: index.chunkSize)
          try chunked.decompressChunk(
            chunk, stored: stored, index: index,
            into: UnsafeMutableRawBufferPointer(rebasing: space[0..<chunkRange.count]))
          cache.fill(chunk: chunk, generation: generation)
        }
      } catch {
        cache.invalidate()
        throw error.errno
      }
      cache.copy(from: lower - chunkRange.lowerBound, count: upper - lower, into: target)
    }
  }

  // MARK: Writing

  /// Writes `bytes` at `offset`, zero-filling any gap past the end; returns bytes written.
  ///
  /// - Throws: EFBIG past `maxFileSize`, ENOSPC past the quota, ENOMEM, EBADMSG when a
  ///   compressed file cannot be materialised.
  func write(_ state: inout FileContentsState, inode: Inode, _ bytes: UnsafeRawBufferPointer,
             at offset: Int) throws(Errno) -> Int {
    let (end, overflow) = offset.addingReportingOverflow(bytes.count)
    guard !overflow, end <= maxFileSize else { throw .fileTooLarge }
    guard bytes.count > 0 else { return 0 }
    let newSize = max(state.logicalCount, end)
    let buffer = try materialise(&state, inode: inode, growingTo: newSize)
    buffer.withUnsafeMutableBytes { target in
      UnsafeMutableRawBufferPointer(rebasing: target[offset..<end]).copyMemory(from: bytes)
    }
    inode.touchModified()
    return bytes.count
  }

  /// Sets the logical size (`ftruncate`): growing zero-fills, shrinking drops the tail.
  func truncate(_ state: inout FileContentsState, inode: Inode, to newSize: Int) throws(Errno) {
    guard newSize <= maxFileSize else { throw .fileTooLarge }
    let oldSize = state.logicalCount
    guard newSize != oldSize else { return }  // POSIX: times change only if the size does
    if newSize == 0 {
      replace(&state, inode: inode, with: .empty)
    } else {
      // Exactly `newSize`: shrinking a compressed file decompresses only what stays, so
      // it never needs quota for the bytes it drops.
      _ = try materialise(&state, inode: inode, toExactly: newSize)
    }
    state.modified = true
    inode.touchModified()
  }

  /// Brings the file into plain-bytes form at least `size` bytes long and returns its
  /// buffer. Reserves quota for the whole change first, so a failure leaves the file and
  /// the counters as they were.
  private func materialise(_ state: inout FileContentsState, inode: Inode,
                           growingTo size: Int) throws(Errno) -> ExtentBuffer {
    try materialise(&state, inode: inode, toExactly: max(size, state.logicalCount))
  }

  /// `materialise(_:inode:growingTo:)` to exactly `newSize` bytes: a shorter size drops
  /// the tail (a compressed file then decompresses only the bytes that stay).
  private func materialise(_ state: inout FileContentsState, inode: Inode,
                           toExactly newSize: Int) throws(Errno) -> ExtentBuffer {
    let oldStored = state.storedCount
    let oldLogical = state.logicalCount
    let growth = newSize - oldStored
    try accounting.reserve(growth)  // a shrink reserves nothing; it is recorded on success
    do throws(Errno) {
      let buffer: ExtentBuffer
      switch state.data {
      case .materialised(let existing):
        if newSize != existing.count { try existing.resize(to: newSize) }
        buffer = existing
      case .empty:
        buffer = try ExtentBuffer(allocator: allocator, capacity: 0)
        try buffer.resize(to: newSize)
      case .compressed(let stored, let index):
        buffer = try ExtentBuffer(allocator: allocator, capacity: newSize)
        try buffer.resize(to: newSize)
        let kept = min(index.logicalSize, newSize)
        try stored.withUnsafeBytes { (bytes) throws(Errno) in
          try buffer.withUnsafeMutableBytes { (target) throws(Errno) in
            do throws(GzipError) {
              try chunked.read(0..<kept, stored: bytes, index: index,
                               into: UnsafeMutableRawBufferPointer(rebasing: target[0..<kept]))
            } catch {
              throw error.errno
            }
          }
        }
      }
      state.data = .materialised(buffer)
      state.modified = true
      if growth < 0 { accounting.adjustStored(growth) }
      accounting.adjustLogical(newSize - oldLogical)
      publish(state, inode: inode)
      return buffer
    } catch {
      if growth > 0 { accounting.adjustStored(-growth) }
      throw error
    }
  }

  // MARK: Compress on close, release

  /// Compresses a modified, materialised file (last close), in place, one chunk at a
  /// time with `ChunkedGzip.compressInPlace`. Each chunk is first copied to one chunk of
  /// scratch: `compressInPlace` leaves its buffer unspecified when it throws, so a failing
  /// chunk is restored from the copy and it and every later chunk are stored raw. The
  /// result is always a valid index over all the bytes: no failure loses data. When not
  /// even the scratch can be had, the file simply stays materialised.
  func compress(_ state: inout FileContentsState, inode: Inode) {
    guard state.modified, case .materialised(let buffer) = state.data else { return }
    let logical = buffer.count
    if logical == 0 {
      replace(&state, inode: inode, with: .empty)
      state.modified = false
      return
    }
    guard let base = buffer.baseAddress else { return }
    var index = ChunkIndex(chunkSize: chunked.chunkSize, logicalSize: logical, entries: [])
    let chunkCount = (logical + chunked.chunkSize - 1) / chunked.chunkSize
    index.entries.reserveCapacity(chunkCount)
    // malloc, not allocate(byteCount:): running out of memory must leave the file
    // materialised, not trap.
    guard let scratchBase = malloc(chunked.chunkSize) else { return }
    defer { free(scratchBase) }
    let scratch = UnsafeMutableRawBufferPointer(start: scratchBase, count: chunked.chunkSize)
    var written = 0
    var degraded = false
    for chunk in 0..<chunkCount {
      let range = index.logicalRange(ofChunk: chunk)
      let bytes = UnsafeMutableRawBufferPointer(start: base + range.lowerBound, count: range.count)
      if !degraded {
        scratch.copyMemory(from: UnsafeRawBufferPointer(bytes))
        do throws(GzipError) {
          let one = try chunked.compressInPlace(bytes, logicalSize: range.count)
          guard one.entries.count == 1 else { throw GzipError(.invalidArgument, "chunk split") }
          let entry = one.entries[0]
          memmove(base + written, base + range.lowerBound + entry.storedOffset,
                  entry.storedLength)
          index.entries.append(ChunkEntry(storedOffset: written, storedLength: entry.storedLength,
                                          isRaw: entry.isRaw))
          written += entry.storedLength
          continue
        } catch {
          bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<range.count]))
          degraded = true
        }
      }
      if written != range.lowerBound {
        memmove(base + written, base + range.lowerBound, range.count)
      }
      index.entries.append(ChunkEntry(storedOffset: written, storedLength: range.count, isRaw: true))
      written += range.count
    }
    let stored: StoredBytes
    do {
      stored = .blob(try allocator.makeBlob(adopting: buffer, count: written))
    } catch {
      // The stored bytes are at the front of the buffer: keep them there.
      try? buffer.resize(to: written)
      buffer.shrinkToFit()
      stored = .buffer(buffer)
    }
    state.data = .compressed(stored, index)
    state.generation &+= 1
    state.modified = false
    accounting.adjustStored(written - logical)
    publish(state, inode: inode)
  }

  /// Gives an unlinked, closed file's memory back and takes it off the counters.
  func release(_ state: inout FileContentsState, inode: Inode) {
    guard !state.released else { return }
    replace(&state, inode: inode, with: .empty)
    state.released = true
  }

  private func replace(_ state: inout FileContentsState, inode: Inode, with data: FileData) {
    accounting.adjustStored(-state.storedCount)
    accounting.adjustLogical(-state.logicalCount)
    state.data = data
    accounting.adjustStored(state.storedCount)
    accounting.adjustLogical(state.logicalCount)
    publish(state, inode: inode)
  }

  func publish(_ state: FileContentsState, inode: Inode) {
    inode.size.store(state.logicalCount, ordering: .relaxed)
    inode.storedSize.store(state.storedCount, ordering: .relaxed)
  }
}

/// One decompressed chunk, kept per open file description so that reads smaller than a
/// chunk decompress each chunk once. Unchecked Sendable: only ever touched under its
/// open file description's lock.
final class ChunkCache: @unchecked Sendable {
  private var storage: UnsafeMutableRawBufferPointer?
  private var chunk = -1
  private var generation: UInt64 = 0
  private var valid = false

  init() {}

  deinit { storage?.deallocate() }

  func holds(chunk: Int, generation: UInt64) -> Bool {
    valid && self.chunk == chunk && self.generation == generation
  }

  func prepare(capacity: Int) -> UnsafeMutableRawBufferPointer {
    valid = false
    if let storage, storage.count >= capacity { return storage }
    storage?.deallocate()
    let fresh = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    storage = fresh
    return fresh
  }

  func fill(chunk: Int, generation: UInt64) {
    self.chunk = chunk
    self.generation = generation
    valid = true
  }

  func invalidate() { valid = false }

  func copy(from offset: Int, count: Int, into target: UnsafeMutableRawBufferPointer) {
    guard let storage else { return }
    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[offset..<(offset + count)]))
  }
}
