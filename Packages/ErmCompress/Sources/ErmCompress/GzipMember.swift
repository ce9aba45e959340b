import CErmZlib

/// The RFC 1952 framing around a deflate stream: header, trailer and the stored-block
/// form used to wrap raw bytes. zlib only ever sees raw deflate (see erm_zlib.c), so the
/// framing is parsed here, where every failure can be named precisely.
enum GzipMember {
  static let headerSize = 10
  static let trailerSize = 8
  /// Header + the 2-byte empty fixed block + trailer: no member is smaller.
  static let minimumSize = 20
  /// A deflate stored block holds at most this many bytes (LEN is 16 bits).
  static let storedBlockLimit = 65_535

  static let magic0: UInt8 = 0x1f
  static let magic1: UInt8 = 0x8b
  static let methodDeflate: UInt8 = 8
  static let flagText: UInt8 = 0x01
  static let flagHeaderCRC: UInt8 = 0x02
  static let flagExtra: UInt8 = 0x04
  static let flagName: UInt8 = 0x08
  static let flagComment: UInt8 = 0x10
  static let flagsReserved: UInt8 = 0xe0
  static let osUnix: UInt8 = 3

  /// Writes the 10-byte header ErmCompress emits: no name, MTIME 0 (stored data must not
  /// depend on the clock), XFL as gzip sets it, OS Unix.
  static func writeHeader(into out: UnsafeMutableRawPointer, level: CompressionLevel) {
    let xfl: UInt8 = level.rawValue == 9 ? 2 : (level.rawValue == 1 ? 4 : 0)
    let bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
      (magic0, magic1, methodDeflate, 0, 0, 0, 0, 0, xfl, osUnix)
    withUnsafeBytes(of: bytes) { out.copyMemory(from: $0.baseAddress!, byteCount: headerSize) }
  }

  /// Writes CRC-32 and ISIZE (the size modulo 2^32), both little-endian.
  static func writeTrailer(into out: UnsafeMutableRawPointer, crc: UInt32, size: Int) {
    out.storeBytes(of: crc.littleEndian, toByteOffset: 0, as: UInt32.self)
    out.storeBytes(of: UInt32(truncatingIfNeeded: size).littleEndian, toByteOffset: 4, as: UInt32.self)
  }

