import CArenaStructures
import CLibBPF
import Synchronization
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Kernel file-creation events delivered through a BPF arena: a BPF producer on the
/// best hook this kernel allows fills pool nodes and pushes them into a lock-free
/// structure; Swift polls it with acquire loads, with no system call per event.
///
/// ```swift
/// let feed = try FileCreationFeed()                  // hook: .auto, structure: .mpmc
/// print(feed.activeHook)
/// for await event in feed.events() { print(event.name, event.pid) }
/// ```
public final class FileCreationFeed: @unchecked Sendable {
  // @unchecked: `base` is the arena mapping, touched only through the C structure
  // operations (atomics); the program set is guarded by `programs`.

  /// Hook selection: a specific one, or the first that loads (lsm, fentry, tracepoint).
  public enum HookChoice: Sendable, Equatable {
    case auto
    case only(FileCreationHook)
  }

  /// The hook in use: it loaded, attached and reported a canary file.
  public let activeHook: FileCreationHook
  /// Tracepoints actually attached (some do not exist on every architecture).
  public let attachedPrograms: [String]
  /// Why the preferred hooks were skipped, in order.
  public let fallbackReasons: [String]
  public let structure: ArenaStructureKind

  private let programs: Mutex<BPFProgramSet?>
  let base: UnsafeMutableRawPointer
  let structureOffset: UInt32
  let poolOffset: UInt32
  let poolNodes: UInt32
  /// Ring buffer the producer rings when the consumer sleeps (`next(spinningFor:timeout:)`).
  private let doorbell: OpaquePointer?
  private let doorbellLock = Mutex(())
  private let received = Atomic<UInt64>(0)
  private let polls = Atomic<UInt64>(0)

  /// Loads the producer, lays out the arena, attaches, proves the hook runs (a canary
  /// file of ours must be reported), and starts publishing. Creations before this
  /// returns are not delivered.
  /// - Parameters:
  ///   - hook: `.auto` tries lsm, fentry, then tracepoints.
  ///   - structure: `.mpmc` (default), `.msqueue` or `.treiber`: several CPUs produce
  ///     at once, so single-producer structures cannot carry kernel events.
  ///   - capacity: events the structure holds (a power of two); the pool is sized so
  ///     the structure, not the pool, is the limit.
  ///   - process: only events from this process id (nil: every process), an id as seen
  ///     in `pidNamespace`.
  ///   - pidNamespace: where `process` and the events' `pid`/`tgid` are counted; nil:
  ///     the caller's own, so `getpid()` works inside a container too.
  /// - Throws: `.invalidArgument` for a structure or capacity the arena cannot hold,
  ///   `.kernel` when no hook loads or attaches (with libbpf's reason), `.silentHook`
  ///   when one attached but never reported the canary file every hook must report
  ///   before it counts, `.system` when the pid namespace cannot be read or the canary
  ///   not created ($TMPDIR or /tmp).
  public convenience init(
    hook: HookChoice = .auto, structure: ArenaStructureKind = .mpmc, capacity: UInt32 = 1 << 16,
    process: Int32? = nil, pidNamespace: PIDNamespace? = nil
  ) throws(ArenaError) {
    let hooks: [FileCreationHook]
    switch hook {
    case .auto: hooks = FileCreationHook.allCases
    case .only(let only): hooks = [only]
    }
    try self.init(
      candidates: hooks.map { HookCandidate(hook: $0, programs: $0.programs) }, structure: structure,
      capacity: capacity, process: process, pidNamespace: pidNamespace)
  }

  /// One attempt: a hook and the programs of bpf/file_events.bpf.c that make it up.
  struct HookCandidate {
    var hook: FileCreationHook
    var programs: [String]
  }

