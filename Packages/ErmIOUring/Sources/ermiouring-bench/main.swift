// Writes N buffers into N fresh memfds three ways, in the same run:
//   pwrite   a loop of plain pwrite(2), one system call per buffer (the baseline)
//   uring    ErmIOUring batches (liburing), at most `depth` writes per io_uring_enter
//   iorings  swift-system's pure-Swift IORing, prepared and submitted the same way
// and prints milliseconds (median of the repeats), throughput and ratios to pwrite.
// Memfds are created before and closed after each timed section, so every method
// writes into empty files (page allocation included, as in a real export).
//
// Usage: ermiouring-bench [--case small|medium|large|all] [--method pwrite|uring|iorings|all]
//                         [--repeat N] [--depth D] [--inline-probe]
// --inline-probe instead submits one batch of `depth` writes per case without waiting and
// reports how many had completed when io_uring_enter returned (done inline by the
// submitting thread) versus later (handed to io-wq kernel worker threads).
import CErmIOUring
import ErmIOUring
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

struct BenchCase {
  var name: String
  var files: Int
  var size: Int
}

let allCases = [
  BenchCase(name: "small", files: 10_000, size: 4 << 10),
  BenchCase(name: "medium", files: 1_000, size: 64 << 10),
  BenchCase(name: "large", files: 10, size: 64 << 20),
]
let allMethods = ["pwrite", "uring", "iorings"]

func fail(_ message: String) -> Never {
  var line = Array("ermiouring-bench: \(message)\n".utf8)
  _ = write(2, &line, line.count)
  exit(1)
}

// MARK: - Arguments

var selectedCases = allCases
var selectedMethods = allMethods
var repeats = 5
var depth = 256
var inlineProbe = false
do {
  var arguments = CommandLine.arguments.dropFirst()
  func value(_ flag: String) -> String {
    guard let v = arguments.popFirst() else { fail("\(flag) needs a value") }
    return v
  }
  while let flag = arguments.popFirst() {
    switch flag {
    case "--case":
      let v = value(flag)
      selectedCases = v == "all" ? allCases : allCases.filter { $0.name == v }
      if selectedCases.isEmpty { fail("unknown case \(v)") }
    case "--method":
      let v = value(flag)
      selectedMethods = v == "all" ? allMethods : [v]
      if !allMethods.contains(v) && v != "all" { fail("unknown method \(v)") }
    case "--repeat":
      guard let n = Int(value(flag)), n > 0 else { fail("--repeat needs a positive number") }
      repeats = n
    case "--depth":
      guard let n = Int(value(flag)), n > 0, n <= IOUring.maximumDepth else { fail("--depth needs 1...32768") }
      depth = n
    case "--inline-probe":
      inlineProbe = true
    default:
      fail("unknown argument \(flag)")
    }
  }
}

// MARK: - Helpers

func now() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func makeMemfds(_ count: Int) -> [FileDescriptor] {
  (0..<count).map { i in
    let fd = erm_memfd_create("bench-\(i)", ERM_MFD_CLOEXEC)
    if fd < 0 { fail("memfd_create: \(Errno(rawValue: errno))") }
    return FileDescriptor(rawValue: fd)
  }
}

/// Every file must hold exactly the source bytes (checked with pread, outside the timing).
func verify(_ files: [FileDescriptor], source: UnsafeRawBufferPointer, method: String) {
  let check = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 4096)
  defer { check.deallocate() }
  for (i, fd) in files.enumerated() {
    var st = stat()
    fstat(fd.rawValue, &st)
    if Int(st.st_size) != source.count { fail("\(method): file \(i) has \(st.st_size) bytes, want \(source.count)") }
    // Sample: all of the first and last file, the first page of the others.
    let whole = i == 0 || i == files.count - 1
    let n = whole ? source.count : min(4096, source.count)
    var done = 0
    while done < n {
      let r = pread(fd.rawValue, check.baseAddress! + done, n - done, off_t(done))
      if r <= 0 { fail("\(method): pread file \(i): \(Errno(rawValue: errno))") }
      done += r
    }
    if memcmp(check.baseAddress!, source.baseAddress!, n) != 0 { fail("\(method): file \(i) content differs") }
  }
}

// MARK: - Methods

func writeWithPwrite(_ files: [FileDescriptor], _ source: UnsafeRawBufferPointer) {
  for fd in files {
    var done = 0
    while done < source.count {
      let n = pwrite(fd.rawValue, source.baseAddress! + done, source.count - done, off_t(done))
      if n < 0 {
        if errno == EINTR { continue }
        fail("pwrite: \(Errno(rawValue: errno))")
      }
      done += n
    }
  }
}

func writeWithERMRing(_ ring: IOUring, _ files: [FileDescriptor], _ source: UnsafeRawBufferPointer) {
  let requests = files.map { WriteRequest(descriptor: $0, bytes: source, offset: 0) }
  do {
    for (i, r) in try ring.write(requests).enumerated() where r != IOResult(bytesTransferred: source.count) {
      fail("uring: file \(i): \(r)")
    }
  } catch {
    fail("uring: \(error)")
  }
}

