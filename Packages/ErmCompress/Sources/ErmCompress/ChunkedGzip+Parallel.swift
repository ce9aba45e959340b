import Glibc

/// What a worker made of one chunk while compressing on the pool.
private enum ChunkOutcome {
  /// A gzip member of this length now starts at the chunk's own logical offset.
  case member(Int)
  /// The chunk stays raw (incompressible, too small, or the codec failed on it).
  case raw(crc32: UInt32)
}

/// Compression and decompression spread over a `WorkerPool`, chunk by chunk. The stored
/// bytes and the index are those of the single-threaded calls (bit for bit with zlib and
/// libdeflate; ISA-L's members may differ in encoding, never in content: gzip-backends.md).
extension ChunkedGzip {
  /// Compresses `buffer[0..<logicalSize]` in place on `pool`, each chunk on whichever
  /// thread claims it; the calling thread works too. Afterwards the stored bytes are
  /// `buffer[0..<index.storedSize]` (never more than `logicalSize`), so the caller can
  /// adopt the buffer's front; the rest of the buffer is unspecified.
  ///
  /// Memory: each thread compresses a chunk into its own scratch (one chunk, kept by
  /// the worker between jobs) and copies the member back over the chunk's own bytes,
  /// which it has finished reading; one pass then moves the members down to close the
  /// gaps. Nothing else is allocated but the index.
  ///
  /// Never loses data: a chunk the codec fails on (out of memory, say) is stored raw,
  /// and the index always describes every byte. Wraps the codec's `compressMember` (for
  /// ISA-L `isal_deflate_stateless`, for libdeflate `libdeflate_gzip_compress`, for
  /// zlib `deflate`).
  ///
  /// - Throws: `.invalidArgument` (EINVAL) before touching anything, for a level the
  ///   codec does not accept or a `logicalSize` outside the buffer.
  public func compressInPlace(
    _ buffer: UnsafeMutableRawBufferPointer, logicalSize: Int, pool: WorkerPool
  ) throws(GzipError) -> ChunkIndex {
    guard logicalSize >= 0, logicalSize <= buffer.count else {
      throw .invalidArgument("logicalSize \(logicalSize) is outside the \(buffer.count)-byte buffer")
    }
    try codec.checkLevel(level)
    guard logicalSize > 0, let base = buffer.baseAddress else {
      return ChunkIndex(chunkSize: chunkSize, logicalSize: logicalSize, entries: [], version: ChunkIndex.currentVersion)
    }
    return compressOnPool(from: UnsafeRawPointer(base), to: base, logicalSize: logicalSize, pool: pool)
  }

  /// Compresses `input` into `output` on `pool`, leaving `input` untouched; the stored
  /// bytes are `output[0..<index.storedSize]`. `output` needs `input.count` bytes (a
  /// stored file is never larger than its logical bytes); pages past the stored size are
  /// written only where a chunk's member or raw bytes first land (chunk offsets), so an
  /// mmap'd output can be trimmed to the stored size afterwards. Same failure rules as
  /// `compressInPlace(_:logicalSize:pool:)`.
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for an `output` smaller than `input`, an
  ///   overlapping `output`, or a level the codec does not accept.
  public func compress(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, pool: WorkerPool
  ) throws(GzipError) -> ChunkIndex {
    guard output.count >= input.count else {
      throw .invalidArgument("output holds \(output.count) bytes; compressing \(input.count) may need all of them")
    }
    try codec.checkLevel(level)
    guard input.count > 0, let from = input.baseAddress, let to = output.baseAddress else {
      return ChunkIndex(chunkSize: chunkSize, logicalSize: 0, entries: [], version: ChunkIndex.currentVersion)
    }
    let inputEnd = from + input.count
    let outputEnd = UnsafeRawPointer(to) + output.count
    guard inputEnd <= UnsafeRawPointer(to) || outputEnd <= from else {
      throw .invalidArgument("output overlaps input; use compressInPlace for one buffer")
    }
    return compressOnPool(from: from, to: to, logicalSize: input.count, pool: pool)
  }

