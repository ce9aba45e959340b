import Glibc

/// The stored format: a file cut into fixed-size chunks, each kept as one complete,
/// independent gzip member (or raw when gzip is not smaller, marked in the index with a
/// CRC-32), stored back to back, with a `ChunkIndex` beside them.
///
/// When no chunk is raw the stored bytes are themselves a valid multi-member gzip file;
/// `writeGzipStream` produces one for any file. Reading decompresses only the chunks it
/// touches; compressing needs one chunk of scratch, so it works in place. The `pool:`
/// variants (ChunkedGzip+Parallel.swift) spread chunks over a `WorkerPool`.
public struct ChunkedGzip: Sendable {
  /// The chunk size used when none is given: 128 KiB (see docs/decisions/stored-format.md).
  public static let defaultChunkSize = 128 * 1024
  /// Chunk sizes accepted. 64–256 KiB is the useful band for files; smaller sizes exist
  /// for tests and tiny files.
  public static let supportedChunkSizes = 1024...(4 << 20)

  /// The decoder `init(backend:...)` uses when none is named: libdeflate decoded fastest
  /// and had the cheapest random 4 KiB read here (docs/bench/ermcompress.md).
  public static let defaultDecoder = GzipBackend.libdeflate

  /// The backend that compresses new chunks.
  public let codec: any GzipCodec
  /// The backend that decompresses members (any backend reads any backend's members).
  public let decoder: any GzipCodec
  /// Logical bytes per chunk for new compressions (reads use the index's own chunk size).
  public let chunkSize: Int
  /// The compression level for new compressions, in `codec.supportedLevels`.
  public let level: CompressionLevel

  /// A format that compresses and decompresses with `codec`.
  ///
  /// Nothing is checked here: `chunkSize` is clamped into `supportedChunkSizes`, and a
  /// level outside `codec.supportedLevels` makes every compression throw
  /// `.invalidArgument` (EINVAL). `init(backend:level:chunkSize:decoder:)` checks both
  /// up front.
  ///
  /// - Parameters:
  ///   - codec: the gzip backend (zlib unless another is given).
  ///   - chunkSize: logical bytes per chunk, clamped into `supportedChunkSizes`.
  ///   - level: the level, as for the backend's command-line tool.
  public init(codec: any GzipCodec = ZlibCodec(), chunkSize: Int = 128 * 1024, level: CompressionLevel = .default) {
    self.codec = codec
    self.decoder = codec
    self.chunkSize = Swift.min(Swift.max(chunkSize, Self.supportedChunkSizes.lowerBound), Self.supportedChunkSizes.upperBound)
    self.level = level
  }

