import CErmIOUring
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An io_uring instance used to push batches of reads and writes to the kernel with
/// few system calls. Backed by liburing (`io_uring_queue_init`).
///
/// A ring is used by one thread at a time: it is deliberately not `Sendable` (its
/// submission and completion queues are single-producer, single-consumer), so Swift 6
/// rejects sharing one across concurrency domains. Create one ring per thread or task,
/// or guard a shared one with a `Mutex`.
///
/// ```swift
/// let ring = try IOUring(depth: 64)
/// let results = try ring.write([WriteRequest(descriptor: fd, bytes: bytes, offset: 0)])
/// try results[0].get()
/// ```
public final class IOUring {
  /// Largest length given to one submission queue entry. The kernel caps one transfer at
  /// about 2 GiB anyway (MAX_RW_COUNT); longer requests continue as resubmissions.
  static let maximumEntryLength = 1 << 30

  /// The largest depth the kernel accepts (IORING_MAX_ENTRIES).
  public static let maximumDepth = 32768

  private var ring: OpaquePointer?
  private let completions: UnsafeMutablePointer<erm_completion>

  /// Submission queue entries available: the requested depth rounded up to a power of
  /// two by the kernel. At most this many operations are in flight at once; larger
  /// batches are split.
  public let depth: Int

  /// Counters since creation.
  public private(set) var statistics = IOUringStatistics()

  /// Creates a ring with room for `depth` operations in flight.
  ///
  /// The corresponding C function is liburing's `io_uring_queue_init` (system call
  /// `io_uring_setup`).
  ///
  /// - Parameter depth: submission queue entries, 1 through ``maximumDepth``.
  /// - Throws: `Errno.invalidArgument` (EINVAL) for a depth outside 1...32768;
  ///   `Errno.notPermitted` (EPERM) when io_uring is disabled (sysctl
  ///   `kernel.io_uring_disabled`, a seccomp policy or a container runtime);
  ///   `Errno.noFunction` (ENOSYS) when the kernel has no io_uring;
  ///   `Errno.noMemory` (ENOMEM) when the rings cannot be allocated or locked.
  ///   ``setupFailureDescription(_:)`` turns these into a sentence for users.
  public init(depth: Int) throws(Errno) {
    guard depth >= 1, depth <= IOUring.maximumDepth else { throw .invalidArgument }
    guard let ring = erm_ring_create(UInt32(depth)) else { throw Errno(rawValue: errno) }
    let entries = Int(erm_ring_sq_entries(ring))
    self.ring = ring
    self.depth = entries
    self.completions = .allocate(capacity: entries)
  }

  deinit {
    erm_ring_destroy(ring)
    completions.deallocate()
  }

  /// Whether ``close()`` has been called.
  public var isClosed: Bool { ring == nil }

  /// The ring's own file descriptor, or nil once closed.
  public var ringDescriptor: FileDescriptor? {
    ring.map { FileDescriptor(rawValue: erm_ring_fd($0)) }
  }

  /// Unmaps the rings and closes the ring's descriptor now instead of at deinit.
  /// Later batches throw EBADF. Calling it twice is harmless.
  ///
  /// The corresponding C function is liburing's `io_uring_queue_exit`.
  public func close() {
    erm_ring_destroy(ring)
    ring = nil
  }

  /// A sentence explaining why ``init(depth:)`` failed with `error`, for messages.
  public static func setupFailureDescription(_ error: Errno) -> String {
    switch error {
    case .notPermitted:
      return "io_uring is disabled here (EPERM): check sysctl kernel.io_uring_disabled, seccomp or the container runtime"
    case .noFunction:
      return "this kernel has no io_uring support (ENOSYS)"
    case .noMemory:
      return "not enough memory to create the io_uring rings (ENOMEM): lower the depth or raise RLIMIT_MEMLOCK on old kernels"
    case .invalidArgument:
      return "invalid io_uring depth (EINVAL): use 1...\(maximumDepth)"
    default:
      return "io_uring setup failed: \(error)"
    }
  }

  /// Writes every request, at most ``depth`` in flight at a time, and returns one result
  /// per request in request order.
  ///
  /// The corresponding C functions are liburing's `io_uring_prep_write`,
  /// `io_uring_submit_and_wait` and `io_uring_peek_batch_cqe`; each operation behaves
  /// like `pwrite(2)` retried until the whole buffer is written. Short writes are
  /// resubmitted for the remainder. An operation's own failure (EBADF for a bad
  /// descriptor, EINVAL for a negative offset, EFBIG, ENOSPC, EPERM on a sealed memfd, ...)
  /// is reported in its ``IOResult`` and does not affect the others.
  ///
  /// - Throws: only failures of the ring itself: EBADF after ``close()``, or an
  ///   unexpected `io_uring_enter` error (the ring is then closed).
  public func write(_ requests: [WriteRequest]) throws(Errno) -> [IOResult] {
    var operations = [Operation]()
    operations.reserveCapacity(requests.count)
    for r in requests {
      operations.append(Operation(
        descriptor: r.descriptor.rawValue,
        address: UnsafeMutableRawPointer(mutating: r.bytes.baseAddress),
        remaining: r.bytes.count, offset: r.offset))
    }
    return try run(&operations, kind: .write)
  }

