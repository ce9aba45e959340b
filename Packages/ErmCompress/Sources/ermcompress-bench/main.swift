// ermcompress-bench: every ErmCompress backend and level on real corpora, single-threaded
// and on the shared WorkerPool, next to the command-line gzip tools run on the same
// corpus in the same process. Prints Markdown tables; every output is verified.
//
//   ermcompress-bench CORPUS... [--runs N] [--chunk-size BYTES] [--configs ...] (see --help)
//
// ErmCompress runs memory to memory (how ERMFS uses it); tools run file to file through
// the page cache. MB/s are 10^6 bytes of logical (uncompressed) data per second.
import ErmCompress
import Foundation

let options = Options(CommandLine.arguments)
let pool = options.poolThreads.map { WorkerPool(threadCount: $0) } ?? WorkerPool.shared
let cores = ProcessInfo.processInfo.activeProcessorCount
let work = FileManager.default.temporaryDirectory.appendingPathComponent("ermcompress-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

/// A malloc'd buffer the size of the corpus (no Swift Array bounds checks in the timed code).
final class Buffer {
  let bytes: UnsafeMutableRawBufferPointer
  init(_ count: Int) {
    guard let memory = malloc(max(count, 1)) else { fail("cannot allocate \(count) bytes") }
    memset(memory, 0, count)  // fault the pages in outside the timed runs
    bytes = UnsafeMutableRawBufferPointer(start: memory, count: count)
  }
  deinit { free(bytes.baseAddress) }
  func fill(from source: [UInt8]) { source.withUnsafeBytes { bytes.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
  func equals(_ other: [UInt8]) -> Bool { other.withUnsafeBytes { memcmp(bytes.baseAddress!, $0.baseAddress!, $0.count) == 0 } }
}

/// Compresses `corpus` single-threaded (streaming into an array): the stored bytes and index.
func store(_ corpus: [UInt8], _ gz: ChunkedGzip) throws -> (stored: [UInt8], index: ChunkIndex) {
  var stored = [UInt8]()
  stored.reserveCapacity(corpus.count)
  let index = try corpus.withUnsafeBytes { raw in
    try gz.compress(raw) { (piece: UnsafeRawBufferPointer) throws(GzipError) in stored.append(contentsOf: piece) }
  }
  return (stored, index)
}

/// Mean CPU microseconds of a random 4 KiB `read` (one chunk decompressed, two when the
/// read straddles a boundary), on the calling thread.
func randomReadMicros(_ gz: ChunkedGzip, stored: [UInt8], index: ChunkIndex, reads: Int = 1000) throws -> Double {
  var rng = SystemRandomNumberGenerator()
  var page = [UInt8](repeating: 0, count: 4096)
  let start = threadCPU()
  try stored.withUnsafeBytes { s in
    try page.withUnsafeMutableBytes { o in
      for _ in 0..<reads {
        let at = Int.random(in: 0...(index.logicalSize - 4096), using: &rng)
        try gz.read(at..<at + 4096, stored: s, index: index, into: o)
      }
    }
  }
  return (threadCPU() - start) / Double(reads) * 1e6
}

/// Whole-file read, single-threaded or on the pool; verified once.
func readRates(_ gz: ChunkedGzip, _ corpus: [UInt8], stored: [UInt8], index: ChunkIndex, out: Buffer) throws -> (single: [Sample], pooled: [Sample]) {
  let n = corpus.count
  let single = try stored.withUnsafeBytes { s in
    try timeRuns(runs: options.runs, budget: options.budgetSeconds) { try gz.read(0..<n, stored: s, index: index, into: out.bytes) }
  }
  guard out.equals(corpus) else { fail("\(gz.decoder.name) read did not restore the corpus") }
  memset(out.bytes.baseAddress!, 0, n)
  let pooled = try stored.withUnsafeBytes { s in
    try timeRuns(runs: options.runs, budget: options.budgetSeconds) { try gz.read(0..<n, stored: s, index: index, into: out.bytes, pool: pool) }
  }
  guard out.equals(corpus) else { fail("\(gz.decoder.name) pooled read did not restore the corpus") }
  return (single, pooled)
}

func benchmark(corpusPath: String) throws {
  let corpusURL = URL(fileURLWithPath: corpusPath)
  guard let data = try? Data(contentsOf: corpusURL), data.count >= 4096 else { fail("cannot read \(corpusPath) (or under 4 KiB)") }
  let corpus = [UInt8](data)
  let n = corpus.count
  let buffer = Buffer(n)
  let out = Buffer(n)
  print("### \(corpusURL.lastPathComponent): \(n) bytes")
  print("")
  print("chunk size \(options.chunkSize), \(cores) cores, pool of \(pool.threadCount) workers + the caller, median of up to \(options.runs) runs (fewer when one run passes \(Int(options.budgetSeconds)) s)")
  print("")

  // Codec table: each backend and level; decompression with the same backend.
  print("| codec | stored / logical | raw chunks | compress 1 thread MB/s (CPU MB/s) | compress pool MB/s (CPU MB/s) | read 1 thread MB/s | read pool MB/s | random 4 KiB read µs CPU |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|")
  for (backend, level) in options.configs {
    let gz = try ChunkedGzip(backend: backend, level: level, chunkSize: options.chunkSize, decoder: backend)
    var index = ChunkIndex(chunkSize: options.chunkSize, logicalSize: 0, entries: [])
    let single = try timeRuns(runs: options.runs, budget: options.budgetSeconds, prepare: { buffer.fill(from: corpus) }) {
      index = try gz.compressInPlace(buffer.bytes, logicalSize: n)
    }
    let stored = Array(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<index.storedSize]))
    var pooledIndex = index
    let pooled = try timeRuns(runs: options.runs, budget: options.budgetSeconds, prepare: { buffer.fill(from: corpus) }) {
      pooledIndex = try gz.compressInPlace(buffer.bytes, logicalSize: n, pool: pool)
    }
    // Every pooled result must read back as the corpus; zlib and libdeflate must also give
    // the very bytes of the single-threaded run (ISA-L's output varies with memory layout).
    let pooledStored = Array(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<pooledIndex.storedSize]))
    try pooledStored.withUnsafeBytes { s in try gz.read(0..<n, stored: s, index: pooledIndex, into: out.bytes) }
    guard out.equals(corpus) else { fail("\(backend) -\(level.rawValue): pooled compression does not read back") }
    if backend != .isal {
      guard pooledIndex == index, pooledStored == stored else {
        fail("\(backend) -\(level.rawValue): pooled compression differs from single-threaded")
      }
    }
    let reads = try readRates(gz, corpus, stored: stored, index: index, out: out)
    let micros = try randomReadMicros(gz, stored: stored, index: index)
    let raw = index.entries.filter(\.isRaw).count
    print("| \(backend) -\(level.rawValue) | \(format(Double(stored.count) / Double(n), 4)) | \(raw)/\(index.entries.count) "
      + "| \(format(wallRate(n, single), 0)) (\(format(cpuRate(n, single), 0))) "
      + "| \(format(wallRate(n, pooled), 0)) (\(format(cpuRate(n, pooled), 0))) "
      + "| \(format(wallRate(n, reads.single), 0)) | \(format(wallRate(n, reads.pooled), 0)) | \(format(micros, 1)) |")
  }
  print("")

  // Decoder table: any decoder reads any writer's chunks; which is fastest?
  if !options.decoderWriters.isEmpty {
    print("| written by | read by | read 1 thread MB/s (CPU MB/s) | read pool MB/s | random 4 KiB read µs CPU |")
    print("|---|---|---:|---:|---:|")
    for (writer, level) in options.decoderWriters {
      let (stored, index) = try store(corpus, try ChunkedGzip(backend: writer, level: level, chunkSize: options.chunkSize))
      for decoder in GzipBackend.allCases {
        let gz = try ChunkedGzip(backend: writer, level: level, chunkSize: options.chunkSize, decoder: decoder)
        let reads = try readRates(gz, corpus, stored: stored, index: index, out: out)
        let micros = try randomReadMicros(gz, stored: stored, index: index)
        print("| \(writer) -\(level.rawValue) | \(decoder) | \(format(wallRate(n, reads.single), 0)) (\(format(cpuRate(n, reads.single), 0))) "
          + "| \(format(wallRate(n, reads.pooled), 0)) | \(format(micros, 1)) |")
      }
    }
    print("")
  }

  // Chunk-size sweep for one codec: ratio against the cost of a small random read.
  if !options.chunkSweep.isEmpty {
    let (backend, level) = options.sweepConfig
    print("| \(backend) -\(level.rawValue), chunk size | stored / logical | compress pool MB/s | read pool MB/s | random 4 KiB read µs CPU |")
    print("|---:|---:|---:|---:|---:|")
    for size in options.chunkSweep {
      let gz = try ChunkedGzip(backend: backend, level: level, chunkSize: size)
      var index = ChunkIndex(chunkSize: size, logicalSize: 0, entries: [])
      let pooled = try timeRuns(runs: options.runs, budget: options.budgetSeconds, prepare: { buffer.fill(from: corpus) }) {
        index = try gz.compressInPlace(buffer.bytes, logicalSize: n, pool: pool)
      }
      let stored = Array(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<index.storedSize]))
      let reads = try readRates(gz, corpus, stored: stored, index: index, out: out)
      let micros = try randomReadMicros(gz, stored: stored, index: index)
      print("| \(size / 1024) KiB | \(format(Double(stored.count) / Double(n), 4)) | \(format(wallRate(n, pooled), 0)) "
        + "| \(format(wallRate(n, reads.pooled), 0)) | \(format(micros, 1)) |")
    }
    print("")
  }

  // The command-line tools on the same corpus (file to file, page cache).
  if options.tools {
    print("| tool (file to file) | output / input | MB/s wall | MB/s CPU |")
    print("|---|---:|---:|---:|")
    let gz6 = work.appendingPathComponent("gzip6.gz")
    Tool(name: "gzip -6", path: Tool.find(["gzip"]) ?? "/usr/bin/gzip", arguments: ["-6", "-c", "-n"]).run(input: corpusURL, output: gz6)
    for tool in Baselines.compressors() {
      let output = work.appendingPathComponent("tool.gz")
      let samples = try timeRuns(runs: options.runs, budget: options.budgetSeconds) { tool.run(input: corpusURL, output: output) }
      let size = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int) ?? 0
      print("| \(tool.name) | \(format(Double(size) / Double(n), 4)) | \(format(wallRate(n, samples), 0)) | \(format(cpuRate(n, samples), 0)) |")
    }
    for tool in Baselines.decompressors() {
      let output = work.appendingPathComponent("tool.out")
      let samples = try timeRuns(runs: options.runs, budget: options.budgetSeconds) { tool.run(input: gz6, output: output) }
      guard (try? Data(contentsOf: output)) == data else { fail("\(tool.name) did not restore the corpus") }
      print("| \(tool.name) (of gzip -6 output) | | \(format(wallRate(n, samples), 0)) | \(format(cpuRate(n, samples), 0)) |")
    }
    print("")
  }
}

print("ErmCompress bench: zlib \(ZlibCodec.zlibVersion), \(cores) cores, kernel \(ProcessInfo.processInfo.operatingSystemVersionString)")
print("")
for corpus in options.corpora { try benchmark(corpusPath: corpus) }
print("MB/s: logical bytes per second of wall time; (CPU MB/s): per second of CPU time of all threads, which other load on a shared machine disturbs less. \"pool\" = a WorkerPool; the caller works too.")
