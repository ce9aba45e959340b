// `ermcore-bench locking [SECONDS] [THREADS] [SECTIONS]`: ErmFS with lock-free backends
// against the locked ones, same workload, same run, one after the other at each thread
// count, ERMCORE_BENCH_REPEATS times (default 3; medians reported). SECTIONS picks
// sections (e.g. `1a,2`); ERMCORE_BENCH_SIDE=lockless|locked runs one side only (for
// `perf record`).
//   1. lookup-heavy mix: stat + open + read 64 bytes + close of 16 existing files in 3
//      directories (a) plain (a holder keeps them open, so reads copy under the file's
//      lock) and (b) compressed (each read decompresses its chunk)
//   1c. the same with one file system per thread (nothing shared: the machine's scaling)
//   1d. stat + open + fstat + close: the lookup mix without the file-contents lock
//   2. create/unlink churn: open(O_CREAT|O_EXCL) + close + unlink in 3 shared directories
//   3. many threads reading one compressed file (pread of 4 KiB at random offsets, one
//      descriptor per thread)
import ErmCore
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// CPU time the calling thread has used, in nanoseconds.
func threadCPUNanoseconds() -> Int {
  var time = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
  return time.tv_sec * 1_000_000_000 + time.tv_nsec
}

/// CPU seconds the worker threads of the last `runTimed` used (they may have waited,
/// or been preempted by other work on the machine, for the rest of the wall time).
nonisolated(unsafe) var lastCPUSeconds = 0.0

/// Runs `body(thread, stop)` on `threads` pthreads for `seconds`; returns the sum of what
/// the bodies return (operations done).
func runTimed(threads: Int, seconds: Double, _ body: @escaping @Sendable (Int, borrowing Atomic<Bool>) -> Int) -> Int {
  final class Shared: @unchecked Sendable {
    let stop = Atomic<Bool>(false)
    let ready = Atomic<Int>(0)
    let total = Atomic<Int>(0)
    let cpu = Atomic<Int>(0)
    let body: @Sendable (Int, borrowing Atomic<Bool>) -> Int
    init(_ body: @escaping @Sendable (Int, borrowing Atomic<Bool>) -> Int) { self.body = body }
  }
  final class Start: @unchecked Sendable {
    let shared: Shared
    let index: Int
    init(_ shared: Shared, _ index: Int) {
      self.shared = shared
      self.index = index
    }
  }
  let shared = Shared(body)
  var handles: [pthread_t] = []
  for index in 0..<threads {
    var handle = pthread_t()
    let start = Unmanaged.passRetained(Start(shared, index)).toOpaque()
    pthread_create(&handle, nil, { raw in
      let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
      start.shared.ready.add(1, ordering: .acquiringAndReleasing)
      let cpu = threadCPUNanoseconds()
      let done = start.shared.body(start.index, start.shared.stop)
      start.shared.cpu.add(threadCPUNanoseconds() - cpu, ordering: .relaxed)
      start.shared.total.add(done, ordering: .relaxed)
      return nil
    }, start)
    handles.append(handle)
  }
  while shared.ready.load(ordering: .acquiring) < threads { sched_yield() }
  usleep(UInt32(seconds * 1e6))
  shared.stop.store(true, ordering: .releasing)
  for handle in handles { pthread_join(handle, nil) }
  lastCPUSeconds = Double(shared.cpu.load(ordering: .acquiring)) / 1e9
  return shared.total.load(ordering: .acquiring)
}

/// A deterministic per-thread generator.
struct BenchRandom {
  var state: UInt64
  mutating func next(_ bound: Int) -> Int {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return Int((z ^ (z >> 31)) % UInt64(bound))
  }
}

/// The 16 files of the lookup mix: 6, 5 and 5 in three directories.
let mixPaths: [String] = (0..<16).map { "/d\($0 % 3)/file\($0)" }

func makeMixFS(_ locking: ErmFS.Locking, compressed: Bool) throws -> (ErmFS, [ErmFS.Descriptor]) {
  let fs = try ErmFS(configuration: .init(maxDescriptors: 4096, locking: locking))
  for directory in 0..<3 { try fs.mkdir("/d\(directory)") }
  var holders: [ErmFS.Descriptor] = []
  for (index, path) in mixPaths.enumerated() {
    let fd = try fs.open(path, .readWrite, options: [.create, .truncate])
    try fs.write(fd, bytes: Array(repeating: UInt8(65 + index % 26), count: 4096))
    if compressed { try fs.close(fd) } else { holders.append(fd) }  // held open: stays plain
  }
  return (fs, holders)
}

