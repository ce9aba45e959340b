// ErmFD benchmarks (run by scripts/bench/35-ermfd.sh, built -c release). Every variant
// runs in the same process on the same bytes; times are medians; ratios matter, not
// absolute figures (the machine is shared and has 2 cores).
//
//   ermfd-bench large --mib N [--compressed] [--runs R]
//       export() of one N MiB file vs memcpy of the same bytes into a mapped memfd vs
//       one write() of them into a memfd.
//   ermfd-bench many --count N --bytes B [--materialised] [--runs R] [--only VARIANT]
//       exportMany (io_uring) vs a loop of export() vs a loop of memfd_create + write()
//       of the same bytes. VARIANT: exportMany, exportLoop, writeLoop (for strace -c).
//   ermfd-bench rss --mib N
//       peak RSS growth while exporting one N MiB compressed file.
import CErmFD
import ErmCore
@_spi(Benchmark) import ErmFD
import ErmIOUring
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Small helpers

func die(_ message: String) -> Never {
  var line = Array(("ermfd-bench: " + message + "\n").utf8)
  _ = write(2, &line, line.count)
  exit(2)
}

func seconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func option(_ name: String, _ arguments: [String]) -> String? {
  guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
  return arguments[i + 1]
}

func intOption(_ name: String, _ arguments: [String], default value: Int) -> Int {
  guard let text = option(name, arguments) else { return value }
  guard let n = Int(text), n >= 0 else { die("\(name) needs a non-negative integer") }
  return n
}

/// Text-like bytes: random words from a 64-word vocabulary with spaces and newlines,
/// which gzip -6 stores at about a quarter (like source code or logs).
let vocabulary: [[UInt8]] = (0..<64).map { i in
  let syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "si", "po", "de", "fu", "ga", "he"]
  return Array((0..<(1 + i % 4)).map { syllables[(i * 7 + $0 * 5) % syllables.count] }.joined().utf8)
}

func fillCompressible(_ buffer: UnsafeMutableRawBufferPointer, seed: UInt64) {
  var x = seed | 1
  var i = 0
  while i < buffer.count {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17
    let word = vocabulary[Int(x & 63)]
    for b in word where i < buffer.count { buffer[i] = b; i += 1 }
    if i < buffer.count { buffer[i] = (x >> 8) & 15 == 0 ? 0x0A : 0x20; i += 1 }
  }
}

func store(_ fs: ErmFS, _ path: String, _ bytes: UnsafeRawBufferPointer, keepOpen: Bool) -> ErmFS.Descriptor? {
  do {
    let fd = try fs.open(path, .writeOnly, options: [.create, .truncate])
    var done = 0
    while done < bytes.count { done += try fs.write(fd, UnsafeRawBufferPointer(rebasing: bytes[done...])) }
    if keepOpen { return fd }
    try fs.close(fd)
    return nil
  } catch {
    die("storing \(path): \(error)")
  }
}

func makeMemfd() -> Int32 {
  let fd = ermfd_memfd_create("bench", ERMFD_MFD_CLOEXEC)
  if fd < 0 { die("memfd_create: \(Errno(rawValue: errno))") }
  return fd
}

func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
  var done = 0
  while done < bytes.count {
    let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
    if n <= 0 { die("write: \(Errno(rawValue: errno))") }
    done += n
  }
}

func status(_ key: String) -> Int {
  // /proc/self/status lines such as "VmHWM:   123456 kB".
  let fd = open("/proc/self/status", O_RDONLY)
  var buffer = [UInt8](repeating: 0, count: 8192)
  let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
  close(fd)
  for line in String(decoding: buffer[0..<max(0, n)], as: UTF8.self).split(separator: "\n")
  where line.hasPrefix(key + ":") {
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
  }
  return 0
}

func mib(_ bytes: Int) -> String { String(Double(bytes * 10 / (1 << 20)) / 10) + " MiB" }
func fmt(_ x: Double, _ digits: Int = 2) -> String {
  var p = 1.0
  for _ in 0..<digits { p *= 10 }
  return String((x * p).rounded() / p)
}

