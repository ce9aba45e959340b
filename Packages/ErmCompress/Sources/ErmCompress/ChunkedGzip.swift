import Glibc

/// The stored format: a file cut into fixed-size chunks, each kept as one complete,
/// independent gzip member (or raw when gzip is not smaller, marked in the index), stored
/// back to back, with a `ChunkIndex` beside them.
///
/// When no chunk is raw the stored bytes are themselves a valid multi-member gzip file;
/// `writeGzipStream` produces one for any file. Reading decompresses only the chunks it
/// touches; compressing needs one chunk of scratch, so it works in place.
public struct ChunkedGzip: Sendable {
  /// The chunk size used when none is given: 128 KiB (see docs/decisions/stored-format.md).
  public static let defaultChunkSize = 128 * 1024
  /// Chunk sizes `init` accepts; others are clamped into this range. 64–256 KiB is the
  /// useful band for files; smaller sizes exist for tests and tiny files.
  public static let supportedChunkSizes = 1024...(4 << 20)

  /// The backend that compresses and decompresses members.
  public let codec: any GzipCodec
  /// Logical bytes per chunk for new compressions (reads use the index's own chunk size).
  public let chunkSize: Int
  /// The compression level for new compressions.
  public let level: CompressionLevel

  /// - Parameters:
  ///   - codec: the gzip backend (zlib unless another is given).
  ///   - chunkSize: logical bytes per chunk, clamped into `supportedChunkSizes`.
  ///   - level: the zlib level, as for `gzip -N`.
  public init(codec: any GzipCodec = ZlibCodec(), chunkSize: Int = 128 * 1024, level: CompressionLevel = .default) {
    self.codec = codec
    self.chunkSize = Swift.min(Swift.max(chunkSize, Self.supportedChunkSizes.lowerBound), Self.supportedChunkSizes.upperBound)
    self.level = level
  }

  // MARK: Compression

  /// Compresses `buffer[0..<logicalSize]` in place, chunk by chunk, with one chunk of
  /// scratch. Afterwards the stored bytes are `buffer[0..<index.storedSize]`, which is
  /// never more than `logicalSize`; the rest of the buffer is unspecified.
  ///
  /// Safe because chunk `i` is read completely before it is written, and everything
  /// stored so far is no longer than the logical bytes consumed so far (a stored chunk is
  /// never larger than its raw bytes), so the write position never passes the read one.
  ///
  /// When the codec fails on a chunk (zlib cannot allocate, say), that chunk and every
  /// later one are left exactly where they were; the bytes between the stored prefix and
  /// that chunk are unspecified. Use `compressInPlace(_:logicalSize:storingRawOnFailure:)`
  /// to get a complete index instead of a throw in that case.
  public func compressInPlace(_ buffer: UnsafeMutableRawBufferPointer, logicalSize: Int) throws(GzipError) -> ChunkIndex {
    try compressInPlace(buffer, logicalSize: logicalSize, storingRawOnFailure: false)
  }

  /// `compressInPlace`, but when `storingRawOnFailure` is true a chunk the codec fails on
  /// is stored raw (as are the chunks after it) instead of throwing, so the result is
  /// always a complete, valid index over all the bytes: compression is best effort and
  /// no data is lost. Only invalid arguments throw then.
  public func compressInPlace(
    _ buffer: UnsafeMutableRawBufferPointer, logicalSize: Int, storingRawOnFailure: Bool
  ) throws(GzipError) -> ChunkIndex {
    guard logicalSize >= 0, logicalSize <= buffer.count else {
      throw .invalidArgument("logicalSize \(logicalSize) is outside the \(buffer.count)-byte buffer")
    }
    var index = ChunkIndex(chunkSize: chunkSize, logicalSize: logicalSize, entries: [])
    guard logicalSize > 0, let base = buffer.baseAddress else { return index }
    index.entries.reserveCapacity(index.expectedChunkCount)
    var scratch = ScratchBuffer(count: chunkSize)
    var written = 0
    var failed = false
    for i in 0..<index.expectedChunkCount {
      let range = index.logicalRange(ofChunk: i)
      let input = UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
      let capacity = range.count - 1
      var memberLength: Int? = nil
      if range.count > GzipMember.minimumSize && !failed {
        do {
          // Neither path writes into chunk i or beyond, so a throw leaves them intact.
          if range.lowerBound - written >= capacity {
            // The gap before this chunk is wide enough: compress straight into place.
            memberLength = try checkedMember(
              input, into: UnsafeMutableRawBufferPointer(start: base + written, count: capacity))
          } else {
            let out = UnsafeMutableRawBufferPointer(rebasing: try scratch.bytes()[0..<capacity])
            memberLength = try checkedMember(input, into: out)
            if let memberLength { memmove(base + written, out.baseAddress!, memberLength) }
          }
        } catch {
          guard storingRawOnFailure else { throw error }
          failed = true
        }
      }
      if let memberLength {
        index.entries.append(ChunkEntry(storedOffset: written, storedLength: memberLength, isRaw: false))
        written += memberLength
      } else {
        if written != range.lowerBound { memmove(base + written, input.baseAddress!, range.count) }
        index.entries.append(ChunkEntry(storedOffset: written, storedLength: range.count, isRaw: true))
        written += range.count
      }
    }
    return index
  }