  /// A format that compresses with `backend` at `level` and decompresses with `decoder`.
  ///
  /// - Parameters:
  ///   - backend: which library compresses (`.isal`, `.libdeflate`, `.zlib`).
  ///   - level: a level in `backend.levels`; nil for `backend.defaultLevel`.
  ///   - chunkSize: logical bytes per chunk, in `supportedChunkSizes`.
  ///   - decoder: which library decompresses; nil for libdeflate, the fastest decoder
  ///     measured here (any backend reads every backend's members).
  /// - Throws: `.invalidArgument` (EINVAL) for a level outside the backend's range or a
  ///   chunk size outside `supportedChunkSizes`.
  public init(
    backend: GzipBackend, level: CompressionLevel? = nil, chunkSize: Int = defaultChunkSize,
    decoder: GzipBackend? = nil
  ) throws(GzipError) {
    let level = level ?? backend.defaultLevel
    let codec = backend.codec
    try codec.checkLevel(level)
    guard Self.supportedChunkSizes.contains(chunkSize) else {
      throw .invalidArgument(
        "chunk size \(chunkSize) is outside \(Self.supportedChunkSizes.lowerBound)...\(Self.supportedChunkSizes.upperBound)")
    }
    self.codec = codec
    self.decoder = (decoder ?? Self.defaultDecoder).codec
    self.chunkSize = chunkSize
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
  /// When the codec fails on a chunk (it cannot allocate, say), that chunk and every
  /// later one are left exactly where they were; the bytes between the stored prefix and
  /// that chunk are unspecified. Use `compressInPlace(_:logicalSize:storingRawOnFailure:)`
  /// to get a complete index instead of a throw in that case.
  public func compressInPlace(_ buffer: UnsafeMutableRawBufferPointer, logicalSize: Int) throws(GzipError) -> ChunkIndex {
    try compressInPlace(buffer, logicalSize: logicalSize, storingRawOnFailure: false)
  }

  /// `compressInPlace`, but when `storingRawOnFailure` is true a chunk the codec fails on
  /// is stored raw (as are the chunks after it) instead of throwing, so the result is
  /// always a complete, valid index over all the bytes: compression is best effort and
  /// no data is lost. Only invalid arguments (a level the codec does not accept, a
  /// `logicalSize` outside the buffer) throw then, before anything is touched.
  public func compressInPlace(
    _ buffer: UnsafeMutableRawBufferPointer, logicalSize: Int, storingRawOnFailure: Bool
  ) throws(GzipError) -> ChunkIndex {
    guard logicalSize >= 0, logicalSize <= buffer.count else {
      throw .invalidArgument("logicalSize \(logicalSize) is outside the \(buffer.count)-byte buffer")
    }
    try codec.checkLevel(level)
    var index = ChunkIndex(chunkSize: chunkSize, logicalSize: logicalSize, entries: [], version: ChunkIndex.currentVersion)
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
        index.entries.append(.member(at: written, length: memberLength))
        written += memberLength
      } else {
        let crc = CRC32.checksum(input)
        if written != range.lowerBound { memmove(base + written, input.baseAddress!, range.count) }
        index.entries.append(.raw(at: written, length: range.count, crc32: crc))
        written += range.count
      }
    }
    return index
  }

  /// The largest member worth keeping for a chunk of `count` bytes: it must save at least
  /// 1/32 of the chunk (4 KiB of 128 KiB, btrfs's "at least one page" rule). A member
  /// that saves less costs a whole inflate on every read of the chunk (150 µs for 128
  /// KiB) to save under 3% of its memory; a raw chunk reads at copy speed. (Measured:
  /// fio's "random" buffers deflate to 99.4%, and random 4 KiB reads of such a file
  /// through the mount fell from ~80k to ~3k IOPS when they were kept as members.)
  public static func largestWorthwhileMember(forChunkOf count: Int) -> Int {
    count - max(1, count / 32)
  }

  /// The codec's member for `input` if it is worth keeping (`largestWorthwhileMember`),
  /// nil otherwise; refuses a codec that claims more than `output` holds.
  func checkedMember(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    let limit = min(output.count, Self.largestWorthwhileMember(forChunkOf: input.count))
    guard limit >= GzipMember.minimumSize else { return nil }
    let output = UnsafeMutableRawBufferPointer(rebasing: output[0..<limit])
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
    try codec.checkLevel(level)
    var index = ChunkIndex(chunkSize: chunkSize, logicalSize: 0, entries: [], version: ChunkIndex.currentVersion)
    var stagingBuffer = ScratchBuffer(count: chunkSize)
    var outputBuffer = ScratchBuffer(count: chunkSize)
    let staging = try stagingBuffer.bytes()
    let output = try outputBuffer.bytes()
    var staged = 0
    var storedSize = 0

    func emit(_ chunk: UnsafeRawBufferPointer) throws(GzipError) {
      let memberLength = try compressChunk(chunk, into: output)
      if let memberLength {
        try sink(UnsafeRawBufferPointer(start: output.baseAddress, count: memberLength))
        index.entries.append(.member(at: storedSize, length: memberLength))
        storedSize += memberLength
      } else {
        try sink(chunk)
        index.entries.append(.raw(at: storedSize, length: chunk.count, crc32: CRC32.checksum(chunk)))
        storedSize += chunk.count
      }
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
  func compressChunk(_ chunk: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    guard chunk.count > GzipMember.minimumSize else { return nil }
    return try checkedMember(chunk, into: UnsafeMutableRawBufferPointer(rebasing: output[0..<chunk.count - 1]))
  }

  // MARK: Decompression

  /// Decompresses chunk `i` into `output`, whose size must be
  /// `index.logicalRange(ofChunk: i).count`. A raw chunk is checked against its CRC-32.
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for a chunk number, output size or index that
  ///   do not fit together; `.corrupt`, `.truncated`, `.checksumMismatch`,
  ///   `.sizeMismatch` (EBADMSG) for damaged data, the message starting "chunk i:".
  public func decompressChunk(
    _ i: Int, stored: UnsafeRawBufferPointer, index: ChunkIndex, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    try index.checkShape()
    guard i >= 0, i < index.entries.count else {
      throw .invalidArgument("chunk \(i) does not exist; the file has \(index.entries.count) chunks")
    }
    try decompressCheckedChunk(i, stored: stored, index: index, into: output)
  }

  /// `decompressChunk` for an index whose shape was checked and a chunk that exists.
  func decompressCheckedChunk(
    _ i: Int, stored: UnsafeRawBufferPointer, index: ChunkIndex, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    let logical = index.logicalRange(ofChunk: i).count
    guard output.count == logical else {
      throw .invalidArgument("chunk \(i) holds \(logical) bytes but the output has \(output.count)")
    }
    if index.entries[i].isRaw {
      let bytes = try index.verifiedRawBytes(ofChunk: i, in: stored)
      if logical > 0 { output.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: logical) }
      return
    }
    let bytes = try index.storedBytes(ofChunk: i, in: stored)
    do {
      try decoder.decompressMember(bytes, into: output)
    } catch {
      throw GzipError(error.kind, "chunk \(i): \(error.message)")
    }
  }

  /// Decompresses the part `wanted` (logical offsets, within chunk `i`) of chunk `i` into
  /// `destination`, through `scratch` when the chunk is compressed and only partly wanted.
  func decompressPart(
    ofChunk i: Int, _ wanted: Range<Int>, stored: UnsafeRawBufferPointer, index: ChunkIndex,
    into destination: UnsafeMutableRawBufferPointer, scratch: () throws(GzipError) -> UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    let chunk = index.logicalRange(ofChunk: i)
    if wanted == chunk {
      try decompressCheckedChunk(i, stored: stored, index: index, into: destination)
    } else if index.entries[i].isRaw {
      let bytes = try index.verifiedRawBytes(ofChunk: i, in: stored)
      destination.baseAddress!.copyMemory(
        from: bytes.baseAddress! + (wanted.lowerBound - chunk.lowerBound), byteCount: wanted.count)
    } else {
      let whole = UnsafeMutableRawBufferPointer(rebasing: try scratch()[0..<chunk.count])
      try decompressCheckedChunk(i, stored: stored, index: index, into: whole)
      destination.baseAddress!.copyMemory(
        from: whole.baseAddress! + (wanted.lowerBound - chunk.lowerBound), byteCount: wanted.count)
    }
  }

  /// Decompresses exactly `logicalRange` into `output` (`output.count` must equal the
  /// range's count), touching only the chunks the range covers. Whole chunks decompress
  /// straight into `output`; the partial chunks at either edge use one chunk of scratch.
  /// A raw chunk is checked against its CRC-32 even when only part of it is read.
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for a range outside the file or a wrong output
  ///   size; the data errors of `decompressChunk` (EBADMSG).
  public func read(
    _ logicalRange: Range<Int>, stored: UnsafeRawBufferPointer, index: ChunkIndex,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    try checkRead(logicalRange, index: index, output: output)
    var scratch = ScratchBuffer(count: index.chunkSize)
    for i in index.chunks(covering: logicalRange) {
      let wanted = index.logicalRange(ofChunk: i).clamped(to: logicalRange)
      let destination = UnsafeMutableRawBufferPointer(
        rebasing: output[(wanted.lowerBound - logicalRange.lowerBound)..<(wanted.upperBound - logicalRange.lowerBound)])
      try decompressPart(ofChunk: i, wanted, stored: stored, index: index, into: destination) { () throws(GzipError) in
        try scratch.bytes()
      }
    }
  }

  /// The argument checks shared by every read.
  func checkRead(_ logicalRange: Range<Int>, index: ChunkIndex, output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    try index.checkShape()
    guard logicalRange.lowerBound >= 0, logicalRange.upperBound <= index.logicalSize else {
      throw .invalidArgument("range \(logicalRange) is outside the \(index.logicalSize)-byte file")
    }
    guard output.count == logicalRange.count else {
      throw .invalidArgument("range \(logicalRange) holds \(logicalRange.count) bytes but the output has \(output.count)")
    }
  }

  /// Hands `sink` a standalone gzip stream of the whole file, piece by piece: compressed
  /// chunks as they are stored, raw chunks (after their CRC-32 is checked) wrapped as
  /// stored-block members. `gzip -d` reads the concatenation; an empty file becomes one
  /// empty member. Nothing is copied except the few framing bytes around raw chunks.
  public func writeGzipStream(
    stored: UnsafeRawBufferPointer, index: ChunkIndex, sink: (UnsafeRawBufferPointer) throws(GzipError) -> Void
  ) throws(GzipError) {
    try index.checkShape()
    if index.entries.isEmpty {
      try GzipMember.wrapStored(UnsafeRawBufferPointer(start: nil, count: 0), crc: 0, sink: sink)
      return
    }
    for i in index.entries.indices {
      if index.entries[i].isRaw {
        let bytes = try index.verifiedRawBytes(ofChunk: i, in: stored)
        try GzipMember.wrapStored(bytes, crc: index.entries[i].rawCRC32 ?? CRC32.checksum(bytes), sink: sink)
      } else {
        try sink(try index.storedBytes(ofChunk: i, in: stored))
      }
    }
  }
}
