import CErmISAL
import Testing
@testable import ErmCompress

/// Every decoder ends damaged input in the right GzipError (EBADMSG), never a crash and
/// never different data, whichever backend wrote the member.
@Suite struct BackendCorruptionTests {
  static let original = TestData.text(20_000, seed: 21)
  static let dataErrors: Set<GzipError.Kind> = [.corrupt, .checksumMismatch, .sizeMismatch, .truncated]
  /// (writer, decoder) pairs: each decoder on its own members and on another library's.
  static let pairs: [(GzipBackend, GzipBackend)] = GzipBackend.allCases.flatMap { w in GzipBackend.allCases.map { (w, $0) } }

  func member(by writer: GzipBackend) throws -> [UInt8] {
    try #require(try compressMember(Self.original, level: writer.defaultLevel, codec: writer.codec))
  }

  func decode(_ bytes: [UInt8], _ decoder: GzipBackend, size: Int = original.count) throws -> [UInt8] {
    try decompressMember(bytes, size: size, codec: decoder.codec)
  }

  @Test(arguments: pairs)
  func truncationAtEveryPositionIsTruncated(_ writer: GzipBackend, _ decoder: GzipBackend) throws {
    let member = try member(by: writer)
    for length in 0..<member.count {
      expectGzipError([.truncated]) { try decode(Array(member.prefix(length)), decoder) }
    }
  }

  @Test(arguments: pairs)
  func flippedBitsInDeflateDataNeverReturnWrongData(_ writer: GzipBackend, _ decoder: GzipBackend) throws {
    let member = try member(by: writer)
    let deflate = GzipMember.headerSize..<(member.count - GzipMember.trailerSize)
    var rng = SplitMix64(seed: 99)
    var harmless = 0
    for round in 0..<600 {
      var damaged = member
      let position = deflate.lowerBound + Int(rng.next() % UInt64(deflate.count))
      damaged[position] ^= UInt8(1) << (rng.next() % 8)
      do {
        // Some flips are harmless (padding bits, code lengths of unused symbols, a
        // differently built but equivalent Huffman table): then the original comes back.
        let out = try decode(damaged, decoder)
        #expect(out == Self.original, "round \(round): flip at \(position) returned different data")
        harmless += 1
      } catch let error as GzipError {
        #expect(Self.dataErrors.contains(error.kind), "round \(round): \(error)")
        #expect(error.errno == .badMessage)
      }
    }
    #expect(harmless < 10, "\(harmless) of 600 flips went unnoticed")
  }

  @Test(arguments: pairs)
  func wrongCRCIsChecksumMismatch(_ writer: GzipBackend, _ decoder: GzipBackend) throws {
    let member = try member(by: writer)
    for position in (member.count - 8)..<(member.count - 4) {
      var damaged = member
      damaged[position] ^= 0x10
      expectGzipError([.checksumMismatch]) { try decode(damaged, decoder) }
    }
  }

  @Test(arguments: pairs)
  func wrongISIZEIsSizeMismatch(_ writer: GzipBackend, _ decoder: GzipBackend) throws {
    let member = try member(by: writer)
    for position in (member.count - 4)..<member.count {
      var damaged = member
      damaged[position] ^= 0x01
      expectGzipError([.sizeMismatch]) { try decode(damaged, decoder) }
    }
  }

  @Test(arguments: GzipBackend.allCases)
  func wrongOutputSizesAreSizeMismatch(_ decoder: GzipBackend) throws {
    let member = try member(by: .zlib)
    expectGzipError([.sizeMismatch]) { try decode(member, decoder, size: Self.original.count - 1) }
    expectGzipError([.sizeMismatch]) { try decode(member, decoder, size: Self.original.count + 1) }
    expectGzipError([.sizeMismatch]) { try decode(member, decoder, size: 0) }
  }

  @Test(arguments: GzipBackend.allCases)
  func bytesAfterTheMemberAreCorrupt(_ decoder: GzipBackend) throws {
    let member = try member(by: .zlib)
    expectGzipError([.corrupt]) { try decode(member + [0x1f], decoder) }
    expectGzipError([.corrupt]) { try decode(member + member, decoder) }
  }

