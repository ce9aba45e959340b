import Testing
@testable import ErmCompress

/// Every kind of damage must throw the right GzipError and never hand back data.
@Suite struct CorruptionTests {
  static let original = TestData.text(600, seed: 21)
  static let dataErrors: Set<GzipError.Kind> = [.corrupt, .checksumMismatch, .sizeMismatch, .truncated]

  let member: [UInt8]
  init() throws { member = try #require(try compressMember(Self.original)) }

  var deflateRange: Range<Int> { GzipMember.headerSize..<(member.count - GzipMember.trailerSize) }

  @Test func intactMemberDecompresses() throws {
    expectSameBytes(try decompressMember(member, size: Self.original.count), Self.original)
    expectSameBytes(try gunzipToArray(member), Self.original)
  }

  @Test func truncationAtEveryPositionIsTruncated() {
    for length in 0..<member.count {
      let cut = Array(member.prefix(length))
      expectGzipError([.truncated]) { try decompressMember(cut, size: Self.original.count) }
      expectGzipError([.truncated]) { try gunzipToArray(cut) }
    }
  }

  @Test func flippedByteInDeflateDataNeverReturnsWrongData() {
    // The last deflate byte ends with padding bits that carry no data: flipping one of
    // them may legitimately give back the original, and nothing else.
    let lastDeflateByte = deflateRange.upperBound - 1
    for position in deflateRange {
      for mask: UInt8 in [0x01, 0x80, 0xff] {
        var damaged = member
        damaged[position] ^= mask
        for decoder in [{ try decompressMember(damaged, size: Self.original.count) }, { try gunzipToArray(damaged) }] {
          do {
            let out = try decoder()
            #expect(position == lastDeflateByte && out == Self.original, "flip 0x\(String(mask, radix: 16)) at \(position) returned data")
          } catch let error as GzipError {
            #expect(Self.dataErrors.contains(error.kind))
          } catch {
            Issue.record("unexpected error \(error)")
          }
        }
      }
    }
  }

  @Test func flippedByteInCRCIsChecksumMismatch() {
    for position in (member.count - 8)..<(member.count - 4) {
      var damaged = member
      damaged[position] ^= 0x10
      expectGzipError([.checksumMismatch]) { try decompressMember(damaged, size: Self.original.count) }
      expectGzipError([.checksumMismatch]) { try gunzipToArray(damaged) }
    }
  }

  @Test func flippedByteInISIZEIsSizeMismatch() {
    for position in (member.count - 4)..<member.count {
      var damaged = member
      damaged[position] ^= 0x01
      expectGzipError([.sizeMismatch]) { try decompressMember(damaged, size: Self.original.count) }
      expectGzipError([.sizeMismatch]) { try gunzipToArray(damaged) }
    }
  }

  @Test func wrongMagicIsCorrupt() {
    for position in 0..<2 {
      var damaged = member
      damaged[position] ^= 0x40
      expectGzipError([.corrupt]) { try decompressMember(damaged, size: Self.original.count) }
      expectGzipError([.corrupt]) { try gunzipToArray(damaged) }
    }
  }

  @Test func methodOtherThanDeflateIsCorrupt() {
    var damaged = member
    damaged[2] = 7
    expectGzipError([.corrupt]) { try decompressMember(damaged, size: Self.original.count) }
  }

  @Test func reservedFlagBitsAreCorrupt() {
    for bit in 5..<8 {
      var damaged = member
      damaged[3] |= UInt8(1 << bit)
      expectGzipError([.corrupt]) { try decompressMember(damaged, size: Self.original.count) }
      expectGzipError([.corrupt]) { try gunzipToArray(damaged) }
    }
  }

  @Test func outputSmallerThanTheMemberIsSizeMismatch() {
    expectGzipError([.sizeMismatch]) { try decompressMember(member, size: Self.original.count - 1) }
  }

  @Test func outputLargerThanTheMemberIsSizeMismatch() {
    expectGzipError([.sizeMismatch]) { try decompressMember(member, size: Self.original.count + 1) }
  }

  @Test func bytesAfterASingleMemberAreCorrupt() {
    expectGzipError([.corrupt]) { try decompressMember(member + [0x1f], size: Self.original.count) }
  }

  @Test func damagedChunkInAStoredFileNamesTheChunk() throws {
    let gz = ChunkedGzip(chunkSize: 64 * 1024)
    let data = TestData.text(3 * 64 * 1024)
    var (stored, index) = try storeChunked(data, gz)
    stored[index.entries[1].storedOffset + index.entries[1].storedLength - 3] ^= 0x01  // ISIZE
    do {
      _ = try readAll(stored, index, gz)
      Issue.record("damaged chunk was read")
    } catch let error as GzipError {
      #expect(error.kind == .sizeMismatch)
      #expect(error.message.hasPrefix("chunk 1:"))
      #expect(error.errno == .badMessage)
    }
  }

  @Test func errnoMapsKindsForFileSystems() {
    #expect(GzipError(.corrupt, "").errno == .badMessage)
    #expect(GzipError(.truncated, "").errno == .badMessage)
    #expect(GzipError(.checksumMismatch, "").errno == .badMessage)
    #expect(GzipError(.sizeMismatch, "").errno == .badMessage)
    #expect(GzipError(.invalidArgument, "").errno == .invalidArgument)
    #expect(GzipError(.noMemory, "").errno == .noMemory)
  }
}
