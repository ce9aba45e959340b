import SystemPackage

/// One positioned write for a batch: `bytes` go to `descriptor` at `offset`, like
/// `pwrite(2)`. The corresponding io_uring operation is `IORING_OP_WRITE`
/// (liburing's `io_uring_prep_write`).
///
/// The request borrows `bytes`: the memory must stay valid and unchanged until the
/// ``IOUring/write(_:)`` call that carries it returns.
public struct WriteRequest {
  /// The file to write to.
  public var descriptor: FileDescriptor
  /// The bytes to write; may be empty.
  public var bytes: UnsafeRawBufferPointer
  /// The absolute file offset of the first byte (must not be negative). Ignored by the
  /// kernel for pipes and sockets, which have no position.
  public var offset: Int64

  /// Creates a request to write `bytes` into `descriptor` at `offset`.
  public init(descriptor: FileDescriptor, bytes: UnsafeRawBufferPointer, offset: Int64 = 0) {
    self.descriptor = descriptor
    self.bytes = bytes
    self.offset = offset
  }
}

/// One positioned read for a batch: up to `buffer.count` bytes from `descriptor` at
/// `offset` into `buffer`, like `pread(2)`. The corresponding io_uring operation is
/// `IORING_OP_READ` (liburing's `io_uring_prep_read`).
///
/// The request borrows `buffer` until the ``IOUring/read(_:)`` call that carries it returns.
public struct ReadRequest {
  /// The file to read from.
  public var descriptor: FileDescriptor
  /// Where the bytes go; may be empty.
  public var buffer: UnsafeMutableRawBufferPointer
  /// The absolute file offset of the first byte (must not be negative).
  public var offset: Int64

  /// Creates a request to fill `buffer` from `descriptor` starting at `offset`.
  public init(descriptor: FileDescriptor, buffer: UnsafeMutableRawBufferPointer, offset: Int64 = 0) {
    self.descriptor = descriptor
    self.buffer = buffer
    self.offset = offset
  }
}

/// The outcome of one operation of a batch.
///
/// A write that succeeds transferred every byte (`bytesTransferred == bytes.count`,
/// `error == nil`); short writes are resubmitted for the remainder until done or failed.
/// When an operation fails after partial progress, `bytesTransferred` says how many bytes
/// did reach the file before `error` (as `pwrite(2)` would on its next call); nothing is
/// dropped silently. A read that stops early with `error == nil` hit end of file.
public struct IOResult: Sendable, Hashable, CustomStringConvertible {
  /// Bytes written (or read) by this operation, including before a failure.
  public var bytesTransferred: Int
  /// Why the operation stopped early, or nil when it finished.
  public var error: Errno?

  /// Creates a result.
  public init(bytesTransferred: Int, error: Errno? = nil) {
    self.bytesTransferred = bytesTransferred
    self.error = error
  }

  /// The byte count, or the operation's error thrown.
  public func get() throws(Errno) -> Int {
    if let error { throw error }
    return bytesTransferred
  }

  public var description: String {
    if let error { return "\(bytesTransferred) bytes, then \(error)" }
    return "\(bytesTransferred) bytes"
  }
}

/// Counters of one ring since it was created.
public struct IOUringStatistics: Sendable, Hashable {
  /// `io_uring_enter` system calls made (each `io_uring_submit_and_wait` is one).
  public var enterCalls: Int = 0
  /// Submission queue entries prepared, resubmissions included.
  public var entriesSubmitted: Int = 0
  /// Entries prepared again for the remainder of a short write or read.
  public var resubmissions: Int = 0

  public init() {}
}