  /// The codec's member for `input`, refusing a codec that claims more than `output` holds.
  private func checkedMember(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    let length = try codec.compressMember(input, level: level, into: output)
    if let length, length < GzipMember.minimumSize || length > output.count {
      throw .invalidArgument("codec reported a \(length)-byte member for a \(output.count)-byte output")
    }
    return length
  }

  /// Streaming compression: reads `pieces` (any sizes, in order) as one file, and hands
  /// each stored chunk (a gzip member, or the raw bytes) to `sink` in order.
  /// Uses at most two chunks of scratch, whatever the file size.
  public func compress<S: Sequence>(
    _ pieces: S, sink: (UnsafeRawBufferPointer) throws(GzipError) -> Void
  ) throws(GzipError) -> ChunkIndex where S.Element == UnsafeRawBufferPointer {
    var index = ChunkIndex(chunkSize: chunkSize, logicalSize: 0, entries: [])
    var stagingBuffer = ScratchBuffer(count: chunkSize)
    var outputBuffer = ScratchBuffer(count: chunkSize)
    let staging = try stagingBuffer.bytes()
    let output = try outputBuffer.bytes()
    var staged = 0
    var storedSize = 0

    func emit(_ chunk: UnsafeRawBufferPointer) throws(GzipError) {
      let memberLength = try compressChunk(chunk, into: output)
      let stored = memberLength.map { UnsafeRawBufferPointer(start: output.baseAddress, count: $0) } ?? chunk
      try sink(stored)
      index.entries.append(ChunkEntry(storedOffset: storedSize, storedLength: stored.count, isRaw: memberLength == nil))
      storedSize += stored.count
      index.logicalSize += chunk.count
    }

    for piece in pieces {
      var offset = 0
      while offset < piece.count {
        if staged == 0 && piece.count - offset >= chunkSize {
          // A whole chunk inside the piece: compress it where it is, without staging.
          try emit(UnsafeRawBufferPointer(rebasing: piece[offset..<offset + chunkSize]))
          offset += chunkSize
          continue
        }
        let count = Swift.min(chunkSize - staged, piece.count - offset)
        (staging.baseAddress! + staged).copyMemory(from: piece.baseAddress! + offset, byteCount: count)
        staged += count
        offset += count
        if staged == chunkSize {
          try emit(UnsafeRawBufferPointer(staging))
          staged = 0
        }
      }
    }
    if staged > 0 { try emit(UnsafeRawBufferPointer(rebasing: staging[0..<staged])) }
    return index
  }

  /// Compresses one contiguous buffer; a convenience over `compress(_:sink:)`.
  public func compress(
    _ bytes: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws(GzipError) -> Void
  ) throws(GzipError) -> ChunkIndex {
    try compress(CollectionOfOne(bytes), sink: sink)
  }

