import Testing
@testable import ErmCompress

/// Random damage anywhere in a multi-member stream: every outcome is a GzipError or the
/// exact original bytes, never a crash and never different data.
@Suite struct RandomDamageTests {
  @Test func randomlyDamagedStreamsThrowOrGiveTheOriginal() throws {
    let parts = [TestData.text(3000, seed: 1), TestData.random(700, seed: 2), TestData.text(9000, seed: 3)]
    let members = try parts.map { try #require(try compressMember($0, level: .fastest)) }
    let file = members.reduce([], +)
    let original = parts.reduce([], +)
    var rng = SplitMix64(seed: 77)
    var threw = 0
    for round in 0..<3000 {
      var damaged = file
      switch round % 3 {
      case 0: damaged[Int(rng.next() % UInt64(file.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
      case 1: damaged.removeLast(Int(rng.next() % UInt64(file.count)) + 1)
      default:
        let at = Int(rng.next() % UInt64(file.count))
        damaged.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
      }
      do {
        let out = try gunzipToArray(damaged)
        #expect(out == original, "round \(round) returned different data")
      } catch let error as GzipError {
        #expect(error.kind != .invalidArgument && error.kind != .noMemory, "round \(round): \(error)")
        threw += 1
      }
    }
    // Almost every change must be caught; only flips of padding bits are harmless.
    #expect(threw > 2900)
  }

  @Test func randomBytesAreNeverAcceptedAsGzip() {
    var rng = SplitMix64(seed: 5)
    for round in 0..<500 {
      var bytes = TestData.random(Int(rng.next() % 300), seed: UInt64(round))
      if round % 2 == 0 && bytes.count >= 3 { bytes[0] = 0x1f; bytes[1] = 0x8b; bytes[2] = 8 }
      expectGzipError([.corrupt, .truncated, .checksumMismatch, .sizeMismatch]) { try gunzipToArray(bytes) }
    }
  }
}