#if compiler(>=6.2) && os(Linux)
func writeWithSystemIORing(_ ring: inout IORing, depth: Int, _ files: [FileDescriptor], _ source: UnsafeRawBufferPointer) {
  let buffer = UnsafeMutableRawBufferPointer(mutating: source)
  var next = 0
  var failures = 0
  var shortWrites = 0
  while next < files.count {
    let batch = min(depth, files.count - next)
    for i in next..<next + batch {
      guard ring.prepare(request: .write(buffer, into: files[i], at: 0, context: UInt64(i))) else {
        fail("iorings: submission queue full")
      }
    }
    next += batch
    // swift-system 1.8.1's submitPreparedRequestsAndConsumeCompletions(minimumCount:)
    // can wait for more completions than remain (it passes the full minimumCount to
    // io_uring_enter after draining some) and hang; so submit, then drain one by one.
    var consumed = 0
    do {
      try ring.submitPreparedRequests()
      while consumed < batch {
        if let c = ring.tryConsumeCompletion() {
          if c.result < 0 { failures += 1 } else if Int(c.result) != source.count { shortWrites += 1 }
          consumed += 1
          continue
        }
        let c = try ring.blockingConsumeCompletion()
        if Int(c.result) != source.count { shortWrites += 1 }
        consumed += 1
      }
    } catch {
      fail("iorings: \(error)")
    }
  }
  if failures > 0 || shortWrites > 0 { fail("iorings: \(failures) failed, \(shortWrites) short writes") }
}
#endif

// MARK: - Run

func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func fmt(_ x: Double, _ digits: Int = 2) -> String {
  var p = 1.0
  for _ in 0..<digits { p *= 10 }
  let r = (x * p).rounded() / p
  return "\(r)"
}

/// Submits `depth` writes into fresh memfds (or memfds just sized with ftruncate) without
/// waiting; returns how many completions were ready when io_uring_enter returned.
func inlineCompletions(size: Int, sizedFirst: Bool, depth: Int) -> Int {
  guard let ring = erm_ring_create(UInt32(depth)) else { fail("io_uring_queue_init: \(Errno(rawValue: errno))") }
  defer { erm_ring_destroy(ring) }
  let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
  defer { source.deallocate() }
  source.initializeMemory(as: UInt8.self, repeating: 0x5A)
  let files = makeMemfds(depth)
  defer { files.forEach { try? $0.close() } }
  if sizedFirst { for fd in files { _ = ftruncate(fd.rawValue, off_t(size)) } }
  for (i, fd) in files.enumerated() {
    if erm_ring_prep_write(ring, fd.rawValue, source.baseAddress, UInt32(size), 0, UInt64(i)) != 0 { fail("prep") }
  }
  let submitted = erm_ring_submit(ring)
  if submitted != Int32(depth) { fail("io_uring_submit: \(submitted)") }
  let ready = Int(erm_ring_cq_ready(ring))
  _ = erm_ring_submit_and_wait(ring, UInt32(depth))
  return ready
}

if inlineProbe {
  print("| writes of | into | completed inside io_uring_enter | finished later by io-wq workers |")
  print("|---|---|---|---|")
  for c in selectedCases where c.size <= 1 << 20 {
    for sized in [false, true] {
      let ready = inlineCompletions(size: c.size, sizedFirst: sized, depth: depth)
      print("| \(c.size >> 10) KiB | \(depth) \(sized ? "memfds sized by ftruncate just before" : "fresh memfds") | \(ready) | \(depth - ready) |")
    }
  }
  exit(0)
}

print("ermiouring-bench: depth \(depth), median of \(repeats) runs, fresh memfds per run")
print("| case | method | ms | MB/s | vs pwrite | io_uring_enter per run |")
print("|---|---|---|---|---|---|")

for c in selectedCases {
  let source = UnsafeMutableRawBufferPointer.allocate(byteCount: c.size, alignment: 4096)
  defer { source.deallocate() }
  for i in 0..<c.size { source[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 12) }
  let bytes = UnsafeRawBufferPointer(source)

  var times: [String: [Double]] = [:]
  var enters: [String: Int] = [:]
  let ermRing: IOUring
  do { ermRing = try IOUring(depth: depth) } catch { fail(IOUring.setupFailureDescription(error)) }
  #if compiler(>=6.2) && os(Linux)
  var systemRing: IORing
  do { systemRing = try IORing(queueDepth: UInt32(depth)) } catch { fail("IORing: \(error)") }
  #endif

  // Methods interleaved inside each repeat so drift on a shared machine hits all alike.
  for _ in 0..<repeats {
    for m in selectedMethods {
      let files = makeMemfds(c.files)
      let enterBefore = ermRing.statistics.enterCalls
      let start = now()
      switch m {
      case "pwrite": writeWithPwrite(files, bytes)
      case "uring": writeWithERMRing(ermRing, files, bytes)
      default:
        #if compiler(>=6.2) && os(Linux)
        writeWithSystemIORing(&systemRing, depth: depth, files, bytes)
        #endif
      }
      times[m, default: []].append(now() - start)
      if m == "uring" { enters[m] = ermRing.statistics.enterCalls - enterBefore }
      verify(files, source: bytes, method: m)
      for fd in files { try? fd.close() }
    }
  }

  let baseline = times["pwrite"].map(median)
  for m in selectedMethods {
    let t = median(times[m]!)
    let mbps = Double(c.files * c.size) / t / 1e6
    let ratio = baseline.map { fmt($0 / t) + "x" } ?? "-"
    let enterCount = enters[m].map(String.init) ?? (m == "pwrite" ? "0 (\(c.files) pwrite)" : "see strace")
    print("| \(c.files) x \(c.size >> 10) KiB | \(m) | \(fmt(t * 1000, 1)) | \(fmt(mbps, 0)) | \(ratio) | \(enterCount) |")
  }
}