  /// Tries `candidates` in order (tests pass their own program sets).
  init(
    candidates: [HookCandidate], structure: ArenaStructureKind, capacity: UInt32, process: Int32?,
    pidNamespace: PIDNamespace?
  ) throws(ArenaError) {
    let namespace: PIDNamespace
    if let pidNamespace { namespace = pidNamespace } else { namespace = try PIDNamespace.current() }
    guard structure == .mpmc || structure == .msqueue || structure == .treiber else { throw .invalidArgument }
    guard ARENA_IS_POW2(capacity), capacity >= 2 else { throw .invalidArgument }
    var reasons: [String] = []
    var silent = false
    var lastError: ArenaError?
    var ready: (hook: FileCreationHook, set: BPFProgramSet, arena: Arena)?
    for candidate in candidates {
      do {
        let set = try BPFProgramSet(.fileEvents, programs: candidate.programs)
        // A hook that loads may still fail to attach (e.g. BPF LSM not in the active
        // LSM list): then the next hook is tried too.
        let arena = try Self.start(set, hook: candidate.hook, programs: candidate.programs, structure: structure,
                                   capacity: capacity, process: process, namespace: namespace, reasons: &reasons)
        ready = (candidate.hook, set, arena)
        break
      } catch .invalidArgument {
        throw .invalidArgument
      } catch {
        lastError = error
        if case .silentHook(let detail) = error {
          silent = true
          reasons.append("\(candidate.hook.rawValue): \(detail)")
        } else {
          reasons.append("\(candidate.hook.rawValue): \(error.errno)")
        }
      }
    }
    guard let (active, set, arena) = ready else {
      if candidates.count == 1, let lastError { throw lastError }
      let detail = "no file-creation hook loads, attaches and runs: " + reasons.joined(separator: "; ")
      if silent { throw .silentHook(detail: detail) }
      throw .kernel(.notPermitted, detail: detail)
    }
    let (base, structureOffset, poolOffset, nodes, attached, doorbell) = arena

    self.doorbell = doorbell
    self.activeHook = active
    self.attachedPrograms = attached
    self.fallbackReasons = reasons
    self.structure = structure
    self.programs = Mutex(set)
    self.base = base
    self.structureOffset = structureOffset
    self.poolOffset = poolOffset
    self.poolNodes = nodes
  }

  /// Where a started feed's pieces are.
  typealias Arena = (
    base: UnsafeMutableRawPointer, structureOffset: UInt32, poolOffset: UInt32, nodes: UInt32,
    attached: [String], doorbell: OpaquePointer?
  )

