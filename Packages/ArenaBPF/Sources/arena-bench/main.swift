// arena-bench latency --consumer arena|arena-doorbell|ringbuf|ringbuf-spin|inotify [--files N] [--dir PARENT]
// arena-bench structures [--items N]
// arena-bench drain   (diagnostic: creation cost, then consumer cost per event on a backlog)
//
// Latency: one thread creates N files (open O_CREAT|O_EXCL, close) in a fresh directory
// and stamps CLOCK_MONOTONIC when each open() returns; one consumer thread stamps when
// it holds the event. Latency = seen - returned, 0 when the event was seen before
// open() returned (the arena producer publishes inside the syscall). The consumer
// thread's system calls are counted by a BPF program on raw_syscalls/sys_enter.
//
// Structures: values through each arena structure on a shared mapping with 1:1 and 2:2
// threads, next to a Mutex-protected ring (the baseline) in the same run.
import ArenaBPF
import Foundation
import Synchronization

func now() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("arena-bench: \(message)\n".utf8))
  exit(1)
}

func option(_ name: String, _ fallback: String) -> String {
  let args = CommandLine.arguments
  guard let i = args.firstIndex(of: name), i + 1 < args.count else { return fallback }
  return args[i + 1]
}

func runThreads(_ bodies: [@Sendable () -> Void]) {
  let group = DispatchGroup()
  for body in bodies {
    group.enter()
    Thread {
      body()
      group.leave()
    }.start()
  }
  group.wait()
}

/// Per-file timestamps, written by one thread each, read after the join.
final class Stamps: @unchecked Sendable {
  let returned: UnsafeMutablePointer<UInt64>
  let seen: UnsafeMutablePointer<UInt64>
  init(_ n: Int) {
    returned = .allocate(capacity: n)
    returned.initialize(repeating: 0, count: n)
    seen = .allocate(capacity: n)
    seen.initialize(repeating: 0, count: n)
  }
}

func fileIndex(_ name: Substring) -> Int? {
  guard let f = name.lastIndex(of: "f") else { return nil }
  return Int(name[name.index(after: f)...])
}