  /// Both compressions: chunk i's stored form first lands at output offset i * chunkSize,
  /// then one ordered pass moves each down to the end of the stored bytes before it.
  private func compressOnPool(
    from input: UnsafeRawPointer, to output: UnsafeMutableRawPointer, logicalSize: Int, pool: WorkerPool
  ) -> ChunkIndex {
    var index = ChunkIndex(chunkSize: chunkSize, logicalSize: logicalSize, entries: [], version: ChunkIndex.currentVersion)
    let count = index.expectedChunkCount
    let inPlace = input == UnsafeRawPointer(output)
    var outcomes = [ChunkOutcome](repeating: .raw(crc32: 0), count: count)
    outcomes.withUnsafeMutableBufferPointer { outcomes in
      let layout = index
      pool.forEach(count) { i, scratch in
        let range = layout.logicalRange(ofChunk: i)
        let chunk = UnsafeRawBufferPointer(start: input + range.lowerBound, count: range.count)
        let place = output + range.lowerBound
        if range.count > GzipMember.minimumSize,
           let out = try? scratch.bytes(count: range.count - 1),
           let length = try? checkedMember(chunk, into: out) {
          // The chunk has been read completely, so its own bytes can take the member.
          place.copyMemory(from: out.baseAddress!, byteCount: length)
          outcomes[i] = .member(length)
        } else {
          // Incompressible, tiny, or the codec failed: the chunk itself is intact.
          outcomes[i] = .raw(crc32: CRC32.checksum(chunk))
          if !inPlace { place.copyMemory(from: chunk.baseAddress!, byteCount: chunk.count) }
        }
      }
    }
    index.entries.reserveCapacity(count)
    var written = 0
    for i in 0..<count {
      let range = index.logicalRange(ofChunk: i)
      let length: Int
      switch outcomes[i] {
      case .member(let memberLength):
        length = memberLength
        index.entries.append(.member(at: written, length: length))
      case .raw(let crc):
        length = range.count
        index.entries.append(.raw(at: written, length: length, crc32: crc))
      }
      // written <= range.lowerBound always: moving down never overwrites a later chunk.
      if written != range.lowerBound { memmove(output + written, output + range.lowerBound, length) }
      written += length
    }
    return index
  }

  /// Decompresses exactly `logicalRange` into `output` on `pool`: each chunk the range
  /// covers decompresses on whichever thread claims it (whole chunks straight into
  /// `output`, the partial ones at the edges through that thread's scratch). Raw chunks
  /// are checked against their CRC-32. A range inside one chunk runs on the caller alone.
  ///
  /// - Throws: as `read(_:stored:index:into:)`; when several chunks are damaged, the error
  ///   of the first one in file order. `output` is unspecified after a throw.
  public func read(
    _ logicalRange: Range<Int>, stored: UnsafeRawBufferPointer, index: ChunkIndex,
    into output: UnsafeMutableRawBufferPointer, pool: WorkerPool
  ) throws(GzipError) {
    try checkRead(logicalRange, index: index, output: output)
    let chunks = index.chunks(covering: logicalRange)
    guard chunks.count > 1 else {
      try read(logicalRange, stored: stored, index: index, into: output)
      return
    }
    var errors = [GzipError?](repeating: nil, count: chunks.count)
    errors.withUnsafeMutableBufferPointer { errors in
      pool.forEach(chunks.count) { k, scratch in
        let i = chunks.lowerBound + k
        let wanted = index.logicalRange(ofChunk: i).clamped(to: logicalRange)
        let destination = UnsafeMutableRawBufferPointer(
          rebasing: output[(wanted.lowerBound - logicalRange.lowerBound)..<(wanted.upperBound - logicalRange.lowerBound)])
        do throws(GzipError) {
          try decompressPart(ofChunk: i, wanted, stored: stored, index: index, into: destination) { () throws(GzipError) in
            try scratch.bytes(count: index.chunkSize)
          }
        } catch {
          errors[k] = error
        }
      }
    }
    if let first = errors.lazy.compactMap({ $0 }).first { throw first }
  }

  /// Decompresses whole chunks `chunks` into `output` on `pool` (read-ahead for a
  /// sequential reader or an exporter). `output.count` must be
  /// `index.logicalRange(ofChunks: chunks).count`.
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for chunk numbers outside the file or a wrong
  ///   output size; the data errors of `decompressChunk` (EBADMSG).
  public func decompressChunks(
    _ chunks: Range<Int>, stored: UnsafeRawBufferPointer, index: ChunkIndex,
    into output: UnsafeMutableRawBufferPointer, pool: WorkerPool
  ) throws(GzipError) {
    try index.checkShape()
    guard chunks.lowerBound >= 0, chunks.upperBound <= index.entries.count else {
      throw .invalidArgument("chunks \(chunks) are outside the file's \(index.entries.count) chunks")
    }
    try read(index.logicalRange(ofChunks: chunks), stored: stored, index: index, into: output, pool: pool)
  }
}