/// Diagnosis: only `stat` (ERMCORE_BENCH_STAT_ONLY=1).
let statOnly = ProcessInfo.processInfo.environment["ERMCORE_BENCH_STAT_ONLY"] == "1"

/// One round of the lookup mix: 4 operations.
@inline(never)
func lookupRound(_ fs: ErmFS, _ path: String, _ buffer: UnsafeMutableRawBufferPointer, read: Bool = true) throws {
  if statOnly {
    for _ in 0..<4 { _ = try fs.stat(path) }
    return
  }
  _ = try fs.stat(path)
  let fd = try fs.open(path, .readOnly)
  if read { _ = try fs.read(fd, into: buffer) } else { _ = try fs.fstat(fd) }
  try fs.close(fd)
}

/// Work done per wall second and per CPU second of the worker threads.
struct Rate {
  var wall: Double
  var cpu: Double
  init(_ amount: Int, seconds: Double) {
    wall = Double(amount) / seconds
    cpu = Double(amount) / max(lastCPUSeconds, 1e-9)
  }
}

func lookupMix(_ locking: ErmFS.Locking, compressed: Bool, read: Bool = true, threads: Int,
               seconds: Double) throws -> Rate {
  let (fs, holders) = try makeMixFS(locking, compressed: compressed)
  let operations = runTimed(threads: threads, seconds: seconds) { thread, stop in
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
    defer { buffer.deallocate() }
    var random = BenchRandom(state: UInt64(thread) &* 7919 &+ 1)
    var rounds = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<16 {
        do { try lookupRound(fs, mixPaths[random.next(16)], buffer, read: read) } catch { fatalError("lookup mix: \(error)") }
      }
      rounds += 16
    }
    return rounds * 4
  }
  for fd in holders { try fs.close(fd) }
  return Rate(operations, seconds: seconds)
}

/// The lookup mix with one file system per thread: nothing shared, so it shows how far
/// the machine itself lets threads scale right now (other work, shared caches).
func separateLookupMix(_ locking: ErmFS.Locking, threads: Int, seconds: Double) throws -> Rate {
  let systems = try (0..<threads).map { _ in try makeMixFS(locking, compressed: false) }
  let operations = runTimed(threads: threads, seconds: seconds) { thread, stop in
    let fs = systems[thread].0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
    defer { buffer.deallocate() }
    var random = BenchRandom(state: UInt64(thread) &* 7919 &+ 1)
    var rounds = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<16 {
        do { try lookupRound(fs, mixPaths[random.next(16)], buffer) } catch { fatalError("lookup mix: \(error)") }
      }
      rounds += 16
    }
    return rounds * 4
  }
  for (fs, holders) in systems { for fd in holders { try fs.close(fd) } }
  return Rate(operations, seconds: seconds)
}

func createUnlinkChurn(_ locking: ErmFS.Locking, threads: Int, seconds: Double) throws -> Rate {
  let fs = try ErmFS(configuration: .init(maxDescriptors: 4096, locking: locking))
  for directory in 0..<3 { try fs.mkdir("/d\(directory)") }
  let operations = runTimed(threads: threads, seconds: seconds) { thread, stop in
    var rounds = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<16 {
        let path = "/d\(rounds % 3)/t\(thread)-\(rounds)"
        do {
          let fd = try fs.open(path, .writeOnly, options: [.create, .exclusiveCreate])
          try fs.close(fd)
          try fs.unlink(path)
        } catch {
          fatalError("churn: \(error)")
        }
        rounds += 1
      }
    }
    return rounds * 3
  }
  precondition(fs.statistics.files == 0)
  return Rate(operations, seconds: seconds)
}

func sharedCompressedReads(_ locking: ErmFS.Locking, threads: Int, seconds: Double, corpus: [UInt8]) throws -> Rate {
  let fs = try ErmFS(configuration: .init(locking: locking))
  let fd = try fs.open("/big", .writeOnly, options: [.create, .truncate])
  try fs.write(fd, bytes: corpus)
  try fs.close(fd)
  let size = corpus.count
  let bytes = runTimed(threads: threads, seconds: seconds) { thread, stop in
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    defer { buffer.deallocate() }
    var random = BenchRandom(state: UInt64(thread) &+ 99)
    var total = 0
    do {
      let fd = try fs.open("/big", .readOnly)
      while !stop.load(ordering: .relaxed) {
        total += try fs.pread(fd, into: buffer, at: Int64(random.next(size - 4096)))
      }
      try fs.close(fd)
    } catch {
      fatalError("shared reads: \(error)")
    }
    return total
  }
  return Rate(bytes, seconds: seconds)
}

