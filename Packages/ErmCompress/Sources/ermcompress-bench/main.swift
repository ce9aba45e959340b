// ermcompress-bench: ChunkedGzip (zlib backend) against the system gzip tool on one corpus,
// side by side in the same run. Prints a Markdown table of MB/s and output/input ratios.
//
//   ermcompress-bench CORPUS [--runs N] [--chunk-size BYTES]
//
// Each timing is the median of N runs (default 3). gzip runs read CORPUS from the file
// system and write to a temporary file (page cache), as a user would run it; ErmCompress
// runs work memory to memory, which is how ERMFS uses it. Every result is verified.
import ErmCompress
import Foundation

struct Options {
  var corpus = ""
  var runs = 3
  var chunkSize = ChunkedGzip.defaultChunkSize

  init(_ arguments: [String]) {
    var rest = arguments.dropFirst()
    while let argument = rest.popFirst() {
      switch argument {
      case "--runs":
        guard let value = Int(rest.popFirst() ?? "") else { Options.usage() }
        runs = value
      case "--chunk-size":
        guard let value = Int(rest.popFirst() ?? "") else { Options.usage() }
        chunkSize = value
      case "-h", "--help": Options.usage()
      default: corpus = argument
      }
    }
    if corpus.isEmpty || runs < 1 { Options.usage() }
  }

  static func usage() -> Never {
    FileHandle.standardError.write(Data("usage: ermcompress-bench CORPUS [--runs N] [--chunk-size BYTES]\n".utf8))
    exit(2)
  }
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("ermcompress-bench: \(message)\n".utf8))
  exit(1)
}

/// Runs the gzip tool with stdin/stdout redirected to files; fails loudly on a non-zero exit.
func runGzip(_ arguments: [String], input: URL, output: URL) {
  _ = FileManager.default.createFile(atPath: output.path, contents: nil)
  guard let inHandle = try? FileHandle(forReadingFrom: input),
        let outHandle = try? FileHandle(forWritingTo: output) else { fail("cannot open \(input.path) / \(output.path)") }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
  process.arguments = arguments
  process.standardInput = inHandle
  process.standardOutput = outHandle
  do { try process.run() } catch { fail("cannot run gzip: \(error)") }
  process.waitUntilExit()
  try? inHandle.close()
  try? outHandle.close()
  guard process.terminationStatus == 0 else { fail("gzip \(arguments) exited with \(process.terminationStatus)") }
}

func fileBytes(_ url: URL) -> [UInt8] {
  guard let data = try? Data(contentsOf: url) else { fail("cannot read \(url.path)") }
  return [UInt8](data)
}

let options = Options(CommandLine.arguments)
let corpusURL = URL(fileURLWithPath: options.corpus)
let corpus = fileBytes(corpusURL)
let mb = Double(corpus.count) / 1e6
let work = FileManager.default.temporaryDirectory.appendingPathComponent("ermcompress-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

/// One contender: wall-clock and CPU seconds of each run.
final class Contender {
  let name: String
  let note: String
  let outputBytes: () -> Int?
  let body: () throws -> Void
  var wall: [Double] = []
  var cpu: [Double] = []
  init(_ name: String, note: String = "", outputBytes: @escaping () -> Int? = { nil }, _ body: @escaping () throws -> Void) {
    self.name = name
    self.note = note
    self.outputBytes = outputBytes
    self.body = body
  }
}

func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
/// CPU time of this process plus its reaped children (the gzip runs), user + system.
func cpuNow() -> Double {
  var mine = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mine)
  var children = rusage()
  getrusage(RUSAGE_CHILDREN.rawValue, &children)
  return seconds(mine) + seconds(children.ru_utime) + seconds(children.ru_stime)
}

