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

/// How a regular file's bytes change form: materialise on the first write or truncate,
/// compress on the last close of a modified file, release when nothing refers to the file
/// any more (docs/decisions/compress-on-close.md).
///
/// Each method takes the inode's contents lock itself, never holds it across a
/// compression or a decompression of stored bytes, and keeps the inode's size mirrors and
/// the file-system counters in step.
struct FileStorage: Sendable {
  let chunked: ChunkedGzip
  let pool: WorkerPool
  let allocator: PageAllocator
  let accounting: Accounting
  let maxFileSize: Int
  /// Set in `.background` mode: where closes hand their compressions.
  let background: BackgroundCompressor?

  // MARK: Reading

  /// What a read found under the lock: bytes already copied, or compressed bytes to
  /// decompress after letting go of it (they are immutable).
  private enum ReadPlan {
    case copied(Int)
    case decompress(StoredBytes, ChunkIndex, generation: UInt64, range: Range<Int>)
  }

  /// Copies up to `destination.count` bytes at `offset` (clipped at the end of file);
  /// returns the count. Plain bytes are copied under the contents lock; compressed ones
  /// are decompressed without taking it (through the inode's `CompressedView`), only the
  /// chunks the range touches, partial chunks through `cache`, so readers of one
  /// compressed file neither serialise nor wait for each other.
  func read(_ inode: Inode, at offset: Int, into destination: UnsafeMutableRawBufferPointer,
            cache: inout ChunkCache) throws(Errno) -> Int {
    // A compressed file is read without the contents lock (both locking modes): its
    // stored bytes never change, the view is replaced as a whole.
    if let view = compressedView(of: inode) {
      let size = view.index.logicalSize
      guard offset < size, destination.count > 0 else { return 0 }
      let range = offset..<(offset + min(destination.count, size - offset))
      let target = UnsafeMutableRawBufferPointer(rebasing: destination[0..<range.count])
      try view.stored.withUnsafeBytes { (bytes) throws(Errno) in
        try readThroughCache(range, stored: bytes, index: view.index, generation: view.generation,
                             cache: &cache, into: target)
      }
      return range.count
    }
    let plan = inode.contents.withLock { state -> ReadPlan in
      let size = state.logicalCount
      guard offset < size, destination.count > 0 else { return .copied(0) }
      let count = min(destination.count, size - offset)
      switch state.data {
      case .empty:
        return .copied(0)
      case .plain(let plain):
        plain.buffer.withUnsafeBytes { bytes in
          destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
        }
        return .copied(count)
      case .compressed(let stored, let index):
        return .decompress(stored, index, generation: state.generation, range: offset..<(offset + count))
      }
    }
    switch plan {
    case .copied(let count):
      return count
    case .decompress(let stored, let index, let generation, let range):
      let target = UnsafeMutableRawBufferPointer(rebasing: destination[0..<range.count])
      try stored.withUnsafeBytes { (bytes) throws(Errno) in
        try readThroughCache(range, stored: bytes, index: index, generation: generation,
                             cache: &cache, into: target)
      }
      return range.count
    }
  }

