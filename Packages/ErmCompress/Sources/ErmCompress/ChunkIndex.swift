/// Where one chunk of a file lives in its stored bytes.
public struct ChunkEntry: Sendable, Equatable {
  /// Offset of the chunk's first stored byte.
  public var storedOffset: Int
  /// Stored bytes: a whole gzip member, or the raw chunk when `isRaw`.
  public var storedLength: Int
  /// CRC-32 of a raw chunk's bytes, checked on every read of the chunk, so a damaged raw
  /// chunk fails like a damaged member. nil for gzip members (they carry their own) and
  /// for raw chunks of a version-1 index. (Declared before `isRaw`: the entry stays 24 bytes.)
  public var rawCRC32: UInt32?
  /// Kept uncompressed because gzip was not smaller; then `storedLength` equals the
  /// chunk's logical length.
  public var isRaw: Bool

  /// An entry; a raw one without `rawCRC32` is only valid in a version-1 index.
  public init(storedOffset: Int, storedLength: Int, isRaw: Bool, rawCRC32: UInt32? = nil) {
    self.storedOffset = storedOffset
    self.storedLength = storedLength
    self.rawCRC32 = rawCRC32
    self.isRaw = isRaw
  }

  /// A chunk stored as one gzip member.
  public static func member(at storedOffset: Int, length: Int) -> ChunkEntry {
    ChunkEntry(storedOffset: storedOffset, storedLength: length, isRaw: false)
  }

  /// A chunk stored raw, with the CRC-32 of its bytes.
  public static func raw(at storedOffset: Int, length: Int, crc32: UInt32) -> ChunkEntry {
    ChunkEntry(storedOffset: storedOffset, storedLength: length, isRaw: true, rawCRC32: crc32)
  }
}

/// The index kept beside a file's stored bytes: chunk `i` holds logical bytes
/// `i * chunkSize ..< min((i + 1) * chunkSize, logicalSize)`, stored at `entries[i]`.
///
/// Version 2 (what every compression here produces) requires a CRC-32 on every raw
/// entry; version 1 (indexes built before raw chunks had checksums) allows raw entries
/// without one and reads them unchecked. See docs/decisions/stored-format.md.
public struct ChunkIndex: Sendable, Equatable {
  /// The version compressions produce: raw chunks carry a CRC-32.
  public static let currentVersion = 2
  /// Versions reads accept.
  public static let supportedVersions = 1...2

  /// The layout version (1 or 2).
  public var version: Int
  /// Logical bytes per chunk (the last chunk may be shorter).
  public var chunkSize: Int
  /// The file's uncompressed size.
  public var logicalSize: Int
  /// One entry per chunk, in file order, stored back to back.
  public var entries: [ChunkEntry]

  /// An index of `version` (1 unless given: the layout callers built by hand before
  /// raw chunks had checksums).
  public init(chunkSize: Int, logicalSize: Int, entries: [ChunkEntry], version: Int = 1) {
    self.version = version
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

  /// The logical bytes chunks `chunks` hold together (they are contiguous).
  public func logicalRange(ofChunks chunks: Range<Int>) -> Range<Int> {
    let lower = logicalRange(ofChunk: chunks.lowerBound).lowerBound
    guard !chunks.isEmpty else { return lower..<lower }
    return lower..<logicalRange(ofChunk: chunks.upperBound - 1).upperBound
  }

  /// Checks the facts every operation relies on, without walking all entries.
  func checkShape() throws(GzipError) {
    guard Self.supportedVersions.contains(version) else {
      throw .invalidArgument("chunk index version \(version) is not one of \(Self.supportedVersions)")
    }
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
    guard !entry.isRaw || entry.rawCRC32 != nil || version < 2 else {
      throw .invalidArgument("chunk \(i) is raw without a CRC-32, which a version-\(version) index requires")
    }
    guard entry.storedOffset <= stored.count, entry.storedLength <= stored.count - entry.storedOffset else {
      throw .truncated(
        "chunk \(i) is stored at \(entry.storedOffset)..<\(entry.storedOffset + entry.storedLength) but only \(stored.count) stored bytes exist")
    }
    return UnsafeRawBufferPointer(rebasing: stored[entry.storedOffset..<entry.storedOffset + entry.storedLength])
  }

  /// The bytes of raw chunk `i`, after checking them against the entry's CRC-32.
  func verifiedRawBytes(ofChunk i: Int, in stored: UnsafeRawBufferPointer) throws(GzipError) -> UnsafeRawBufferPointer {
    let bytes = try storedBytes(ofChunk: i, in: stored)
    if let expected = entries[i].rawCRC32 {
      let actual = CRC32.checksum(bytes)
      guard actual == expected else {
        throw .checksumMismatch(
          "chunk \(i): raw chunk's CRC-32 is 0x\(GzipMember.hex32(expected)) in the index, its bytes give 0x\(GzipMember.hex32(actual))")
      }
    }
    return bytes
  }
}