// MARK: - large

func large(_ arguments: [String]) {
  let size = intOption("--mib", arguments, default: 1024) << 20
  let compressed = arguments.contains("--compressed")
  let runs = max(1, intOption("--runs", arguments, default: 3))
  let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
  fillCompressible(source, seed: 42)
  let fs = try! ErmFS()
  let writer = store(fs, "/large", UnsafeRawBufferPointer(source), keepOpen: !compressed)
  let stored = Int((try? fs.stat("/large").storedSize) ?? 0)

  var exportTimes: [Double] = [], mappedTimes: [Double] = [], memcpyTimes: [Double] = [], writeTimes: [Double] = []
  for _ in 0..<runs {
    var t = seconds()
    let fd = try! fs.export("/large")
    exportTimes.append(seconds() - t)
    try! fd.close()

    t = seconds()
    let mapped = try! fs.export("/large", copyPath: .mapped)
    mappedTimes.append(seconds() - t)
    try! mapped.close()

    t = seconds()
    let m = makeMemfd()
    if ftruncate(m, off_t(size)) != 0 { die("ftruncate") }
    guard let base = ermfd_map_shared(m, size, 1) else { die("mmap") }
    memcpy(base, source.baseAddress!, size)
    munmap(base, size)
    memcpyTimes.append(seconds() - t)
    close(m)

    t = seconds()
    let w = makeMemfd()
    writeAll(w, UnsafeRawBufferPointer(source))
    writeTimes.append(seconds() - t)
    close(w)
  }
  if let writer { try! fs.close(writer) }
  let gib = Double(size) / Double(1 << 30)
  let e = median(exportTimes), x = median(mappedTimes), c = median(memcpyTimes), w = median(writeTimes)
  print("large file, \(mib(size)) logical, \(compressed ? "compressed (stored \(mib(stored)))" : "materialised"), median of \(runs)")
  print("| variant | seconds | GiB/s | vs memcpy | vs write() |")
  print("|---|---|---|---|---|")
  print("| export() (1 MiB pieces + pwrite, default) | \(fmt(e, 3)) | \(fmt(gib / e)) | \(fmt(c / e))x | \(fmt(w / e))x |")
  print("| export() through a MAP_POPULATE mapping | \(fmt(x, 3)) | \(fmt(gib / x)) | \(fmt(c / x))x | \(fmt(w / x))x |")
  print("| baseline: memcpy into mapped memfd | \(fmt(c, 3)) | \(fmt(gib / c)) | 1.0x | \(fmt(w / c))x |")
  print("| baseline: one write() into memfd | \(fmt(w, 3)) | \(fmt(gib / w)) | \(fmt(c / w))x | 1.0x |")
  source.deallocate()
}

// MARK: - many