func latency() {
  let consumer = option("--consumer", "arena")
  let files = Int(option("--files", "20000"))!
  let parent = option("--dir", "/dev/shm")
  let directory = "\(parent)/arena-bench-\(getpid())-\(consumer)"
  guard mkdir(directory, 0o755) == 0 else { fail("mkdir \(directory): \(errno)") }
  defer {
    for i in 0..<files { unlink("\(directory)/f\(i)") }
    rmdir(directory)
  }
  let prefix = directory + "/"
  let stamps = Stamps(files)
  let counter: SyscallCounter
  do { counter = try SyscallCounter() } catch { fail("syscall counter: \(error)") }
  let consumerSyscalls = Atomic<UInt64>(0)
  let received = Atomic<Int>(0)
  let preempted = Atomic<Int>(0)
  // Involuntary context switches of the consumer thread (read after counting syscalls):
  // on a busy machine a spinning consumer loses whole scheduler slices.
  @Sendable func recordPreemptions() {
    var usage = rusage()
    getrusage(__rusage_who_t(1) /* RUSAGE_THREAD */, &usage)
    preempted.store(usage.ru_nivcsw, ordering: .relaxed)
  }

  // Each consumer: a body run on its own thread until every file was seen.
  let body: @Sendable () -> Void
  var dropped: () -> UInt64 = { 0 }
  var rung: () -> UInt64 = { 0 }
  switch consumer {
  case "arena", "arena-doorbell":
    let doorbell = consumer == "arena-doorbell"
    let feed: FileCreationFeed
    do { feed = try FileCreationFeed(process: getpid()) } catch { fail("arena feed: \(error)") }
    dropped = { feed.counters.droppedOnFull }
    rung = { feed.counters.doorbellsRung }
    body = {
      counter.watch(thread: currentThreadID())
      var count = 0
      while count < files {
        // arena: spin on poll(); arena-doorbell: spin 50 µs, then block until rung.
        if let event = doorbell ? feed.next(spinningFor: .microseconds(50), timeout: .seconds(10)) : feed.poll() {
          let t = now()
          if let path = event.path, path.hasPrefix(prefix), let i = fileIndex(path[...]) {
            stamps.seen[i] = t
            count += 1
          }
        } else {
          feed.relax()  // a CPU pause between empty polls, as the AsyncSequence does
        }
      }
      consumerSyscalls.store(counter.count, ordering: .relaxed)
      received.store(count, ordering: .relaxed)
      recordPreemptions()
      withExtendedLifetime(feed) {}
    }
  case "ringbuf", "ringbuf-spin":
    let ring: RingbufFeed
    do { ring = try RingbufFeed(process: getpid()) } catch { fail("ringbuf: \(error)") }
    final class Box: @unchecked Sendable { let ring: RingbufFeed; init(_ r: RingbufFeed) { ring = r } }
    let box = Box(ring)
    let spin = consumer == "ringbuf-spin"
    dropped = { box.ring.dropped }
    body = {
      counter.watch(thread: currentThreadID())
      var count = 0
      let handler: (FileCreationEvent) -> Void = { event in
        let t = now()
        if let path = event.path, path.hasPrefix(prefix), let i = fileIndex(path[...]) {
          stamps.seen[i] = t
          count += 1
        }
      }
      while count < files {
        if spin {
          _ = try? box.ring.consume(handler)
        } else {
          _ = try? box.ring.poll(timeoutMilliseconds: 100, handler)
        }
      }
      consumerSyscalls.store(counter.count, ordering: .relaxed)
      received.store(count, ordering: .relaxed)
      recordPreemptions()
    }
  case "inotify":
    let fd = inotify_init1(Int32(IN_CLOEXEC))
    guard fd >= 0, inotify_add_watch(fd, directory, UInt32(IN_CREATE)) >= 0 else { fail("inotify: \(errno)") }
    body = {
      counter.watch(thread: currentThreadID())
      var count = 0
      let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
      while count < files {
        let n = read(fd, buffer, 1 << 16)
        let t = now()
        guard n > 0 else { continue }
        var offset = 0
        while offset < n {
          let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
          let nameStart = buffer + offset + MemoryLayout<inotify_event>.size
          let name = String(cString: nameStart.assumingMemoryBound(to: CChar.self))
          if let i = fileIndex(name[...]) {
            stamps.seen[i] = t
            count += 1
          }
          offset += MemoryLayout<inotify_event>.size + Int(event.len)
        }
      }
      consumerSyscalls.store(counter.count, ordering: .relaxed)
      received.store(count, ordering: .relaxed)
      recordPreemptions()
      close(fd)
    }
  default:
    fail("unknown consumer \(consumer)")
  }

  let start = now()
  runThreads([
    body,
    {
      for i in 0..<files {
        let fd = open(prefix + "f\(i)", O_CREAT | O_WRONLY | O_EXCL, 0o644)
        stamps.returned[i] = now()
        guard fd >= 0 else { fail("open: \(errno)") }
        close(fd)
      }
    },
  ])
  var latencies = (0..<files).map { i in stamps.seen[i] > stamps.returned[i] ? stamps.seen[i] - stamps.returned[i] : 0 }
  latencies.sort()
  let lastSeen = (0..<files).map { stamps.seen[$0] }.max()!
  let seconds = Double(lastSeen - start) / 1e9
  let early = (0..<files).filter { stamps.seen[$0] <= stamps.returned[$0] }.count
  let syscalls = consumerSyscalls.load(ordering: .relaxed)
  let fs = parent.hasPrefix("/dev/shm") ? "tmpfs" : "ext4"
  let doorbells = rung()
  print(
    String(
      format: "consumer=%@ fs=%@ files=%d p50_us=%.2f p99_us=%.2f events_per_s=%.0f seen_before_open_returned=%d consumer_syscalls=%llu syscalls_per_event=%.4f consumer_preempted=%d doorbells=%llu dropped=%llu",
      consumer, fs, files, Double(latencies[files / 2]) / 1000, Double(latencies[files * 99 / 100]) / 1000,
      Double(files) / seconds, early, syscalls, Double(syscalls) / Double(files), preempted.load(ordering: .relaxed), doorbells, dropped()))
}

/// The baseline for the structures: a ring behind a Mutex.
final class MutexRing: Sendable {
  struct Ring: ~Copyable {
    var slots: [UInt64]
    var head = 0
    var tail = 0
  }
  let state: Mutex<Ring>
  let capacity: Int
  init(capacity: Int) {
    self.capacity = capacity
    state = Mutex(Ring(slots: [UInt64](repeating: 0, count: capacity)))
  }
  func push(_ v: UInt64) -> Bool {
    state.withLock { r in
      guard r.tail - r.head < capacity else { return false }
      r.slots[r.tail % capacity] = v
      r.tail += 1
      return true
    }
  }
  func pop() -> UInt64? {
    state.withLock { r in
      guard r.head < r.tail else { return nil }
      let v = r.slots[r.head % capacity]
      r.head += 1
      return v
    }
  }
}

func measure(_ label: String, threads: String, items: Int, _ bodies: [@Sendable () -> Void]) {
  let start = now()
  runThreads(bodies)
  let seconds = Double(now() - start) / 1e9
  print(String(format: "structure=%@ threads=%@ items=%d mops_per_s=%.2f", label, threads, items, Double(items) / seconds / 1e6))
}