  @Test(arguments: GzipBackend.allCases)
  func damagedHeadersAreCorrupt(_ decoder: GzipBackend) throws {
    let member = try member(by: .zlib)
    for (position, value) in [(0, UInt8(0x1e)), (1, 0x8a), (2, 7), (3, 0xe0)] {
      var damaged = member
      damaged[position] = value
      expectGzipError([.corrupt]) { try decode(damaged, decoder) }
    }
  }

  @Test(arguments: GzipBackend.allCases)
  func randomBytesAreNeverAccepted(_ decoder: GzipBackend) {
    var rng = SplitMix64(seed: 5)
    for round in 0..<300 {
      var bytes = TestData.random(Int(rng.next() % 300), seed: UInt64(round))
      if bytes.count >= 4 { bytes[0] = 0x1f; bytes[1] = 0x8b; bytes[2] = 8; bytes[3] = 0 }
      expectGzipError(Self.dataErrors) { try decode(bytes, decoder, size: 100) }
    }
  }

  @Test(arguments: GzipBackend.allCases)
  func damagedChunksOfAStoredFileAreEBADMSGForEveryDecoder(_ decoder: GzipBackend) throws {
    let chunk = 64 * 1024
    let data = TestData.text(chunk) + TestData.random(chunk) + TestData.text(chunk, seed: 4)
    let gz = try ChunkedGzip(backend: .isal, chunkSize: chunk, decoder: decoder)
    let (stored, index) = try storeChunked(data, gz)
    #expect(index.entries.map(\.isRaw) == [false, true, false])
    for chunkNumber in 0..<3 {
      let entry = index.entries[chunkNumber]
      for at in [entry.storedOffset + 12, entry.storedOffset + entry.storedLength / 2, entry.storedOffset + entry.storedLength - 6] {
        var damaged = stored
        damaged[at] ^= 0x20
        do {
          _ = try readAll(damaged, index, gz)
          Issue.record("chunk \(chunkNumber) damaged at \(at) was read")
        } catch let error as GzipError {
          #expect(error.errno == .badMessage, "\(error)")
          #expect(error.message.hasPrefix("chunk \(chunkNumber):"), "\(error)")
        }
      }
    }
  }
}

/// ISA-L is never trusted with the gzip checksum: its raw inflate (all ISALCodec asks of
/// it) decodes a member with a wrong CRC-32 without complaint, and ISALCodec catches it.
@Suite struct ISALChecksumTests {
  @Test func isalInflateAloneDoesNotNoticeAWrongCRCButISALCodecDoes() throws {
    let original = TestData.text(50_000, seed: 7)
    var member = try #require(try compressMember(original, level: .fastest, codec: ISALCodec()))
    member[member.count - 8] ^= 0x01  // CRC-32, first byte

    var out = [UInt8](repeating: 0, count: original.count)
    var used = 0
    var produced = 0
    let status = member.withUnsafeBytes { m in
      out.withUnsafeMutableBytes { o in
        erm_isal_inflate_raw(m.baseAddress! + 10, m.count - 10, &used, o.baseAddress, o.count, &produced)
      }
    }
    #expect(status == ERM_ISAL_OK)
    #expect(produced == original.count)
    #expect(used == member.count - 10 - 8)
    expectSameBytes(out, original)

    do {
      _ = try decompressMember(member, size: original.count, codec: ISALCodec())
      Issue.record("ISALCodec accepted a member whose CRC-32 is wrong")
    } catch let error as GzipError {
      #expect(error.kind == .checksumMismatch)
      #expect(error.message.contains("CRC-32"), "\(error)")
    }
  }

  @Test func isalCodecChecksTheCRCOfEveryWritersMembers() throws {
    for writer in GzipBackend.allCases {
      let original = TestData.text(30_000, seed: 11)
      var member = try #require(try compressMember(original, level: writer.defaultLevel, codec: writer.codec))
      // A CRC that matches other data of the same size: only a real check notices.
      let other = TestData.text(30_000, seed: 12)
      let crc = other.withUnsafeBytes { CRC32.checksum($0) }
      withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { member[member.count - 8 + k] = $0[k] } }
      expectGzipError([.checksumMismatch]) { try decompressMember(member, size: original.count, codec: ISALCodec()) }
    }
  }
}
