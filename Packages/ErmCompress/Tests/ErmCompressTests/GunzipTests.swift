import Testing
@testable import ErmCompress

/// gunzip reads what other tools write: optional header fields, many members, padding.
@Suite struct GunzipTests {
  static let original = TestData.text(5000, seed: 31)

  let member: [UInt8]
  init() throws { member = try #require(try compressMember(Self.original)) }

  /// `member` with its header replaced by one carrying the given optional fields.
  func withHeaderFields(extra: [UInt8]? = nil, name: String? = nil, comment: String? = nil, headerCRC: Bool = false) -> [UInt8] {
    var flags: UInt8 = 0
    var fields: [UInt8] = []
    if let extra {
      flags |= 0x04
      fields += [UInt8(extra.count & 0xff), UInt8(extra.count >> 8)] + extra
    }
    if let name { flags |= 0x08; fields += Array(name.utf8) + [0] }
    if let comment { flags |= 0x10; fields += Array(comment.utf8) + [0] }
    if headerCRC { flags |= 0x02 }
    var header: [UInt8] = [0x1f, 0x8b, 8, flags, 0x78, 0x56, 0x34, 0x12, 0, 3] + fields
    if headerCRC {
      let crc = header.withUnsafeBytes { UInt16(truncatingIfNeeded: crc32(of: $0)) }
      header += [UInt8(crc & 0xff), UInt8(crc >> 8)]
    }
    return header + member[GzipMember.headerSize...]
  }

  func crc32(of bytes: UnsafeRawBufferPointer) -> UInt32 {
    // Bitwise reference CRC-32, independent of zlib, so the test checks the shim too.
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xedb8_8320 : 0) }
    }
    return ~crc
  }

  @Test func memberTrailerHoldsTheReferenceCRC() {
    let stored = GzipMember.readLE32(member.withUnsafeBytes { UnsafeRawBufferPointer($0) }, at: member.count - 8)
    let reference = Self.original.withUnsafeBytes { crc32(of: $0) }
    #expect(stored == reference)
  }

  @Test func readsEveryOptionalHeaderField() throws {
    let file = withHeaderFields(extra: [65, 66, 2, 0, 7, 9], name: "notes.txt", comment: "from another tool", headerCRC: true)
    expectSameBytes(try gunzipToArray(file), Self.original)
    expectSameBytes(try decompressMember(file, size: Self.original.count), Self.original)
  }

  @Test func readsAnEmptyFEXTRA() throws {
    expectSameBytes(try gunzipToArray(withHeaderFields(extra: [])), Self.original)
  }

  @Test func wrongHeaderCRCIsChecksumMismatch() {
    var file = withHeaderFields(name: "a", headerCRC: true)
    file[12] ^= 0x01
    expectGzipError([.checksumMismatch]) { try gunzipToArray(file) }
  }

  @Test func unterminatedFileNameIsTruncated() {
    let file = Array(withHeaderFields(name: "abc").prefix(13))
    expectGzipError([.truncated]) { try gunzipToArray(file) }
  }

  @Test func concatenatedMembersDecompressInOrder() throws {
    let second = try #require(try compressMember(TestData.random(70_000, seed: 3), level: .fastest))
    let empty = try #require(try compressMember([]))
    let file = member + empty + second + member
    expectSameBytes(try gunzipToArray(file), Self.original + TestData.random(70_000, seed: 3) + Self.original)
  }

  @Test func trailingZeroPaddingIsIgnored() throws {
    expectSameBytes(try gunzipToArray(member + [UInt8](repeating: 0, count: 512)), Self.original)
  }

  @Test func trailingGarbageIsCorrupt() {
    expectGzipError([.corrupt]) { try gunzipToArray(member + Array("garbage".utf8)) }
  }

  @Test func trailingPartialMemberIsTruncated() {
    expectGzipError([.truncated]) { try gunzipToArray(member + member.prefix(20)) }
  }

  @Test func emptyInputIsTruncated() {
    expectGzipError([.truncated]) { try gunzipToArray([]) }
  }

  @Test func largeMemberStreamsInSeveralPieces() throws {
    let data = TestData.text(1_000_000, seed: 8)
    let file = try #require(try compressMember(data))
    var pieces = 0
    var out: [UInt8] = []
    try file.withUnsafeBytes { raw in
      try gunzip(raw) { (piece: UnsafeRawBufferPointer) throws(GzipError) in
        pieces += 1
        out += piece
      }
    }
    expectSameBytes(out, data)
    #expect(pieces > 1)
  }

  @Test func emptyMemberIsTwentyBytesAndDecompressesToNothing() throws {
    let empty = try #require(try compressMember([]))
    #expect(empty.count == GzipMember.minimumSize)
    expectSameBytes(try gunzipToArray(empty), [])
    expectSameBytes(try decompressMember(empty, size: 0), [])
  }

  @Test func memberThatDoesNotFitReturnsNil() throws {
    #expect(try compressMember(TestData.random(1000), capacity: 999) == nil)
    #expect(try compressMember(Self.original, capacity: 10) == nil)
  }
}

@Suite struct MemberFormatTests {
  @Test func headerHasNoNameNoTimeAndUnixOS() throws {
    let member = try #require(try compressMember(TestData.text(1000)))
    #expect(Array(member.prefix(8)) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0])
    #expect(member[9] == 3)
  }

  @Test func extraFlagsFollowGzipForFastestAndBest() throws {
    #expect(try #require(try compressMember(TestData.text(1000), level: .best))[8] == 2)
    #expect(try #require(try compressMember(TestData.text(1000), level: .fastest))[8] == 4)
    #expect(try #require(try compressMember(TestData.text(1000), level: .default))[8] == 0)
  }

  @Test func sameInputGivesTheSameMember() throws {
    let data = TestData.text(50_000)
    #expect(try compressMember(data) == compressMember(data))
  }

  @Test func errorThrownBySinkStopsGunzip() throws {
    let member = try #require(try compressMember(TestData.text(1_000_000)))
    var calls = 0
    expectGzipError([.invalidArgument]) {
      try member.withUnsafeBytes { raw in
        try gunzip(raw) { (_: UnsafeRawBufferPointer) throws(GzipError) in
          calls += 1
          throw GzipError(.invalidArgument, "destination full")
        }
      }
    }
    #expect(calls == 1)
  }
}