  /// Lays out the arena of a loaded program set, attaches the hook's programs, opens the
  /// doorbell and enables publishing.
  private static func start(
    _ set: BPFProgramSet, hook: FileCreationHook, programs: [String], structure: ArenaStructureKind,
    capacity: UInt32, process: Int32?, namespace: PIDNamespace, reasons: inout [String]
  ) throws(ArenaError) -> Arena {
    let (base, byteCount) = try set.mapArena()
    // Layout: control page, the structure, then the pool of event nodes.
    let nodeSize = ermfs_arena_event_node_size()
    let structureOffset: UInt32 = 4096
    let structureBytes = ArenaStructure.align(Int(ermfs_arena_bytes(structure.rawValue, capacity)))
    let poolStart = (Int(structureOffset) + structureBytes + 4095) / 4096 * 4096
    // Michael-Scott and Treiber take one extra node per value they hold (+1 dummy).
    // Sized in Int so a huge capacity fails this check instead of trapping.
    let nodeCount = structure == .mpmc ? Int(capacity) : 2 * Int(capacity) + 1
    guard poolStart + Int(ermfs_arena_pool_bytes(nodeSize, 0)) + Int(nodeSize) * nodeCount <= min(byteCount, 1 << 32)
    else { throw .invalidArgument }
    let poolOffset = UInt32(poolStart)
    let nodes = UInt32(nodeCount)
    // Every page the layout uses must exist before a producer writes to it.
    ermfs_arena_prefault(base, UInt64(poolStart) + ermfs_arena_pool_bytes(nodeSize, nodes))
    ermfs_arena_control_init(base)
    var status = ermfs_arena_pool_init(base, poolOffset, nodeSize, nodes)
    guard status == 0 else { throw ArenaError(status: status) }
    status = ermfs_arena_init(structure.rawValue, base, structureOffset, capacity, poolOffset)
    guard status == 0 else { throw ArenaError(status: status) }
    ermfs_arena_control_set_events(base, structure.rawValue, structureOffset, poolOffset, hook.code)

    var attached: [String] = []
    for program in programs {
      do {
        try set.attach(program)
        attached.append(program)
      } catch {
        // Enter/exit come in pairs; a tracepoint missing on this architecture is skipped.
        if hook != .tracepoint { throw error }
        reasons.append("\(program): \(error.errno)")
      }
    }
    // Attached is not running (BPF LSM missing from lsm= attaches fine): only a hook
    // that reports a canary file of ours counts. Its traces are gone before we start.
    let own = try PIDNamespace.current()
    ermfs_arena_control_set_filter(base, UInt32(bitPattern: getpid()), own.device, own.inode, own.isInitial ? 1 : 0)
    ermfs_arena_control_enable_events(base, 1)
    do {
      try proveDelivery(base: base, structure: structure, at: structureOffset, pool: poolOffset, hook: hook)
    } catch {
      ermfs_arena_control_quiesce(base)
      throw error
    }
    ermfs_arena_control_quiesce(base)
    var discarded = ermfs_file_event()
    while ermfs_arena_take_event(structure.rawValue, base, structureOffset, poolOffset, &discarded) == 0 {}
    ermfs_arena_control_reset_event_counters(base)

    var doorbell: OpaquePointer?
    let ringStatus = ermfs_bpf_ringbuf_open(set.rawHandle, "doorbell", { _, _, _ in 0 }, nil, &doorbell)
    guard ringStatus == 0 else { throw .system(Errno(rawValue: -ringStatus)) }
    ermfs_arena_control_set_filter(
      base, UInt32(bitPattern: process ?? 0), namespace.device, namespace.inode, namespace.isInitial ? 1 : 0)
    ermfs_arena_control_enable_events(base, 1)
    return (base, structureOffset, poolOffset, nodes, attached, doorbell)
  }

  /// How long a hook has to report the canary. Producers publish inside the creating
  /// system call, so a working hook has it there before `open` returns; the wait only
  /// matters for a silent hook, and for a machine too loaded to schedule us.
  static let canaryTimeout: Duration = .seconds(2)

  /// Creates (and removes) a file in $TMPDIR or /tmp and waits for its event: proof that
  /// the hook's programs run. The corresponding C functions are `open` and `unlink`.
  /// - Throws: `.silentHook` when no event names it in time, `.system` when the canary
  ///   cannot be created.
  static func proveDelivery(
    base: UnsafeMutableRawPointer, structure: ArenaStructureKind, at: UInt32, pool: UInt32, hook: FileCreationHook
  ) throws(ArenaError) {
    let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    let name = ".ermfs-canary-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(directory + "/" + name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .system(Errno(rawValue: errno)) }
    try? FileDescriptor(rawValue: fd).close()
    unlink(directory + "/" + name)
    let clock = ContinuousClock()
    let deadline = clock.now + canaryTimeout
    var raw = ermfs_file_event()
    while true {
      if ermfs_arena_take_event(structure.rawValue, base, at, pool, &raw) == 0 {
        if FileCreationEvent(raw).name == name { return }
        continue
      }
      if clock.now >= deadline {
        let advice = hook == .lsm ? " (is bpf in the kernel's lsm= list?)" : ""
        throw .silentHook(detail: "\(hook.rawValue) attached, but reported no canary file within \(canaryTimeout)\(advice)")
      }
      usleep(1000)
    }
  }

  deinit {
    close()
    if let doorbell { ermfs_bpf_ringbuf_free(doorbell) }
  }

