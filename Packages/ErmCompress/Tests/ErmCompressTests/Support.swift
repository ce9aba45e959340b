import Foundation
import Testing
@testable import ErmCompress

/// Deterministic test data: the same seed always gives the same bytes.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}

enum TestData {
  /// Uniformly random bytes: deflate cannot shrink them.
  static func random(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
      let word = rng.next()
      for b in 0..<8 where i < count {
        out[i] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(b)))
        i += 1
      }
    }
    return out
  }

  /// Source-like text drawn from a small vocabulary: compresses to roughly a quarter.
  static func text(_ count: Int, seed: UInt64 = 2) -> [UInt8] {
    let words = ["int", "return", "struct", "static", "const", "void", "char", "unsigned", "(", ")", "{", "}",
                 ";", "\n", "  ", "#include", "<stdio.h>", "size_t", "buffer", "length", "=", "+", "0", "1"]
    var rng = SplitMix64(seed: seed)
    var out: [UInt8] = []
    out.reserveCapacity(count + 16)
    while out.count < count {
      out.append(contentsOf: words[Int(rng.next() % UInt64(words.count))].utf8)
      out.append(32)
    }
    return Array(out.prefix(count))
  }
}

/// Compresses `data` with `codec` into arrays: the stored bytes and the index.
func storeChunked(_ data: [UInt8], _ gz: ChunkedGzip) throws -> (stored: [UInt8], index: ChunkIndex) {
  var stored: [UInt8] = []
  let index = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> ChunkIndex in
    try gz.compress(raw) { (piece: UnsafeRawBufferPointer) throws(GzipError) in stored.append(contentsOf: piece) }
  }
  return (stored, index)
}

/// Decompresses the whole file through `read`.
func readAll(_ stored: [UInt8], _ index: ChunkIndex, _ gz: ChunkedGzip) throws -> [UInt8] {
  try readRange(0..<index.logicalSize, stored, index, gz)
}

func readRange(_ range: Range<Int>, _ stored: [UInt8], _ index: ChunkIndex, _ gz: ChunkedGzip) throws -> [UInt8] {
  var out = [UInt8](repeating: 0xAA, count: range.count)
  try stored.withUnsafeBytes { (s: UnsafeRawBufferPointer) throws in
    try out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) throws in
      try gz.read(range, stored: s, index: index, into: o)
    }
  }
  return out
}

/// Runs ErmCompress's gunzip over `input` into an array.
func gunzipToArray(_ input: [UInt8]) throws -> [UInt8] {
  var out: [UInt8] = []
  try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
    try gunzip(raw) { (piece: UnsafeRawBufferPointer) throws(GzipError) in out.append(contentsOf: piece) }
  }
  return out
}

/// One member from the codec (zlib unless given), or nil when it does not fit in `capacity`.
func compressMember(
  _ data: [UInt8], level: CompressionLevel = .default, capacity: Int? = nil, codec: any GzipCodec = ZlibCodec()
) throws -> [UInt8]? {
  var out = [UInt8](repeating: 0, count: capacity ?? (data.count + data.count / 1000 + 64))
  let n = try data.withUnsafeBytes { (i: UnsafeRawBufferPointer) throws -> Int? in
    try out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) throws -> Int? in
      try codec.compressMember(i, level: level, into: o)
    }
  }
  return n.map { Array(out.prefix($0)) }
}

func decompressMember(_ member: [UInt8], size: Int, codec: any GzipCodec = ZlibCodec()) throws -> [UInt8] {
  var out = [UInt8](repeating: 0, count: size)
  try member.withUnsafeBytes { (m: UnsafeRawBufferPointer) throws in
    try out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) throws in
      try codec.decompressMember(m, into: o)
    }
  }
  return out
}

/// Real files from this system (C headers, a shared library), concatenated and cut to
/// `count` bytes; nil when none are readable. Real data has structure random text lacks.
enum RealData {
  static let headers: [UInt8]? = concatenate(
    ["/usr/include/stdio.h", "/usr/include/stdlib.h", "/usr/include/string.h", "/usr/include/unistd.h",
     "/usr/include/zlib.h", "/usr/include/libdeflate.h", "/usr/include/isa-l/igzip_lib.h"])
  static let binary: [UInt8]? = concatenate(
    ["/usr/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libdeflate.so.0",
     "/usr/lib/x86_64-linux-gnu/libisal.so.2", "/usr/bin/gzip"])

  static func concatenate(_ paths: [String]) -> [UInt8]? {
    let bytes = paths.compactMap { FileManager.default.contents(atPath: $0) }.reduce(into: [UInt8]()) { $0 += $1 }
    return bytes.isEmpty ? nil : bytes
  }
}

/// Expects `body` to throw a GzipError of `kind`; returns what it returned otherwise.
func expectGzipError<R>(
  _ kinds: Set<GzipError.Kind>, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> R
) {
  do {
    let result = try body()
    Issue.record("expected a GzipError of kind \(kinds), got a result: \(result)", sourceLocation: sourceLocation)
  } catch let error as GzipError {
    #expect(kinds.contains(error.kind), "got \(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected a GzipError of kind \(kinds), got \(error)", sourceLocation: sourceLocation)
  }
}

/// The system gzip tool, run on a file; returns its exit status and standard output.
enum SystemGzip {
  static let path = ["/usr/bin/gzip", "/bin/gzip"].first { FileManager.default.isExecutableFile(atPath: $0) }

  static func run(_ arguments: [String], input: [UInt8]) throws -> (status: Int32, output: [UInt8]) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ermcompress-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inputURL = dir.appendingPathComponent("input")
    let outputURL = dir.appendingPathComponent("output")
    try Data(input).write(to: inputURL)
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    let outputHandle = try FileHandle(forWritingTo: outputURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path ?? "/usr/bin/gzip")
    process.arguments = arguments + [inputURL.path]
    process.standardOutput = outputHandle
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try outputHandle.close()
    return (process.terminationStatus, [UInt8](try Data(contentsOf: outputURL)))
  }

  /// `gzip -d -c`: decompresses `input` with the system tool.
  static func decompress(_ input: [UInt8]) throws -> (status: Int32, output: [UInt8]) {
    try run(["-d", "-c"], input: input)
  }
}

/// Compares byte arrays without printing them whole when they differ.
func expectSameBytes(
  _ actual: [UInt8], _ expected: [UInt8], _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
  guard actual != expected else { return }
  let firstDifference = (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] } ?? min(actual.count, expected.count)
  Issue.record(
    "bytes differ: \(actual.count) vs \(expected.count) expected, first difference at \(firstDifference). \(comment.map { "\($0)" } ?? "")",
    sourceLocation: sourceLocation)
}