func runLockingBenchmark(_ arguments: [String]) throws {
  let seconds = arguments.count > 0 ? Double(arguments[0]) ?? 1 : 1
  let threadCounts = (arguments.count > 1 ? arguments[1] : "1,2,4,8").split(separator: ",").compactMap { Int($0) }
  let sections = arguments.count > 2 ? Set(arguments[2].split(separator: ",").map(String.init)) : nil
  let side = ProcessInfo.processInfo.environment["ERMCORE_BENCH_SIDE"]
  let repeats = Int(ProcessInfo.processInfo.environment["ERMCORE_BENCH_REPEATS"] ?? "") ?? 3
  func median(_ values: [Double]) -> Double { values.isEmpty ? 1 : values.sorted()[values.count / 2] }
  var load = [Double](repeating: 0, count: 3)
  _ = getloadavg(&load, 3)
  print("ermcore-bench locking: \(ProcessInfo.processInfo.activeProcessorCount) cores online, \(seconds) s per point, "
    + "load average \(String(format: "%.2f %.2f %.2f", load[0], load[1], load[2])) at start")
  print("ratio = lock-free / locked (wall-clock rates; per CPU-second: the same work divided by the CPU time the")
  print("worker threads used, steadier on a shared machine); each figure the median of \(repeats) runs, modes alternating\n")

  func section(_ title: String, unit: String, scale: Double, _ measure: (ErmFS.Locking, Int) throws -> Rate) throws {
    guard sections?.contains(String(title.prefix { $0 != "." })) ?? true else { return }
    print(title)
    var first: (lockless: Double, locked: Double)?
    for threads in threadCounts {
      // Alternating runs, the median of each side: the machine is shared and its load
      // drifts during a run.
      var locklessRuns: [Rate] = [], lockedRuns: [Rate] = []
      for _ in 0..<repeats {
        if side != "locked" { locklessRuns.append(try measure(.lockless, threads)) }
        if side != "lockless" { lockedRuns.append(try measure(.locked, threads)) }
      }
      let lockless = median(locklessRuns.map(\.wall)), locked = median(lockedRuns.map(\.wall))
      let locklessCPU = median(locklessRuns.map(\.cpu)), lockedCPU = median(lockedRuns.map(\.cpu))
      if first == nil { first = (lockless, locked) }
      print(String(format: "   %d threads  lock-free %7.2f %@  locked %7.2f %@  ratio %5.2fx   vs 1 thread: lock-free %4.2fx, locked %4.2fx   per CPU-second: %6.2f / %6.2f, ratio %5.2fx",
                   threads, lockless / scale, unit, locked / scale, unit, lockless / locked,
                   lockless / first!.lockless, locked / first!.locked,
                   locklessCPU / scale, lockedCPU / scale, locklessCPU / lockedCPU))
    }
    print("")
  }

  try section("1a. lookup mix, plain files (stat + open + read 64 B + close; 16 files, 3 directories)",
              unit: "Mops/s", scale: 1e6) { try lookupMix($0, compressed: false, threads: $1, seconds: seconds) }
  try section("1b. lookup mix, compressed files (each read decompresses its 4 KiB chunk)",
              unit: "Mops/s", scale: 1e6) { try lookupMix($0, compressed: true, threads: $1, seconds: seconds) }
  try section("1d. lookup mix without the read (stat + open + fstat + close: no file-contents lock)",
              unit: "Mops/s", scale: 1e6) { try lookupMix($0, compressed: false, read: false, threads: $1, seconds: seconds) }
  try section("1c. lookup mix, plain files, one file system per thread (nothing shared: the machine's own scaling)",
              unit: "Mops/s", scale: 1e6) { try separateLookupMix($0, threads: $1, seconds: seconds) }
  try section("2. create/unlink churn (open O_CREAT|O_EXCL + close + unlink, 3 shared directories)",
              unit: "Mops/s", scale: 1e6) { try createUnlinkChurn($0, threads: $1, seconds: seconds) }
  var corpus: [UInt8] = []
  var line = 0
  while corpus.count < 8 << 20 && sections?.contains("3") ?? true {
    corpus += Array("line \(line) of a compressible text, the quick brown fox jumps over the lazy dog\n".utf8)
    line += 1
  }
  try section("3. one compressed 8 MiB file, pread 4 KiB at random offsets, one descriptor per thread",
              unit: "MB/s  ", scale: 1e6) { try sharedCompressedReads($0, threads: $1, seconds: seconds, corpus: corpus) }
  _ = getloadavg(&load, 3)
  print("load average \(String(format: "%.2f %.2f %.2f", load[0], load[1], load[2])) at end")
}