  /// Reads every request, at most ``depth`` in flight at a time, and returns one result
  /// per request in request order.
  ///
  /// The corresponding C functions are liburing's `io_uring_prep_read`,
  /// `io_uring_submit_and_wait` and `io_uring_peek_batch_cqe`; each operation behaves
  /// like `pread(2)` retried until the buffer is full or end of file is reached
  /// (then `bytesTransferred < buffer.count` with no error).
  ///
  /// - Throws: only failures of the ring itself, as for ``write(_:)``.
  public func read(_ requests: [ReadRequest]) throws(Errno) -> [IOResult] {
    var operations = [Operation]()
    operations.reserveCapacity(requests.count)
    for r in requests {
      operations.append(Operation(
        descriptor: r.descriptor.rawValue, address: r.buffer.baseAddress,
        remaining: r.buffer.count, offset: r.offset))
    }
    return try run(&operations, kind: .read)
  }

  // MARK: - The batch engine

  private enum Kind { case read, write }

  /// The part of one request still to do.
  private struct Operation {
    var descriptor: Int32
    var address: UnsafeMutableRawPointer?
    var remaining: Int
    var offset: Int64
    var transferred = 0
    var error: Errno? = nil
    var finished = false
  }

  private func run(_ operations: inout [Operation], kind: Kind) throws(Errno) -> [IOResult] {
    guard let ring else { throw .badFileDescriptor }
    // Operations needing an entry: first the untouched ones in order, then remainders.
    var nextFresh = 0
    var again: [Int] = []
    var inFlight = 0

    while true {
      // Fill the submission queue, never exceeding `depth` in flight so the completion
      // queue (twice as large) cannot overflow.
      while inFlight < depth {
        let index: Int
        if let i = again.popLast() {
          index = i
        } else if nextFresh < operations.count {
          index = nextFresh
          nextFresh += 1
          if operations[index].offset < 0 {
            operations[index].error = .invalidArgument
            operations[index].finished = true
            continue
          }
        } else {
          break
        }
        let op = operations[index]
        let length = UInt32(min(op.remaining, IOUring.maximumEntryLength))
        let rc: Int32
        switch kind {
        case .write:
          rc = erm_ring_prep_write(ring, op.descriptor, op.address, length,
                                   UInt64(op.offset), UInt64(index))
        case .read:
          rc = erm_ring_prep_read(ring, op.descriptor, op.address, length,
                                  UInt64(op.offset), UInt64(index))
        }
        if rc != 0 {  // -EBUSY: no free entry although fewer than depth are in flight
          again.append(index)
          break
        }
        inFlight += 1
        statistics.entriesSubmitted += 1
      }
      if inFlight == 0 { break }

      // Wait for half of what is in flight: waiting for one completion costs an
      // io_uring_enter per few operations (writes into memfds finish on io-wq workers,
      // one by one); waiting for all leaves the queue idle behind the slowest one.
      let submitted = erm_ring_submit_and_wait(ring, UInt32(max(1, inFlight / 2)))
      statistics.enterCalls += 1
      if submitted < 0 {
        let error = Errno(rawValue: -submitted)
        switch error {
        case .interrupted, .resourceTemporarilyUnavailable, .resourceBusy:
          // Transient: a signal, or the kernel is short of resources / completion room.
          // Reap what is there and try again.
          break
        default:
          // The ring itself is broken; in-flight entries cannot be trusted any more.
          close()
          throw error
        }
      }

      let reaped = Int(erm_ring_reap(ring, completions, UInt32(depth)))
      for c in UnsafeBufferPointer(start: completions, count: reaped) {
        inFlight -= 1
        let index = Int(c.user_data)
        if complete(&operations[index], result: c.result, kind: kind) {
          again.append(index)
          statistics.resubmissions += 1
        }
      }
    }

    return operations.map { IOResult(bytesTransferred: $0.transferred, error: $0.error) }
  }

  /// Applies one completion to `op`; returns true when the operation needs another entry.
  private func complete(_ op: inout Operation, result: Int32, kind: Kind) -> Bool {
    if result < 0 {
      let error = Errno(rawValue: -result)
      if error == .interrupted { return true }  // nothing transferred: just retry
      op.error = error
      op.finished = true
      return false
    }
    let count = Int(result)
    if count == 0 && op.remaining > 0 {
      // Read: end of file. Write: the kernel accepted nothing for a non-empty buffer,
      // which retrying could repeat forever; report it rather than drop the rest.
      if kind == .write { op.error = .ioError }
      op.finished = true
      return false
    }
    op.transferred += count
    op.remaining -= count
    op.offset += Int64(count)
    op.address = op.address.map { $0 + count }
    if op.remaining > 0 { return true }
    op.finished = true
    return false
  }
}