/// Runs every contender of a group once per round, interleaved, so that load from other
/// processes on this shared machine falls on all of them alike.
func measure(_ group: [Contender]) throws {
  for _ in 0..<options.runs {
    for contender in group {
      let cpuStart = cpuNow()
      let start = ContinuousClock.now
      try contender.body()
      let elapsed = ContinuousClock.now - start
      contender.cpu.append(cpuNow() - cpuStart)
      contender.wall.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }
  }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func compressStreaming(_ gz: ChunkedGzip) throws -> (stored: [UInt8], index: ChunkIndex) {
  var stored = [UInt8]()
  stored.reserveCapacity(corpus.count)
  let index = try corpus.withUnsafeBytes { raw in
    try gz.compress(raw) { (piece: UnsafeRawBufferPointer) throws(GzipError) in stored.append(contentsOf: piece) }
  }
  return (stored, index)
}

var groups: [(title: String, baseline: String, contenders: [Contender])] = []
var storedAtLevel6: (stored: [UInt8], index: ChunkIndex)? = nil
for level in [CompressionLevel.default, .fastest] {
  let gz = ChunkedGzip(chunkSize: options.chunkSize, level: level)
  let (stored, index) = try compressStreaming(gz)
  if level == .default { storedAtLevel6 = (stored, index) }
  let raw = index.entries.filter(\.isRaw).count
  let streaming = Contender("ChunkedGzip -\(level.rawValue) compress (streaming)", note: "\(index.entries.count) chunks, \(raw) raw",
                            outputBytes: { stored.count }) {
    _ = try compressStreaming(gz)
  }
  var buffer = corpus
  let inPlace = Contender("ChunkedGzip -\(level.rawValue) compressInPlace", note: "timing includes copying the corpus in",
                          outputBytes: { index.storedSize }) {
    buffer.withUnsafeMutableBytes { destination in corpus.withUnsafeBytes { destination.copyMemory(from: $0) } }
    let inPlaceIndex = try buffer.withUnsafeMutableBytes { try gz.compressInPlace($0, logicalSize: corpus.count) }
    guard inPlaceIndex == index, buffer.prefix(index.storedSize).elementsEqual(stored) else {
      fail("compressInPlace differs from streaming compression at level \(level.rawValue)")
    }
  }
  let gzOut = work.appendingPathComponent("gzip-\(level.rawValue).gz")
  let tool = Contender("gzip -\(level.rawValue)", note: "baseline (file to file)", outputBytes: { fileBytes(gzOut).count }) {
    runGzip(["-\(level.rawValue)", "-c", "-n"], input: corpusURL, output: gzOut)
  }
  groups.append(("compress, level \(level.rawValue)", tool.name, [streaming, inPlace, tool]))
}

let (stored, index) = storedAtLevel6!
let gz = ChunkedGzip(chunkSize: options.chunkSize)
var restored = [UInt8](repeating: 0, count: corpus.count)
runGzip(["-6", "-c", "-n"], input: corpusURL, output: work.appendingPathComponent("gzip-6.gz"))
let gzip6 = fileBytes(work.appendingPathComponent("gzip-6.gz"))
var stream = [UInt8]()
try stored.withUnsafeBytes { s in
  try gz.writeGzipStream(stored: s, index: index) { (piece: UnsafeRawBufferPointer) throws(GzipError) in stream.append(contentsOf: piece) }
}
let streamURL = work.appendingPathComponent("chunked.gz")
try Data(stream).write(to: streamURL)

let readWhole = Contender("ChunkedGzip read (whole file into one buffer)") {
  try stored.withUnsafeBytes { s in
    try restored.withUnsafeMutableBytes { o in try gz.read(0..<corpus.count, stored: s, index: index, into: o) }
  }
}
let gunzipTool = Contender("ErmCompress gunzip of gzip -6 output", note: "into one buffer") {
  var offset = 0
  try gzip6.withUnsafeBytes { input in
    try restored.withUnsafeMutableBytes { out in
      try gunzip(input) { (piece: UnsafeRawBufferPointer) throws(GzipError) in
        guard offset + piece.count <= out.count else { throw GzipError(.sizeMismatch, "gzip output larger than the corpus") }
        UnsafeMutableRawBufferPointer(rebasing: out[offset..<offset + piece.count]).copyMemory(from: piece)
        offset += piece.count
      }
    }
  }
  guard offset == corpus.count else { fail("gunzip of gzip -6 output gave \(offset) bytes") }
}
let gzipD = Contender("gzip -d of gzip -6 output", note: "baseline (file to file)") {
  runGzip(["-d", "-c"], input: work.appendingPathComponent("gzip-6.gz"), output: work.appendingPathComponent("d.out"))
}
let gzipDOurs = Contender("gzip -d of ChunkedGzip -6 stream", note: "interop, output verified") {
  runGzip(["-d", "-c"], input: streamURL, output: work.appendingPathComponent("ours.out"))
}
groups.append(("decompress (level-6 data)", gzipD.name, [readWhole, gunzipTool, gzipD, gzipDOurs]))

for group in groups { try measure(group.contenders) }

// Every decompressor restored the corpus (checked outside the timed runs).
restored = [UInt8](repeating: 0, count: corpus.count)
try readWhole.body()
guard restored == corpus else { fail("ChunkedGzip.read did not restore the corpus") }
restored = [UInt8](repeating: 0, count: corpus.count)
try gunzipTool.body()
guard restored == corpus else { fail("gunzip did not restore gzip -6 output") }
guard fileBytes(work.appendingPathComponent("ours.out")) == corpus else { fail("gzip -d did not restore ErmCompress's stream") }

// Random 4 KiB reads touch one or two chunks, whatever the file size.
var rng = SystemRandomNumberGenerator()
let reads = 2000
var page = [UInt8](repeating: 0, count: 4096)
let randomReads = Contender("random 4 KiB reads") {
  try stored.withUnsafeBytes { s in
    try page.withUnsafeMutableBytes { o in
      for _ in 0..<reads {
        let at = Int.random(in: 0...(corpus.count - 4096), using: &rng)
        try gz.read(at..<at + 4096, stored: s, index: index, into: o)
      }
    }
  }
}
try measure([randomReads])

// Chunk size trade-off: ratio against the cost of a small random read (one run each).
var sweep: [(chunkSize: Int, ratio: Double, readMicros: Double)] = []
for chunkSize in [64 * 1024, 128 * 1024, 256 * 1024] {
  let sized = ChunkedGzip(chunkSize: chunkSize)
  let (sizedStored, sizedIndex) = try compressStreaming(sized)
  let sweepReads = 500
  let start = cpuNow()
  try sizedStored.withUnsafeBytes { s in
    try page.withUnsafeMutableBytes { o in
      for _ in 0..<sweepReads {
        let at = Int.random(in: 0...(corpus.count - 4096), using: &rng)
        try sized.read(at..<at + 4096, stored: s, index: sizedIndex, into: o)
      }
    }
  }
  sweep.append((chunkSize, Double(sizedStored.count) / Double(corpus.count), (cpuNow() - start) / Double(sweepReads) * 1e6))
}

func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
print("corpus: \(corpusURL.lastPathComponent) (\(corpus.count) bytes), chunk size \(options.chunkSize), zlib \(ZlibCodec.zlibVersion), median of \(options.runs) interleaved runs, \(ProcessInfo.processInfo.activeProcessorCount) cores")
print("")
print("| operation | MB/s (CPU) | MB/s (wall) | output / input | CPU time vs baseline | notes |")
print("|---|---:|---:|---:|---:|---|")
for group in groups {
  let baseline = group.contenders.first { $0.name == group.baseline }!
  for contender in group.contenders {
    let cpu = median(contender.cpu)
    let ratio = contender.outputBytes().map { format(Double($0) / Double(corpus.count), 3) } ?? ""
    let versus = contender === baseline ? "1.00" : format(median(baseline.cpu) / cpu, 2) + "x"
    print("| \(contender.name) | \(format(mb / cpu, 1)) | \(format(mb / median(contender.wall), 1)) | \(ratio) | \(versus) | \(contender.note) |")
  }
}
print("")
print("Random 4 KiB reads from the level-6 stored file: \(format(median(randomReads.cpu) / Double(reads) * 1e6, 1)) µs CPU each (\(reads) reads; each decompresses at most two \(options.chunkSize / 1024) KiB chunks).")
print("MB/s (CPU) divides the corpus size by user+system CPU time (of this process, or of the gzip child), which load from other processes disturbs far less than wall time. \"CPU time vs baseline\" is the baseline's CPU time / this row's (>1: ErmCompress uses less CPU).")
print("")
print("| chunk size (level 6) | output / input | random 4 KiB read, µs CPU |")
print("|---:|---:|---:|")
for row in sweep { print("| \(row.chunkSize / 1024) KiB | \(format(row.ratio, 4)) | \(format(row.readMicros, 1)) |") }