  /// A range over more than two chunks decompresses them in parallel on the pool,
  /// straight into the destination. A smaller range goes through the descriptor's cache,
  /// so small sequential reads decompress each chunk once, and after a sequential read
  /// the next chunks are decompressed ahead on the pool; a random read decompresses only
  /// its own chunk.
  private func readThroughCache(_ range: Range<Int>, stored: UnsafeRawBufferPointer,
                                index: ChunkIndex, generation: UInt64, cache: inout ChunkCache,
                                into destination: UnsafeMutableRawBufferPointer) throws(Errno) {
    let chunks = index.chunks(covering: range)
    do throws(GzipError) {
      if chunks.count > 2 {
        try chunked.read(range, stored: stored, index: index, into: destination, pool: pool)
        cache.noteRead(chunks.upperBound - 1)
        return
      }
      // Whether this read continues the previous one decides the window for its misses.
      let window = cache.window(at: chunks.lowerBound)
      defer { cache.noteRead(chunks.upperBound - 1) }
      for chunk in chunks {
        let chunkRange = index.logicalRange(ofChunk: chunk)
        let wanted = chunkRange.clamped(to: range)
        let target = UnsafeMutableRawBufferPointer(
          rebasing: destination[(wanted.lowerBound - range.lowerBound)..<(wanted.upperBound - range.lowerBound)])
        if !cache.holds(chunk: chunk, generation: generation) {
          let window = min(window, index.entries.count - chunk)
          if window == 1 && wanted == chunkRange {
            // A whole chunk read at random: straight into the destination, no cache.
            try chunked.decompressChunk(chunk, stored: stored, index: index, into: target)
            continue
          }
          let run = chunk..<(chunk + window)
          let bytes = index.logicalRange(ofChunks: run).count
          let space: UnsafeMutableRawBufferPointer
          do throws(Errno) {
            space = try cache.prepare(capacity: window * index.chunkSize)
          } catch {
            throw GzipError(.noMemory, "no memory for the chunk cache")
          }
          try chunked.decompressChunks(run, stored: stored, index: index,
                                       into: UnsafeMutableRawBufferPointer(rebasing: space[0..<bytes]),
                                       pool: pool)
          cache.fill(firstChunk: chunk, count: window, generation: generation)
        }
        cache.copy(chunk: chunk, chunkSize: index.chunkSize, offset: wanted.lowerBound - chunkRange.lowerBound,
                   count: wanted.count, into: target)
      }
    } catch {
      cache.invalidate()
      throw error.errno
    }
  }

