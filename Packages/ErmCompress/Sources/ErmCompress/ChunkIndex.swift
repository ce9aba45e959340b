/// Where one chunk of a file lives in its stored bytes.
public struct ChunkEntry: Sendable, Equatable {
  /// Offset of the chunk's first stored byte.
  public var storedOffset: Int
  /// Stored bytes: a whole gzip member, or the raw chunk when `isRaw`.
  public var storedLength: Int
  /// Kept uncompressed because gzip was not smaller; then `storedLength` equals the
  /// chunk's logical length.
  public var isRaw: Bool

  public init(storedOffset: Int, storedLength: Int, isRaw: Bool) {
    self.storedOffset = storedOffset
    self.storedLength = storedLength
    self.isRaw = isRaw
  }
}

/// The index kept beside a file's stored bytes: chunk `i` holds logical bytes
/// `i * chunkSize ..< min((i + 1) * chunkSize, logicalSize)`, stored at `entries[i]`.
public struct ChunkIndex: Sendable, Equatable {
  /// Logical bytes per chunk (the last chunk may be shorter).
  public var chunkSize: Int
  /// The file's uncompressed size.
  public var logicalSize: Int
  /// One entry per chunk, in file order, stored back to back.
  public var entries: [ChunkEntry]

  public init(chunkSize: Int, logicalSize: Int, entries: [ChunkEntry]) {
    self.chunkSize = chunkSize
    self.logicalSize = logicalSize
    self.entries = entries
  }

  /// Total stored bytes (the sum of every entry's `storedLength`).
  public var storedSize: Int { entries.reduce(0) { $0 + $1.storedLength } }

  /// True when every chunk is raw (also for an empty file): the stored bytes are the file.
  public var isAllRaw: Bool { entries.allSatisfy(\.isRaw) }

  /// The number of chunks a file of `logicalSize` bytes has with this chunk size.
  public var expectedChunkCount: Int {
    guard chunkSize > 0, logicalSize > 0 else { return 0 }
    return (logicalSize - 1) / chunkSize + 1
  }

  /// The chunk numbers holding any byte of `logicalRange` (clamped to the file); empty
  /// for an empty range.
  public func chunks(covering logicalRange: Range<Int>) -> Range<Int> {
    guard chunkSize > 0 else { return 0..<0 }
    let lower = Swift.min(Swift.max(logicalRange.lowerBound, 0), logicalSize)
    let upper = Swift.min(Swift.max(logicalRange.upperBound, lower), logicalSize)
    let first = Swift.min(lower / chunkSize, entries.count)
    guard upper > lower else { return first..<first }
    return first..<Swift.min((upper - 1) / chunkSize + 1, entries.count)
  }

  /// The logical bytes chunk `i` holds (empty for a chunk number outside the file).
  public func logicalRange(ofChunk i: Int) -> Range<Int> {
    guard chunkSize > 0, i >= 0, i < expectedChunkCount else { return logicalSize..<logicalSize }
    let lower = i * chunkSize
    return lower..<Swift.min(lower + chunkSize, logicalSize)
  }

  /// Checks the facts every operation relies on, without walking all entries.
  func checkShape() throws(GzipError) {
    guard chunkSize > 0, logicalSize >= 0 else {
      throw .invalidArgument("chunk index has chunkSize \(chunkSize) and logicalSize \(logicalSize)")
    }
    guard entries.count == expectedChunkCount else {
      throw .invalidArgument(
        "chunk index has \(entries.count) entries; \(logicalSize) bytes in \(chunkSize)-byte chunks need \(expectedChunkCount)")
    }
  }

  /// The stored bytes of chunk `i`, checked against the index and `stored`'s size.
  func storedBytes(ofChunk i: Int, in stored: UnsafeRawBufferPointer) throws(GzipError) -> UnsafeRawBufferPointer {
    let entry = entries[i]
    let logical = logicalRange(ofChunk: i).count
    guard entry.storedOffset >= 0, entry.storedLength >= 0,
          !entry.isRaw || entry.storedLength == logical,
          entry.isRaw || entry.storedLength >= GzipMember.minimumSize
    else {
      throw .invalidArgument(
        "chunk \(i) entry (offset \(entry.storedOffset), length \(entry.storedLength), raw \(entry.isRaw)) cannot hold \(logical) bytes")
    }
    guard entry.storedOffset <= stored.count, entry.storedLength <= stored.count - entry.storedOffset else {
      throw .truncated(
        "chunk \(i) is stored at \(entry.storedOffset)..<\(entry.storedOffset + entry.storedLength) but only \(stored.count) stored bytes exist")
    }
    return UnsafeRawBufferPointer(rebasing: stored[entry.storedOffset..<entry.storedOffset + entry.storedLength])
  }
}
