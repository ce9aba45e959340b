// ermcore-bench: what ErmCore's own design choices cost or buy, on a real corpus, with a
// tmpfs baseline in the same run. Reports throughput and ratios (the machine is shared;
// use only the ratios). Usage: ermcore-bench [DIR] [MAX_MIB]   (default /usr/include 64)
// `ermcore-bench locking [SECONDS] [THREADS]` compares the locking modes instead
// (LockingBenchmark.swift).
//   1. write+close (compress on close) vs tmpfs write+close
//   2. reading compressed files with 4 KiB reads (one-chunk cache) vs 128 KiB reads vs tmpfs
//   3. write+close on distinct files from 1 thread vs 2 threads (per-inode locks)
//   4. random 4 KiB preads in a 1 GiB compressed file: latency of each (one chunk decoded)
import ErmCore
import Foundation
import SystemPackage

struct CorpusFile { var path: String; var bytes: [UInt8] }

func loadCorpus(_ root: String, maxBytes: Int) -> [CorpusFile] {
  var files: [CorpusFile] = []
  var total = 0
  let enumerator = FileManager.default.enumerator(atPath: root)
  while let relative = enumerator?.nextObject() as? String, total < maxBytes {
    let full = root + "/" + relative
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
          let data = FileManager.default.contents(atPath: full) else { continue }
    files.append(CorpusFile(path: "/" + relative.replacingOccurrences(of: "/", with: "_"), bytes: [UInt8](data)))
    total += data.count
  }
  return files
}