  /// Copies exactly `range` (within the file) of a snapshot's form into `destination`.
  func copy(_ data: FileData, _ range: Range<Int>,
            into destination: UnsafeMutableRawBufferPointer) throws(Errno) {
    guard !range.isEmpty else { return }
    switch data {
    case .empty:
      return
    case .plain(let plain):
      plain.buffer.withUnsafeBytes { bytes in
        destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[range]))
      }
    case .compressed(let stored, let index):
      try stored.withUnsafeBytes { (bytes) throws(Errno) in
        do throws(GzipError) {
          // On the pool: an export of a big file decompresses on every core.
          try chunked.read(range, stored: bytes, index: index, into: destination, pool: pool)
        } catch {
          throw error.errno
        }
      }
    }
  }

  // MARK: Changing the bytes

  /// Where a write goes.
  enum WritePosition {
    case at(Int)
    /// At the end of file, found under the contents lock (`O_APPEND`).
    case end
  }

  /// Writes what fits of `bytes` and returns (bytes written, offset written at). Linux's
  /// rule for limits: a write that crosses `maxFileSize` or the quota writes the part
  /// that fits (whole pages, for the quota) and returns a short count; EFBIG or ENOSPC
  /// only when nothing fits.
  ///
  /// - Throws: EFBIG at or past `maxFileSize`, ENOSPC, ENOMEM, EBADMSG when a compressed
  ///   file cannot be materialised.
  func write(_ inode: Inode, _ bytes: UnsafeRawBufferPointer,
             at position: WritePosition) throws(Errno) -> (count: Int, offset: Int) {
    try changing(inode) { (state) throws(Errno) -> (count: Int, offset: Int) in
      let offset: Int
      switch position {
      case .at(let value): offset = value
      case .end: offset = state.logicalCount
      }
      guard offset < maxFileSize else { throw .fileTooLarge }
      var count = min(bytes.count, maxFileSize - offset)
      let oldSize = state.logicalCount
      // A compressed file needs room for all of its plain bytes before anything else.
      if state.isCompressed { _ = try materialise(&state, inode: inode, toExactly: oldSize) }
      let growth = Footprint.pages(max(oldSize, offset + count)) - state.footprint
      if growth > accounting.available {
        let affordable = Footprint.roundDown(state.footprint + accounting.available)
        guard affordable > offset else { throw .noSpace }
        count = min(count, affordable - offset)
      }
      let end = offset + count
      let buffer = try materialise(&state, inode: inode, toExactly: max(oldSize, end), populating: true)
      buffer.withUnsafeMutableBytes { target in
        UnsafeMutableRawBufferPointer(rebasing: target[offset..<end])
          .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
      }
      inode.touchModified()
      return (count, offset)
    }
  }

  /// Sets the logical size: growing zero-fills, shrinking drops the tail. Times change
  /// even when the size does not, as on Linux (`ftruncate`, `O_TRUNC`).
  ///
  /// - Throws: EFBIG past `maxFileSize`, ENOSPC, ENOMEM, EBADMSG.
  func truncate(_ inode: Inode, to newSize: Int) throws(Errno) {
    guard newSize <= maxFileSize else { throw .fileTooLarge }
    if newSize == 0 { return empty(inode) }
    try changing(inode) { (state) throws(Errno) in
      if newSize != state.logicalCount {
        // Exactly `newSize`: shrinking a compressed file decompresses only what stays.
        _ = try materialise(&state, inode: inode, toExactly: newSize)
      }
      state.modified = true
      inode.touchModified()
    }
  }

  /// Zeroes `range` of the file (clipped to its size) without changing the size
  /// (`FALLOC_FL_PUNCH_HOLE`); whole pages inside the range are given back. The file is
  /// marked modified even when the range misses it, as tmpfs does.
  func punchHole(_ inode: Inode, _ range: Range<Int>) throws(Errno) {
    try changing(inode) { (state) throws(Errno) in
      defer { inode.touchModified() }
      let clipped = range.clamped(to: 0..<state.logicalCount)
      guard !clipped.isEmpty else { return }
      let buffer = try materialise(&state, inode: inode, toExactly: state.logicalCount)
      try buffer.zero(clipped)
    }
  }

  /// Runs `body` on the state once the bytes may be changed: a compression that has not
  /// started is withdrawn; one that is reading the buffer is cancelled and waited for (at
  /// most one chunk) with the lock released; bytes pinned by a snapshot are copied first.
  private func changing<R>(_ inode: Inode,
                           _ body: (inout FileContentsState) throws(Errno) -> R) throws(Errno) -> R {
    while true {
      let outcome = try inode.contents.withLock { (state) throws(Errno) -> Change<R> in
        if let job = state.compression {
          if job.withdraw() {
            if case .plain(let plain) = state.data { unpin(plain) }
            state.compression = nil
          } else {
            return .wait(job)
          }
        }
        try copyIfPinned(&state, inode: inode)
        state.version &+= 1
        return .done(try body(&state))
      }
      switch outcome {
      case .done(let value): return value
      case .wait(let job): job.waitUntilFinished()
      }
    }
  }

  private enum Change<R> {
    case done(R)
    case wait(CompressionJob)
  }

  /// Copy on write: plain bytes a snapshot still reads are left to it (they stay counted
  /// until it lets go), and the file goes on with a copy, charged to the quota.
  private func copyIfPinned(_ state: inout FileContentsState, inode: Inode) throws(Errno) {
    guard case .plain(let plain) = state.data, plain.pins > 0 else { return }
    let count = plain.count
    try accounting.reserve(Footprint.pages(count))
    do throws(Errno) {
      let copy = try ExtentBuffer(allocator: allocator, capacity: count, smallOnHeap: true)
      try copy.resize(to: count)
      copy.withUnsafeMutableBytes { target in
        plain.buffer.withUnsafeBytes { source in target.copyMemory(from: source) }
      }
      plain.detached = true
      state.data = .plain(PlainBytes(copy))
    } catch {
      accounting.adjustStored(-Footprint.pages(count))
      throw error
    }
  }

  /// Drops a snapshot's or a compression's pin (under the contents lock). Bytes the file
  /// has let go of meanwhile leave the counters with the last pin.
  func unpin(_ plain: PlainBytes) {
    plain.pins -= 1
    if plain.pins == 0 && plain.detached { accounting.adjustStored(-Footprint.pages(plain.count)) }
  }

  /// Takes the current form off the counters as the file lets go of it; pinned plain bytes
  /// stay counted (they are still in memory) until their last pin goes.
  private func letGo(_ state: inout FileContentsState) {
    accounting.adjustLogical(-state.logicalCount)
    if case .plain(let plain) = state.data, plain.pins > 0 {
      plain.detached = true
    } else {
      accounting.adjustStored(-state.footprint)
    }
  }

  /// Brings the file into plain form, exactly `newSize` bytes long, and returns its
  /// buffer. Reserves quota for the whole change first, so a failure leaves the file and
  /// the counters as they were. A shorter size drops the tail (a compressed file then
  /// decompresses only the bytes that stay).
  ///
  /// `populating`: the caller is about to write the new bytes (a write, not a truncate),
  /// so the new pages are faulted in with one call (`MADV_POPULATE_WRITE`) instead of one
  /// fault per page.
  private func materialise(_ state: inout FileContentsState, inode: Inode,
                           toExactly newSize: Int, populating: Bool = false) throws(Errno) -> ExtentBuffer {
    let oldFootprint = state.footprint
    let oldLogical = state.logicalCount
    let newFootprint = Footprint.pages(newSize)
    let growth = newFootprint - oldFootprint
    try accounting.reserve(growth)  // a shrink reserves nothing; it is recorded on success
    do throws(Errno) {
      let buffer: ExtentBuffer
      switch state.data {
      case .plain(let existing):
        if newSize != existing.count { try existing.buffer.resize(to: newSize, populating: populating) }
        buffer = existing.buffer
      case .empty:
        buffer = try ExtentBuffer(allocator: allocator, capacity: 0, smallOnHeap: true)
        try buffer.resize(to: newSize, populating: populating)
        state.data = .plain(PlainBytes(buffer))
      case .compressed(let stored, let index):
        buffer = try ExtentBuffer(allocator: allocator, capacity: newSize, smallOnHeap: true)
        try buffer.resize(to: newSize, populating: true)
        let kept = min(index.logicalSize, newSize)
        try stored.withUnsafeBytes { (bytes) throws(Errno) in
          try buffer.withUnsafeMutableBytes { (target) throws(Errno) in
            do throws(GzipError) {
              try chunked.read(0..<kept, stored: bytes, index: index,
                               into: UnsafeMutableRawBufferPointer(rebasing: target[0..<kept]), pool: pool)
            } catch {
              throw error.errno
            }
          }
        }
        state.data = .plain(PlainBytes(buffer))
      }
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

  /// Compresses a modified, materialised file after its last close, without holding the
  /// contents lock: the plain bytes are pinned, compressed into new memory on the worker
  /// pool (charged to the quota), and the result installed only if nothing changed the
  /// file meanwhile. Anyone who changes or drops the bytes meanwhile cancels it (see
  /// `CompressionJob`). When the quota has no room for the output, the file is compressed
  /// in place under the lock instead (one chunk of scratch). In `.background` mode the job
  /// goes to the background compressor unless its queue is full.
  func compress(_ inode: Inode) {
    let registered = inode.contents.withLock { state -> (CompressionJob, PlainBytes, UInt64)? in
      guard state.modified, state.compression == nil, !state.released,
            case .plain(let plain) = state.data else { return nil }
      if plain.count == 0 {
        replace(&state, inode: inode, with: .empty)
        state.modified = false
        return nil
      }
      let job = CompressionJob()
      plain.pins += 1
      state.compression = job
      return (job, plain, state.version)
    }
    guard let (job, plain, version) = registered else { return }
    let storage = self
    if let background, background.submit(bytes: plain.count, { storage.run(job, inode, plain, version) }) {
      return
    }
    run(job, inode, plain, version)
  }

  /// Runs a registered job: compress, then install or discard under the lock.
  func run(_ job: CompressionJob, _ inode: Inode, _ plain: PlainBytes, _ version: UInt64) {
    guard job.start() else { return }  // withdrawn while queued: its pin is already gone
    let result = compressOutOfPlace(plain, job: job)
    inode.contents.withLock { state in
      unpin(plain)
      if state.compression === job { state.compression = nil }
      let unchanged: Bool
      if case .plain(let current) = state.data, current === plain, state.version == version,
         !job.isCancelled {
        unchanged = true
      } else {
        unchanged = false
      }
      switch result {
      case .compressed(let stored, let index, let reserved):
        accounting.adjustStored(-reserved)
        if unchanged { install(&state, inode: inode, stored: stored, index: index) }
      case .noRoom:
        if unchanged && plain.pins == 0 { compressInPlace(&state, inode: inode, plain) }
      case .abandoned:
        break
      }
    }
    job.finish()
  }

  private enum Compressed {
    /// The output and the bytes reserved for it (given back when it is installed).
    case compressed(StoredBytes, ChunkIndex, reserved: Int)
    case noRoom
    case abandoned
  }

  /// Chunks compressed per pool call: between two calls the job checks whether it was
  /// cancelled, so a writer waits for at most this much work (8 MiB at 128 KiB chunks,
  /// a few milliseconds with ISA-L on two cores).
  static let chunksPerSegment = 64

  /// The plain bytes into a new buffer of their size (pages are touched only where
  /// stored bytes land), segment by segment on the pool. The quota is charged the whole
  /// size up front, since the output's size is only known at the end.
  private func compressOutOfPlace(_ plain: PlainBytes, job: CompressionJob) -> Compressed {
    let logical = plain.count
    let reserved = Footprint.pages(logical)
    do throws(Errno) { try accounting.reserve(reserved) } catch { return .noRoom }
    // Small files (those that end in a slab slot) compress into heap scratch and are
    // copied into the slot: no mapping made and unmapped per file.
    let small = logical <= PageAllocator.largestSlabBlob
    let output: OutputSpace
    if small {
      guard let base = malloc(logical) else {
        accounting.adjustStored(-reserved)
        return .abandoned
      }
      output = .heap(UnsafeMutableRawBufferPointer(start: base, count: logical))
    } else {
      do {
        let buffer = try ExtentBuffer(allocator: allocator, capacity: logical)
        try buffer.resize(to: logical)
        output = .mapping(buffer)
      } catch {
        accounting.adjustStored(-reserved)
        return .abandoned
      }
    }
    defer { if case .heap(let space) = output { free(space.baseAddress) } }
    var index = ChunkIndex(chunkSize: chunked.chunkSize, logicalSize: logical, entries: [],
                           version: ChunkIndex.currentVersion)
    index.entries.reserveCapacity(index.expectedChunkCount)
    var written = 0
    let segment = chunked.chunkSize * Self.chunksPerSegment
    do throws(GzipError) {
      try plain.buffer.withUnsafeBytes { (input) throws(GzipError) in
        try output.withUnsafeMutableBytes { (target) throws(GzipError) in
          var offset = 0
          while offset < logical {
            guard !job.isCancelled else { throw GzipError(.invalidArgument, "cancelled") }
            let end = min(logical, offset + segment)
            let part = try chunked.compress(
              UnsafeRawBufferPointer(rebasing: input[offset..<end]),
              into: UnsafeMutableRawBufferPointer(rebasing: target[written..<logical]), pool: pool)
            for var entry in part.entries {
              entry.storedOffset += written
              index.entries.append(entry)
            }
            written += part.storedSize
            offset = end
          }
        }
      }
    } catch {
      accounting.adjustStored(-reserved)
      return .abandoned
    }
    switch output {
    case .mapping(let buffer):
      return .compressed(adopt(buffer, count: written), index, reserved: reserved)
    case .heap(let space):
      do {
        let blob = try allocator.makeBlob(copying: UnsafeRawBufferPointer(rebasing: space[0..<written]))
        return .compressed(StoredBytes(blob: blob), index, reserved: reserved)
      } catch {
        accounting.adjustStored(-reserved)
        return .abandoned
      }
    }
  }

  /// Where a compression writes its output.
  private enum OutputSpace {
    case heap(UnsafeMutableRawBufferPointer)
    case mapping(ExtentBuffer)

    func withUnsafeMutableBytes<R, E: Error>(
      _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
      switch self {
      case .heap(let space): return try body(space)
      case .mapping(let buffer): return try buffer.withUnsafeMutableBytes(body)
      }
    }
  }

  /// Turns a compressed output buffer into stored bytes (a slab slot or a trimmed
  /// mapping); keeps the buffer itself, trimmed, when the allocator cannot.
  private func adopt(_ buffer: ExtentBuffer, count: Int) -> StoredBytes {
    do {
      return StoredBytes(blob: try allocator.makeBlob(adopting: buffer, count: count))
    } catch {
      try? buffer.resize(to: count)
      buffer.shrinkToFit()
      return StoredBytes(buffer: buffer)
    }
  }

  private func install(_ state: inout FileContentsState, inode: Inode,
                       stored: StoredBytes, index: ChunkIndex) {
    let logical = state.logicalCount
    letGo(&state)
    state.data = .compressed(stored, index)
    accounting.adjustStored(stored.footprint)
    accounting.adjustLogical(logical)
    state.generation &+= 1
    state.modified = false
    publish(state, inode: inode)
  }

  /// The low-memory path, under the lock: each chunk is compressed where it lies with
  /// `ChunkedGzip.compressInPlace` and moved down behind the previous ones; a chunk that
  /// fails is restored from one chunk of scratch and it and every later chunk stay raw,
  /// so no failure loses data. Without even the scratch the file stays materialised.
  private func compressInPlace(_ state: inout FileContentsState, inode: Inode, _ plain: PlainBytes) {
    let buffer = plain.buffer
    let logical = buffer.count
    guard let base = buffer.baseAddress else { return }
    var index = ChunkIndex(chunkSize: chunked.chunkSize, logicalSize: logical, entries: [],
                           version: ChunkIndex.currentVersion)
    let chunkCount = (logical + chunked.chunkSize - 1) / chunked.chunkSize
    index.entries.reserveCapacity(chunkCount)
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
          var entry = one.entries[0]
          memmove(base + written, base + range.lowerBound + entry.storedOffset, entry.storedLength)
          entry.storedOffset = written
          if entry.isRaw && entry.rawCRC32 == nil {
            entry.rawCRC32 = CRC32.checksum(UnsafeRawBufferPointer(start: base + written, count: entry.storedLength))
          }
          index.entries.append(entry)
          written += entry.storedLength
          continue
        } catch {
          bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<range.count]))
          degraded = true
        }
      }
      if written != range.lowerBound { memmove(base + written, base + range.lowerBound, range.count) }
      let crc = CRC32.checksum(UnsafeRawBufferPointer(start: base + written, count: range.count))
      index.entries.append(.raw(at: written, length: range.count, crc32: crc))
      written += range.count
    }
    let stored = adopt(buffer, count: written)
    accounting.adjustStored(stored.footprint - Footprint.pages(logical))
    state.data = .compressed(stored, index)
    state.generation &+= 1
    state.modified = false
    publish(state, inode: inode)
  }

  /// Gives the memory of a file nobody refers to any more back, cancelling a compression
  /// in flight (it finds out between chunks; nobody waits for it).
  func release(_ inode: Inode) {
    inode.contents.withLock { state in
      guard !state.released else { return }
      if let job = state.compression {
        if job.withdraw(), case .plain(let plain) = state.data { unpin(plain) }
        state.compression = nil
      }
      replace(&state, inode: inode, with: .empty)
      state.released = true
    }
  }

  /// Empties the file without waiting for a compression in flight (`O_TRUNC`): the job
  /// keeps the old bytes alive until it notices, then drops them.
  func empty(_ inode: Inode) {
    inode.contents.withLock { state in
      if let job = state.compression {
        if job.withdraw(), case .plain(let plain) = state.data { unpin(plain) }
        state.compression = nil
      }
      state.version &+= 1
      replace(&state, inode: inode, with: .empty)
      state.modified = true
      inode.touchModified()
    }
  }

  private func replace(_ state: inout FileContentsState, inode: Inode, with data: FileData) {
    letGo(&state)
    state.data = data
    accounting.adjustStored(state.footprint)
    accounting.adjustLogical(state.logicalCount)
    publish(state, inode: inode)
  }

  /// Mirrors a change of the contents where readers look without the lock: the sizes
  /// for `stat`, and the compressed view for `read`. Under the contents lock.
  func publish(_ state: FileContentsState, inode: Inode) {
    inode.size.store(state.logicalCount, ordering: .relaxed)
    inode.storedSize.store(state.footprint, ordering: .relaxed)
    let current = inode.compressedViewBits.load(ordering: .relaxed)
    var fresh: CompressedView? = nil
    if case .compressed(let stored, let index) = state.data {
      if current != 0 {
        let view = Unmanaged<CompressedView>.fromOpaque(UnsafeRawPointer(bitPattern: current)!).takeUnretainedValue()
        if view.stored === stored && view.generation == state.generation { return }
      }
      fresh = CompressedView(stored: stored, index: index, generation: state.generation)
    } else if current == 0 {
      return
    }
    let bits = fresh.map { UInt(bitPattern: Unmanaged.passRetained($0).toOpaque()) } ?? 0
    inode.compressedViewBits.store(bits, ordering: .releasing)
    guard current != 0 else { return }
    // A reader that loaded the old view before the store may not have retained it yet:
    // wait out the readers pinned now (each is pinned for a load and a retain), then let
    // go. Readers never take the contents lock, so waiting under it cannot deadlock; it
    // happens when a compressed file is written to, truncated or freed, each of which
    // costs a decompression or a free of the whole file anyway.
    FileStorage.viewReaders.synchronize()
    Unmanaged<CompressedView>.fromOpaque(UnsafeRawPointer(bitPattern: current)!).release()
  }

  /// Readers of compressed views pin themselves here, only while they load and retain one.
  static let viewReaders = EpochDomain()

  /// The compressed bytes a read may decompress without the contents lock: nil unless the
  /// file is compressed now. Lock-free: a pinned load and a retain.
  func compressedView(of inode: Inode) -> CompressedView? {
    FileStorage.viewReaders.withPinnedThread { () -> CompressedView? in
      let bits = inode.compressedViewBits.load(ordering: .acquiring)
      guard bits != 0 else { return nil }
      return Unmanaged<CompressedView>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
    }
  }
}


// MARK: Snapshots

extension FileStorage {
  /// The current form, pinned when it is plain bytes (see `PlainBytes`).
  func pin(_ inode: Inode) -> FileData {
    inode.contents.withLock { state in
      if case .plain(let plain) = state.data { plain.pins += 1 }
      return state.data
    }
  }

  /// Ends a snapshot `pin` took.
  func unpin(_ data: FileData, of inode: Inode) {
    guard case .plain(let plain) = data else { return }
    inode.contents.withLock { _ in unpin(plain) }
  }
}
