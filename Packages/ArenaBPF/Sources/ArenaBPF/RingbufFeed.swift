import CArenaStructures
import CLibBPF
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The comparison baseline: the same syscall tracepoints as `FileCreationFeed`'s
/// tracepoint hook (openat), publishing through a BPF ring buffer
/// (BPF_MAP_TYPE_RINGBUF) read with libbpf's `ring_buffer__poll` (epoll) or
/// `ring_buffer__consume` (memory reads only). Used from one thread.
public final class RingbufFeed {
  private let programs: BPFProgramSet
  private let base: UnsafeMutableRawPointer
  private var ring: OpaquePointer?
  private let sink: Sink

  final class Sink {
    var handler: (FileCreationEvent) -> Void = { _ in }
  }

  /// Loads and attaches the ring-buffer producer for events of `process` (nil: all), an
  /// id in `pidNamespace` (nil: the caller's).
  public init(process: Int32? = nil, pidNamespace: PIDNamespace? = nil) throws(ArenaError) {
    let namespace: PIDNamespace
    if let pidNamespace { namespace = pidNamespace } else { namespace = try PIDNamespace.current() }
    programs = try BPFProgramSet(.fileEventsRingbuf, programs: ["rb_enter_openat", "rb_exit_openat"])
    let (base, _) = try programs.mapArena()
    self.base = base
    sink = Sink()
    ermfs_arena_control_init(base)
    ermfs_arena_control_set_events(base, 0, 0, 0, 3)
    ermfs_arena_control_set_filter(
      base, UInt32(bitPattern: process ?? 0), namespace.device, namespace.inode, namespace.isInitial ? 1 : 0)
    var out: OpaquePointer?
    let status = ermfs_bpf_ringbuf_open(
      programs.rawHandle, "events",
      { context, data, size in
        guard let context, let data, size >= MemoryLayout<ermfs_file_event>.size else { return 0 }
        let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
        sink.handler(FileCreationEvent(data.load(as: ermfs_file_event.self)))
        return 0
      }, Unmanaged.passUnretained(sink).toOpaque(), &out)
    guard status == 0 else { throw .system(Errno(rawValue: -status)) }
    ring = out
    try programs.attach("rb_enter_openat")
    try programs.attach("rb_exit_openat")
    ermfs_arena_control_enable_events(base, 1)
  }

  deinit {
    if let ring { ermfs_bpf_ringbuf_free(ring) }
    programs.close()
  }

  /// Hands every ready event to `handler`; waits in epoll up to `timeoutMilliseconds`
  /// when none is ready (0: do not wait). The corresponding C function is `ring_buffer__poll`.
  @discardableResult
  public func poll(timeoutMilliseconds: Int32, _ handler: @escaping (FileCreationEvent) -> Void) throws(ArenaError) -> Int {
    sink.handler = handler
    let n = ermfs_bpf_ringbuf_poll(ring, timeoutMilliseconds)
    if n < 0 && n != -EINTR { throw .system(Errno(rawValue: -n)) }
    return Int(max(n, 0))
  }

  /// Hands every ready event to `handler` without waiting or any system call.
  /// The corresponding C function is `ring_buffer__consume`.
  @discardableResult
  public func consume(_ handler: @escaping (FileCreationEvent) -> Void) throws(ArenaError) -> Int {
    sink.handler = handler
    let n = ermfs_bpf_ringbuf_consume(ring)
    if n < 0 { throw .system(Errno(rawValue: -n)) }
    return Int(n)
  }

  /// Events the producer could not reserve ring space for.
  public var dropped: UInt64 {
    var counters = ermfs_arena_counters()
    ermfs_arena_control_read(base, &counters)
    return counters.events_dropped
  }
}

/// Counts the system calls one thread makes, with a BPF program on the
/// raw_syscalls/sys_enter tracepoint (bpf/syscall_count.bpf.c).
public final class SyscallCounter: @unchecked Sendable {
  // @unchecked: after init only `watch` and `count` run, and they are atomic
  // stores/loads on the arena words.
  private let programs: BPFProgramSet
  private let state: UnsafeMutableRawPointer

  /// Loads and attaches the counter; counting starts with `watch(thread:)`.
  public init() throws(ArenaError) {
    programs = try BPFProgramSet(.syscallCount, programs: ["count_syscalls"])
    state = try programs.mapArena().base
    state.storeBytes(of: UInt32(0), as: UInt32.self)
    ermfs_arena_store_release(state + 8, 0)
    try programs.attach("count_syscalls")
  }

  deinit { programs.close() }

  /// Counts the thread with id `tid` (gettid) from now on, from zero.
  public func watch(thread tid: Int32) {
    ermfs_arena_store_release(state + 8, 0)
    ermfs_arena_store_release(state, UInt64(UInt32(bitPattern: tid)))
  }

  /// System calls the watched thread entered since `watch`.
  public var count: UInt64 { ermfs_arena_load_acquire(state + 8) }
}

/// The calling thread's kernel id. The corresponding C function is `gettid`.
public func currentThreadID() -> Int32 { ermfs_gettid() }