func structures() {
  let items = Int(option("--items", "2000000"))!
  let capacity: UInt32 = 1024
  for (producers, consumers) in [(1, 1), (2, 2)] {
    let threads = "\(producers):\(consumers)"
    let per = items / producers
    let total = per * producers
    // Baseline first, side by side.
    let ring = MutexRing(capacity: Int(capacity))
    let taken = Atomic<Int>(0)
    measure(
      "mutex-ring(baseline)", threads: threads, items: total,
      (0..<producers).map { _ -> @Sendable () -> Void in
        { for i in 0..<per { while !ring.push(UInt64(i + 1)) { sched_yield() } } }
      }
        + (0..<consumers).map { _ -> @Sendable () -> Void in
          {
            while taken.load(ordering: .relaxed) < total {
              if ring.pop() != nil { taken.add(1, ordering: .relaxed) } else { sched_yield() }
            }
          }
        })
    for kind in [ArenaStructureKind.spsc, .mpmc, .msqueue, .treiber, .uring] {
      if !kind.isMultiProducer && producers > 1 { continue }
      let mapping: SharedMapping
      let structure: ArenaStructure
      do {
        mapping = try SharedMapping(byteCount: 4096 + ArenaStructure.requiredBytes(kind: kind, capacity: capacity))
        structure = try ArenaStructure.create(kind, capacity: capacity, base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
      } catch { fail("\(kind): \(error)") }
      let taken = Atomic<Int>(0)
      let producer: @Sendable () -> Void = {
        for i in 0..<per {
          while true {
            do {
              try structure.push(UInt64(i + 1))
              break
            } catch { sched_yield() }
          }
        }
      }
      let consumer: @Sendable () -> Void
      if kind == .uring {
        // The server side: take each submission and complete it; the reaper is below.
        let served = Atomic<Int>(0)
        let server: @Sendable () -> Void = {
          while served.load(ordering: .relaxed) < total {
            if let sqe = try? structure.take() {
              try? structure.complete(userData: sqe.userData, result: 0)
              served.add(1, ordering: .relaxed)
            } else { sched_yield() }
          }
        }
        consumer = {
          while taken.load(ordering: .relaxed) < total {
            if (try? structure.reap()) != nil { taken.add(1, ordering: .relaxed) } else { sched_yield() }
          }
        }
        measure("uring(submit:serve:reap)", threads: "1:1:1", items: total, [producer, server, consumer])
        withExtendedLifetime(mapping) {}
        continue
      }
      consumer = {
        while taken.load(ordering: .relaxed) < total {
          if let _ = try? structure.pop() { taken.add(1, ordering: .relaxed) } else { sched_yield() }
        }
      }
      measure(
        kind.description, threads: threads, items: total,
        Array(repeating: producer, count: producers) + Array(repeating: consumer, count: consumers))
      withExtendedLifetime(mapping) {}
    }
  }
  // The hash set: insert then remove distinct keys with 1 and 2 threads.
  for threads in [1, 2] {
    let keys = items / 2
    let slots = UInt32(1) << UInt32(Int.bitWidth - (keys * 2 - 1).leadingZeroBitCount)
    do {
      let mapping = try SharedMapping(byteCount: 4096 + ArenaStructure.requiredBytes(kind: .hashset, capacity: slots))
      let set = try ArenaStructure.create(.hashset, capacity: slots, base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
      let per = keys / threads
      measure(
        "hashset(insert+remove)", threads: "\(threads)", items: 2 * per * threads,
        (0..<threads).map { t -> @Sendable () -> Void in
          {
            let first = UInt64(t * per + 1)
            for k in first..<first + UInt64(per) { try! set.push(k) }
            for k in first..<first + UInt64(per) { _ = try! set.remove(k) }
          }
        })
      withExtendedLifetime(mapping) {}
    } catch { fail("hashset: \(error)") }
  }
}

switch CommandLine.arguments.dropFirst().first {
case "latency": latency()
case "structures": structures()
case "drain":
  // Diagnostic: cost of the consumer alone, on a backlog built while it was idle.
  let feed = try! FileCreationFeed(process: getpid())
  let dir = "/dev/shm/arena-drain-\(getpid())"
  mkdir(dir, 0o755)
  let t0 = now()
  for i in 0..<20000 { close(open(dir + "/f\(i)", O_CREAT | O_WRONLY, 0o644)) }
  let t1 = now()
  var n = 0
  while feed.poll() != nil { n += 1 }
  let t2 = now()
  print("create \(Double(t1 - t0) / 20000) ns/file, drain \(n) events \(Double(t2 - t1) / Double(max(n, 1))) ns/event")
  for i in 0..<20000 { unlink(dir + "/f\(i)") }
  rmdir(dir)
default: fail("usage: arena-bench latency --consumer arena|arena-doorbell|ringbuf|ringbuf-spin|inotify [--files N] [--dir PARENT] | structures [--items N] | drain")
}