  /// One chunk into `output` (capacity at least the chunk's size): the member's length,
  /// or nil when the chunk stays raw because gzip would not be smaller.
  private func compressChunk(_ chunk: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    guard chunk.count > GzipMember.minimumSize else { return nil }
    return try checkedMember(chunk, into: UnsafeMutableRawBufferPointer(rebasing: output[0..<chunk.count - 1]))
  }

  // MARK: Decompression

  /// Decompresses chunk `i` into `output`, whose size must be
  /// `index.logicalRange(ofChunk: i).count`.
  public func decompressChunk(
    _ i: Int, stored: UnsafeRawBufferPointer, index: ChunkIndex, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    try index.checkShape()
    guard i >= 0, i < index.entries.count else {
      throw .invalidArgument("chunk \(i) does not exist; the file has \(index.entries.count) chunks")
    }
    let logical = index.logicalRange(ofChunk: i).count
    guard output.count == logical else {
      throw .invalidArgument("chunk \(i) holds \(logical) bytes but the output has \(output.count)")
    }
    let bytes = try index.storedBytes(ofChunk: i, in: stored)
    if index.entries[i].isRaw {
      if logical > 0 { output.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: logical) }
    } else {
      do {
        try codec.decompressMember(bytes, into: output)
      } catch {
        throw GzipError(error.kind, "chunk \(i): \(error.message)")
      }
    }
  }

  /// Decompresses exactly `logicalRange` into `output` (`output.count` must equal the
  /// range's count), touching only the chunks the range covers. Whole chunks decompress
  /// straight into `output`; the partial chunks at either edge use one chunk of scratch.
  public func read(
    _ logicalRange: Range<Int>, stored: UnsafeRawBufferPointer, index: ChunkIndex,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    try index.checkShape()
    guard logicalRange.lowerBound >= 0, logicalRange.upperBound <= index.logicalSize else {
      throw .invalidArgument("range \(logicalRange) is outside the \(index.logicalSize)-byte file")
    }
    guard output.count == logicalRange.count else {
      throw .invalidArgument("range \(logicalRange) holds \(logicalRange.count) bytes but the output has \(output.count)")
    }
    var scratch = ScratchBuffer(count: index.chunkSize)
    for i in index.chunks(covering: logicalRange) {
      let chunk = index.logicalRange(ofChunk: i)
      let wanted = chunk.clamped(to: logicalRange)
      let destination = UnsafeMutableRawBufferPointer(
        rebasing: output[(wanted.lowerBound - logicalRange.lowerBound)..<(wanted.upperBound - logicalRange.lowerBound)])
      if wanted == chunk {
        try decompressChunk(i, stored: stored, index: index, into: destination)
      } else if index.entries[i].isRaw {
        let bytes = try index.storedBytes(ofChunk: i, in: stored)
        destination.baseAddress!.copyMemory(
          from: bytes.baseAddress! + (wanted.lowerBound - chunk.lowerBound), byteCount: wanted.count)
      } else {
        let whole = UnsafeMutableRawBufferPointer(rebasing: try scratch.bytes()[0..<chunk.count])
        try decompressChunk(i, stored: stored, index: index, into: whole)
        destination.baseAddress!.copyMemory(
          from: whole.baseAddress! + (wanted.lowerBound - chunk.lowerBound), byteCount: wanted.count)
      }
    }
  }

  /// Hands `sink` a standalone gzip stream of the whole file, piece by piece: compressed
  /// chunks as they are stored, raw chunks wrapped as stored-block members. `gzip -d`
  /// reads the concatenation; an empty file becomes one empty member. Nothing is copied
  /// except the few framing bytes around raw chunks.
  public func writeGzipStream(
    stored: UnsafeRawBufferPointer, index: ChunkIndex, sink: (UnsafeRawBufferPointer) throws(GzipError) -> Void
  ) throws(GzipError) {
    try index.checkShape()
    if index.entries.isEmpty {
      try GzipMember.wrapStored(UnsafeRawBufferPointer(start: nil, count: 0), sink: sink)
      return
    }
    for i in index.entries.indices {
      let bytes = try index.storedBytes(ofChunk: i, in: stored)
      if index.entries[i].isRaw {
        try GzipMember.wrapStored(bytes, sink: sink)
      } else {
        try sink(bytes)
      }
    }
  }
}