  /// Stops publishing, detaches the programs and unmaps the arena. Idempotent.
  public func close() {
    programs.withLock { set in
      guard let live = set else { return }
      ermfs_arena_control_quiesce(base)
      live.close()
      set = nil
    }
  }

  /// Takes one event if one is ready: acquire loads only, no system call.
  /// Returns nil when none is ready or the feed is closed.
  public func poll() -> FileCreationEvent? {
    programs.withLock { set -> FileCreationEvent? in
      guard set != nil else { return nil }
      polls.add(1, ordering: .relaxed)
      var raw = ermfs_file_event()
      guard ermfs_arena_take_event(structure.rawValue, base, structureOffset, poolOffset, &raw) == 0 else {
        return nil
      }
      received.add(1, ordering: .relaxed)
      return FileCreationEvent(raw)
    }
  }

  /// Stops publishing for good, waits until no producer is inside code that moves
  /// nodes, and walks the structure and the pool: every node must be held by the
  /// structure, free, or parked, and together exactly the pool (a lost node is
  /// `.corrupt`). Returns the events still queued, which `poll()` can still take. The
  /// corresponding C functions are `arena_<kind>_verify` and `arena_pool_verify`.
  public func verify() throws(ArenaError) -> UInt64 {
    try programs.withLock { set throws(ArenaError) -> UInt64 in
      guard set != nil else { throw .invalidArgument }
      ermfs_arena_control_quiesce(base)
      var held: UInt64 = 0
      var free: UInt64 = 0
      var parked: UInt64 = 0
      var status = ermfs_arena_verify(structure.rawValue, base, structureOffset, &held)
      guard status == 0 else { throw ArenaError(status: status) }
      status = ermfs_arena_pool_verify(base, poolOffset, &free, &parked)
      guard status == 0 else { throw ArenaError(status: status) }
      // Each queued event is one node; Michael-Scott/Treiber hold one more per value
      // (+1 dummy). No node waits outside the arena: the tracepoint producer takes
      // its node at the syscall's exit, and no producer is running any more.
      let perValue: UInt64 = structure == .mpmc ? 1 : 2
      let dummy: UInt64 = structure == .msqueue ? 1 : 0
      guard held * perValue + dummy + free + parked == UInt64(poolNodes) else { throw .corrupt }
      return held
    }
  }