func many(_ arguments: [String]) {
  let count = intOption("--count", arguments, default: 10_000)
  let bytes = intOption("--bytes", arguments, default: 4096)
  let runs = max(1, intOption("--runs", arguments, default: 3))
  let materialised = arguments.contains("--materialised")
  let only = option("--only", arguments)
  if let only, !["exportMany", "exportLoop", "writeLoop"].contains(only) { die("unknown --only \(only)") }

  let fs = try! ErmFS(configuration: .init(maxDescriptors: count + 64))
  let sources = UnsafeMutableRawBufferPointer.allocate(byteCount: count * bytes, alignment: 4096)
  var writers: [ErmFS.Descriptor] = []
  var paths: [String] = []
  for i in 0..<count {
    let piece = UnsafeMutableRawBufferPointer(rebasing: sources[(i * bytes)..<((i + 1) * bytes)])
    fillCompressible(piece, seed: UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
    paths.append("/f\(i)")
    if let w = store(fs, paths[i], UnsafeRawBufferPointer(piece), keepOpen: materialised) { writers.append(w) }
  }

  func closeAll(_ fds: [Int32]) { for fd in fds { close(fd) } }
  var times: [String: [Double]] = [:]
  for _ in 0..<runs {
    if only == nil || only == "exportMany" {
      let t = seconds()
      let results = try! fs.exportMany(paths)
      times["exportMany", default: []].append(seconds() - t)
      closeAll(results.map { result -> Int32 in
        switch result {
        case .success(let fd): return fd.rawValue
        case .failure(let error): die("exportMany: \(error)")
        }
      })
    }
    if only == nil || only == "exportLoop" {
      var fds: [Int32] = []
      fds.reserveCapacity(count)
      let t = seconds()
      for p in paths { fds.append(try! fs.export(p).rawValue) }
      times["exportLoop", default: []].append(seconds() - t)
      closeAll(fds)
    }
    if only == nil || only == "writeLoop" {
      var fds: [Int32] = []
      fds.reserveCapacity(count)
      let t = seconds()
      for i in 0..<count {
        let fd = makeMemfd()
        writeAll(fd, UnsafeRawBufferPointer(rebasing: sources[(i * bytes)..<((i + 1) * bytes)]))
        fds.append(fd)
      }
      times["writeLoop", default: []].append(seconds() - t)
      closeAll(fds)
    }
  }
  for w in writers { try? fs.close(w) }
  sources.deallocate()

  let base = times["writeLoop"].map(median)
  print("\(count) files x \(bytes) bytes, \(materialised ? "materialised" : "compressed") in ERMFS, median of \(runs)")
  print("| variant | seconds | files/s | vs write() loop |")
  print("|---|---|---|---|")
  for (name, label) in [("exportMany", "exportMany (io_uring)"), ("exportLoop", "loop of export()"),
                        ("writeLoop", "loop of memfd_create + write()")] {
    guard let values = times[name] else { continue }
    let m = median(values)
    let ratio = base.map { fmt($0 / m) + "x" } ?? "-"
    print("| \(label) | \(fmt(m, 4)) | \(Int(Double(count) / m)) | \(ratio) |")
  }
}

// MARK: - rss

func rss(_ arguments: [String]) {
  let size = intOption("--mib", arguments, default: 256) << 20
  let fs = try! ErmFS()
  do {
    let fd = try fs.open("/big", .writeOnly, options: .create)
    // Written in 1 MiB pieces so no buffer of the whole file exists in this process.
    let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    for i in 0..<(size >> 20) {
      fillCompressible(piece, seed: UInt64(i + 1))
      _ = try fs.write(fd, UnsafeRawBufferPointer(piece))
    }
    piece.deallocate()
    try fs.close(fd)
  } catch {
    die("setup: \(error)")
  }
  let stored = Int((try? fs.stat("/big").storedSize) ?? 0)
  print("export of one \(mib(size)) file stored compressed (\(mib(stored)))")
  print("| copy path | RSS before | peak RSS during export | peak growth | memfd size |")
  print("|---|---|---|---|---|")
  for (path, label) in [(ExportCopyPath.staged, "1 MiB pieces + pwrite (default)"),
                        (.mapped, "MAP_POPULATE mapping of the memfd")] {
    // "5" resets the peak (VmHWM) to the current RSS.
    let clear = open("/proc/self/clear_refs", O_WRONLY)
    var five: UInt8 = 0x35
    if clear < 0 || write(clear, &five, 1) != 1 { die("cannot reset VmHWM through /proc/self/clear_refs") }
    close(clear)
    let before = status("VmRSS")
    let fd = try! fs.export("/big", copyPath: path)
    let peak = status("VmHWM")
    let memfd = (try? fd.seek(offset: 0, from: .end)).map(Int.init) ?? 0
    try! fd.close()
    print("| \(label) | \(mib(before)) | \(mib(peak)) | \(mib(peak - before)) | \(mib(memfd)) |")
  }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "large": large(arguments)
case "many": many(arguments)
case "rss": rss(arguments)
default: die("usage: ermfd-bench large|many|rss [options] (see the comment at the top of main.swift)")
}