  static func readLE32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
  }

  /// Parses the member header starting at `start`, accepting every optional field other
  /// tools write (FEXTRA, FNAME, FCOMMENT, FHCRC, FTEXT).
  ///
  /// - Returns: the offset of the first deflate byte.
  static func parseHeader(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(GzipError) -> Int {
    let available = bytes.count - start
    if available >= 1 && bytes[start] != magic0 || available >= 2 && bytes[start + 1] != magic1 {
      let shown = bytes[start..<min(start + 2, bytes.count)].map { hex($0) }.joined(separator: " ")
      throw .corrupt("not a gzip member at offset \(start): magic bytes are \(shown), expected 1f 8b")
    }
    guard available >= headerSize else {
      throw .truncated("gzip header at offset \(start) ends after \(available) of \(headerSize) bytes")
    }
    let method = bytes[start + 2]
    guard method == methodDeflate else {
      throw .corrupt("gzip member at offset \(start) uses compression method \(method); only 8 (deflate) exists")
    }
    let flags = bytes[start + 3]
    guard flags & flagsReserved == 0 else {
      throw .corrupt("gzip member at offset \(start) sets reserved header flag bits (FLG=0x\(hex(flags)))")
    }
    var position = start + headerSize
    if flags & flagExtra != 0 {
      guard bytes.count - position >= 2 else {
        throw .truncated("gzip header at offset \(start) ends inside the FEXTRA length")
      }
      let extraLength = Int(bytes[position]) | Int(bytes[position + 1]) << 8
      position += 2
      guard bytes.count - position >= extraLength else {
        throw .truncated("gzip header at offset \(start) ends inside its \(extraLength)-byte FEXTRA field")
      }
      position += extraLength
    }
    for (flag, name) in [(flagName, "FNAME"), (flagComment, "FCOMMENT")] where flags & flag != 0 {
      guard let end = bytes[position...].firstIndex(of: 0) else {
        throw .truncated("gzip header at offset \(start) ends inside its zero-terminated \(name) field")
      }
      position = end + 1
    }
    if flags & flagHeaderCRC != 0 {
      guard bytes.count - position >= 2 else {
        throw .truncated("gzip header at offset \(start) ends inside its FHCRC field")
      }
      let stored = UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
      let computed = UInt16(truncatingIfNeeded: erm_crc32(0, bytes.baseAddress! + start, position - start))
      guard stored == computed else {
        throw .checksumMismatch(
          "gzip header at offset \(start): FHCRC is 0x\(hex16(stored)), header bytes give 0x\(hex16(computed))")
      }
      position += 2
    }
    return position
  }

  /// Checks the trailer at `offset` against what the member decompressed to.
  static func checkTrailer(
    _ bytes: UnsafeRawBufferPointer, at offset: Int, memberStart: Int, crc: UInt32, size: Int
  ) throws(GzipError) {
    guard bytes.count - offset >= trailerSize else {
      throw .truncated(
        "gzip member at offset \(memberStart) ends inside its trailer (\(bytes.count - offset) of \(trailerSize) bytes)")
    }
    let storedCRC = readLE32(bytes, at: offset)
    guard storedCRC == crc else {
      throw .checksumMismatch(
        "gzip member at offset \(memberStart): trailer CRC-32 is 0x\(hex32(storedCRC)), data gives 0x\(hex32(crc))")
    }
    let storedSize = readLE32(bytes, at: offset + 4)
    guard storedSize == UInt32(truncatingIfNeeded: size) else {
      throw .sizeMismatch(
        "gzip member at offset \(memberStart): trailer ISIZE is \(storedSize), data is \(size) bytes")
    }
  }

  /// Hands `raw` to `sink` as one gzip member made of deflate stored blocks, so any gzip
  /// reader can read bytes that ErmCompress kept uncompressed. The payload is passed
  /// through without copying; `crc` is its CRC-32 (already checked by the caller).
  static func wrapStored(
    _ raw: UnsafeRawBufferPointer, crc: UInt32,
    sink: (UnsafeRawBufferPointer) throws(GzipError) -> Void
  ) throws(GzipError) {
    // Header (10) + one block header (5) is the largest framing piece emitted at once.
    var framing: (UInt64, UInt64) = (0, 0)
    try withUnsafeMutableBytes(of: &framing) { (frame: UnsafeMutableRawBufferPointer) throws(GzipError) in
      let base = frame.baseAddress!
      writeHeader(into: base, level: .storeOnly)
      var length = headerSize
      var offset = 0
      repeat {
        let blockLength = min(raw.count - offset, storedBlockLimit)
        let isLast = offset + blockLength == raw.count
        // BFINAL in bit 0, BTYPE 00 (stored); a stored block's header ends at a byte boundary.
        base.storeBytes(of: isLast ? 1 : 0, toByteOffset: length, as: UInt8.self)
        base.storeBytes(of: UInt16(blockLength).littleEndian, toByteOffset: length + 1, as: UInt16.self)
        base.storeBytes(of: (~UInt16(blockLength)).littleEndian, toByteOffset: length + 3, as: UInt16.self)
        length += 5
        try sink(UnsafeRawBufferPointer(start: base, count: length))
        length = 0
        if blockLength > 0 {
          try sink(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + blockLength]))
        }
        offset += blockLength
      } while offset < raw.count
      writeTrailer(into: base, crc: crc, size: raw.count)
      try sink(UnsafeRawBufferPointer(start: base, count: trailerSize))
    }
  }

  static func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return digits.count == 1 ? "0" + digits : digits
  }
  static func hex16(_ value: UInt16) -> String { hex(UInt8(value >> 8)) + hex(UInt8(value & 0xff)) }
  static func hex32(_ value: UInt32) -> String {
    hex16(UInt16(value >> 16)) + hex16(UInt16(value & 0xffff))
  }
}