  /// Waits for the next event: polls (no system call) for `spinningFor`, then sets the
  /// doorbell flag in the control block, looks once more, and blocks in epoll on the
  /// doorbell ring buffer until a producer rings it (only then: one wakeup per sleep,
  /// like io_uring's SQPOLL wakeup flag). Returns nil after `timeout` or once closed.
  /// For a dedicated consumer thread; the corresponding C function is `ring_buffer__poll`.
  public func next(spinningFor spin: Duration = .microseconds(50), timeout: Duration) -> FileCreationEvent? {
    let clock = ContinuousClock()
    let start = clock.now
    while true {
      if let event = poll() { return event }
      let now = clock.now
      if now - start >= timeout || !isOpen { return nil }
      if now - start < spin {
        relax()
        continue
      }
      // Announce the sleep, then look again: a producer that published before it could
      // see the flag is caught by this poll, any later one rings.
      guard setSleeping(true) else { return nil }
      if let event = poll() {
        setSleeping(false)
        return event
      }
      let left = timeout - (clock.now - start)
      let milliseconds = Int32(max(1, min(100, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
      doorbellLock.withLock { _ in _ = ermfs_bpf_ringbuf_poll(doorbell, milliseconds) }
      setSleeping(false)
    }
  }

  /// Writes the doorbell flag unless the feed is closed: close() unmaps the arena, and a
  /// consumer may be blocked in epoll while another thread closes. False when closed.
  @discardableResult
  private func setSleeping(_ sleeping: Bool) -> Bool {
    programs.withLock { set in
      guard set != nil else { return false }
      ermfs_arena_control_set_sleeping(base, sleeping ? 1 : 0)
      return true
    }
  }

  /// Whether a consumer has announced it is blocked waiting for the doorbell.
  var consumerIsSleeping: Bool {
    programs.withLock { set in
      var kernel = ermfs_arena_counters()
      if set != nil { ermfs_arena_control_read(base, &kernel) }
      return kernel.consumer_sleeping != 0
    }
  }

  /// One CPU pause (`pause` on x86, `yield` on arm64): call between empty polls when
  /// spinning, so a sibling hardware thread (often the producer) is not starved.
  @inline(__always)
  public func relax() { ermfs_arena_cpu_relax() }

  public var counters: FileCreationCounters {
    programs.withLock { set in
      var kernel = ermfs_arena_counters()
      if set != nil { ermfs_arena_control_read(base, &kernel) }
      return FileCreationCounters(
        received: received.load(ordering: .relaxed), droppedOnFull: kernel.events_dropped,
        polls: polls.load(ordering: .relaxed), published: kernel.events_published,
        loopBudgetExhausted: kernel.events_loop_budget, doorbellsRung: kernel.doorbells_rung,
        namesReadAtExit: kernel.names_read_at_exit)
    }
  }

  /// The events as an asynchronous sequence. The consumer polls (the default): when
  /// nothing is ready it spins with a CPU pause, backing off exponentially, then yields
  /// its task; with `sleepInterval` it sleeps that long between empty polls instead.
  /// The sequence ends when the task is cancelled or the feed is closed.
  public func events(sleepInterval: Duration? = nil) -> Events {
    Events(feed: self, sleepInterval: sleepInterval)
  }

  public struct Events: AsyncSequence, Sendable {
    public typealias Element = FileCreationEvent
    let feed: FileCreationFeed
    let sleepInterval: Duration?

    public func makeAsyncIterator() -> Iterator { Iterator(feed: feed, sleepInterval: sleepInterval) }

    public struct Iterator: AsyncIteratorProtocol {
      let feed: FileCreationFeed
      let sleepInterval: Duration?

      public mutating func next() async -> FileCreationEvent? {
        var spins = 1
        while !Task.isCancelled && feed.isOpen {
          if let event = feed.poll() { return event }
          if let sleepInterval {
            try? await Task.sleep(for: sleepInterval)
          } else if spins < 1024 {
            for _ in 0..<spins { ermfs_arena_cpu_relax() }
            spins *= 2
          } else {
            await Task.yield()
          }
        }
        return nil
      }
    }
  }

  var isOpen: Bool { programs.withLock { $0 != nil } }
}

extension FileCreationEvent {
  init(_ raw: ermfs_file_event) {
    var copy = raw
    let buffer = withUnsafeBytes(of: &copy.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    let command = withUnsafeBytes(of: &copy.comm) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    let status: NameStatus =
      raw.name_flags & ERMFS_NAME_UNREADABLE != 0 ? .unreadable
      : raw.name_flags & ERMFS_NAME_TRUNCATED != 0 ? .truncated : .complete
    let name: String
    let path: String?
    if raw.name_flags & ERMFS_NAME_PATH != 0 {
      path = buffer
      name = status == .complete ? String(Self.lastComponent(of: buffer[...])) : ""
    } else {
      path = nil
      name = buffer
    }
    self.init(
      sequence: raw.sequence, timestampNanoseconds: raw.timestamp_ns, pid: Int32(bitPattern: raw.pid),
      tgid: Int32(bitPattern: raw.tgid), command: command, mode: raw.mode, name: name, path: path,
      nameStatus: status, directoryDescriptor: raw.dirfd, origin: Origin(rawValue: raw.syscall),
      hook: FileCreationHook(code: raw.hook))
  }
}

/// ARENA_IS_POW2 for Swift.
func ARENA_IS_POW2(_ x: UInt32) -> Bool { x != 0 && x & (x - 1) == 0 }