/// Process CPU seconds (user + system), all threads.
func cpuSeconds() -> Double {
  var usage = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Wall seconds of `body`; its CPU seconds go to `lastCPU` (the machine is shared, so
/// CPU time is the steadier figure for single-threaded phases).
nonisolated(unsafe) var lastCPU = 0.0
func seconds(_ body: () throws -> Void) rethrows -> Double {
  let cpu = cpuSeconds()
  let start = ContinuousClock.now
  try body()
  let elapsed = ContinuousClock.now - start
  lastCPU = cpuSeconds() - cpu
  return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func mbps(_ bytes: Int, _ seconds: Double) -> String { String(format: "%8.1f MB/s", Double(bytes) / seconds / 1e6) }

func writeAll(_ fs: ErmFS, _ files: ArraySlice<CorpusFile>) throws {
  for file in files {
    let fd = try fs.open(file.path, .writeOnly, options: [.create, .truncate])
    try fs.write(fd, bytes: file.bytes)
    try fs.close(fd)
  }
}

func readAll(_ fs: ErmFS, _ files: [CorpusFile], readSize: Int) throws -> Int {
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
  defer { buffer.deallocate() }
  var total = 0
  for file in files {
    let fd = try fs.open(file.path, .readOnly)
    while true {
      let n = try fs.read(fd, into: buffer)
      if n == 0 { break }
      total += n
    }
    try fs.close(fd)
  }
  return total
}

func tmpfsWrite(_ dir: String, _ files: [CorpusFile]) throws {
  for file in files {
    let fd = try FileDescriptor.open(dir + file.path, .writeOnly, options: [.create, .truncate],
                                     permissions: [.ownerReadWrite])
    _ = try file.bytes.withUnsafeBytes { try fd.writeAll($0) }
    try fd.close()
  }
}

func tmpfsRead(_ dir: String, _ files: [CorpusFile], readSize: Int) throws -> Int {
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
  defer { buffer.deallocate() }
  var total = 0
  for file in files {
    let fd = try FileDescriptor.open(dir + file.path, .readOnly)
    while true {
      let n = try fd.read(into: buffer)
      if n == 0 { break }
      total += n
    }
    try fd.close()
  }
  return total
}

let arguments = CommandLine.arguments
if arguments.count > 1 && arguments[1] == "locking" {
  try runLockingBenchmark(Array(arguments.dropFirst(2)))
  exit(0)
}
let root = arguments.count > 1 ? arguments[1] : "/usr/include"
let maxMiB = arguments.count > 2 ? Int(arguments[2]) ?? 64 : 64
let files = loadCorpus(root, maxBytes: maxMiB << 20)
let logical = files.reduce(0) { $0 + $1.bytes.count }
print("corpus: \(root), \(files.count) files, \(logical) bytes; \(ProcessInfo.processInfo.activeProcessorCount) cores")

let fs = try ErmFS(configuration: .init(maxFileSize: 1 << 40))
let ermWrite = try seconds { try writeAll(fs, files[...]) }
let ermWriteCPU = lastCPU
let statistics = fs.statistics
let shm = "/dev/shm/ermcore-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: shm) }
let tmpfsWriteTime = try seconds { try tmpfsWrite(shm, files) }
let tmpfsWriteCPU = lastCPU

print("\n1. write + close (ErmFS compresses on close: default codec ISA-L level 1, 128 KiB chunks)")
print("   ErmFS  wall \(mbps(logical, ermWrite))  per CPU-second \(mbps(logical, ermWriteCPU))   stored/logical \(String(format: "%.3f", statistics.ratio))")
print("   tmpfs  wall \(mbps(logical, tmpfsWriteTime))  per CPU-second \(mbps(logical, tmpfsWriteCPU))   ErmFS/tmpfs CPU ratio \(String(format: "%.2f", ermWriteCPU / tmpfsWriteCPU))")

print("\n2. open + read everything back (compressed files)")
var rows: [(String, Double)] = []
for readSize in [4096, 131_072] {
  var count = 0
  _ = try seconds { count = try readAll(fs, files, readSize: readSize) }
  let t = lastCPU
  precondition(count == logical, "ErmFS read \(count) of \(logical) bytes")
  var countTmpfs = 0
  _ = try seconds { countTmpfs = try tmpfsRead(shm, files, readSize: readSize) }
  let tt = lastCPU
  precondition(countTmpfs == logical)
  print("   \(readSize / 1024) KiB reads, per CPU-second: ErmFS \(mbps(logical, t))   tmpfs \(mbps(logical, tt))   ErmFS/tmpfs CPU ratio \(String(format: "%.2f", t / tt))")
  rows.append(("\(readSize)", t))
}
print("   4 KiB / 128 KiB read CPU ratio (ErmFS): \(String(format: "%.2f", rows[0].1 / rows[1].1))  (1.0 = the chunk cache makes small reads as cheap as large ones)")

print("\n3. write + close on distinct files: 1 thread vs 2 threads (fresh file system each)")
let one = try ErmFS()
let single = try seconds { try writeAll(one, files[...]) }
let two = try ErmFS()
let half = files.count / 2
let parallel = seconds {
  let group = DispatchGroup()
  for part in [files[..<half], files[half...]] {
    group.enter()
    Thread {
      do { try writeAll(two, part) } catch { fatalError("\(error)") }
      group.leave()
    }.start()
  }
  group.wait()
}
precondition(two.statistics.logicalBytes == logical)
print("   wall: 1 thread \(mbps(logical, single))   2 threads \(mbps(logical, parallel))   speed-up \(String(format: "%.2f", single / parallel))x (needs 2 idle cores to show)")
var load = [Double](repeating: 0, count: 3)
_ = getloadavg(&load, 3)
print("   load average during the run: \(String(format: "%.2f", load[0]))")

print("\n4. random 4 KiB pread in a 1 GiB compressed file (the corpus repeated; fresh descriptor)")
do {
  let big = try ErmFS()
  let fd = try big.open("/big", .writeOnly, options: [.create])
  var written = 0
  var round = 0
  while written < 1 << 30 {
    for file in files where written < 1 << 30 {
      let piece = file.bytes.prefix((1 << 30) - written)
      written += try big.write(fd, bytes: Array(piece))
    }
    round += 1
  }
  let compressTime = try seconds { try big.close(fd) }
  let stored = big.statistics.storedBytes
  print(String(format: "   1 GiB written (%d passes over the corpus), compressed on close in %.2f s; stored %.1f MiB",
               round, compressTime, Double(stored) / 1_048_576))
  let reader = try big.open("/big", .readOnly)
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
  defer { buffer.deallocate() }
  var generator = SystemRandomNumberGenerator()
  var latencies: [Double] = []
  for _ in 0..<2000 {
    let offset = Int64.random(in: 0..<Int64((1 << 30) - 4096), using: &generator)
    let start = ContinuousClock.now
    let n = try big.pread(reader, into: buffer, at: offset)
    let elapsed = ContinuousClock.now - start
    precondition(n == 4096)
    latencies.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
  }
  try big.close(reader)
  latencies.sort()
  print(String(format: "   2000 random preads: p50 %.0f µs, p99 %.0f µs, max %.0f µs (goal: 1 ms)",
               latencies[1000], latencies[1980], latencies[1999]))
}
