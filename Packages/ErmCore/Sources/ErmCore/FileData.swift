import ErmAlloc
import ErmCompress
import Synchronization

/// A materialised file's plain bytes.
///
/// Synchronisation (why it is `@unchecked Sendable`): the buffer is changed only under
/// its inode's contents lock, and only while `pins == 0`. A pin (taken and dropped under
/// the same lock) is held by a `withContents` snapshot or by a compression in flight;
/// both only read the bytes, without the lock. A writer that finds the buffer pinned by a
/// snapshot copies it first (copy on write); one that finds a compression waits for it
/// to stop. So nobody reads bytes that are being changed, or a mapping being moved.
final class PlainBytes: @unchecked Sendable {
  let buffer: ExtentBuffer
  /// Readers working on the bytes without the contents lock. Guarded by the lock.
  var pins = 0
  /// The file has let go of these bytes while they were pinned; the last pin takes
  /// them off the counters. Guarded by the lock.
  var detached = false

  init(_ buffer: ExtentBuffer) { self.buffer = buffer }

  var count: Int { buffer.count }
}

/// A compressed file's stored bytes (chunked gzip). Immutable once made, so any thread
/// may read them without a lock; they are freed when the last reference goes (the file
/// dropped them, and no reader or snapshot still holds them).
final class StoredBytes: @unchecked Sendable {
  private enum Storage {
    /// The usual home: a slab slot or a trimmed mapping (`PageAllocator.makeBlob`).
    case blob(Blob)
    /// When handing the buffer to the allocator failed: the buffer, trimmed.
    case buffer(ExtentBuffer)
  }

  private let storage: Storage

  init(blob: Blob) { storage = .blob(blob) }
  init(buffer: ExtentBuffer) { storage = .buffer(buffer) }

  func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    switch storage {
    case .blob(let blob): return try blob.withUnsafeBytes(body)
    case .buffer(let buffer): return try buffer.withUnsafeBytes(body)
    }
  }

  /// Tests only (corruption tests): stored bytes are otherwise never changed.
  func withUnsafeMutableBytesForTesting(_ body: (UnsafeMutableRawBufferPointer) -> Void) {
    switch storage {
    case .blob(let blob): blob.withUnsafeMutableBytes(body)
    case .buffer(let buffer): buffer.withUnsafeMutableBytes(body)
    }
  }

  /// Memory these bytes hold: the slab slot or the page-rounded mapping.
  var footprint: Int {
    switch storage {
    case .blob(let blob):
      switch blob.placement {
      case .empty: return 0
      case .slab(let slotSize): return slotSize
      case .mapping(let length): return length
      }
    case .buffer(let buffer): return Footprint.pages(buffer.count)
    }
  }
}

/// A compressed file's bytes as readers see them without the contents lock: replaced as a
/// whole (`FileStorage.publish`) whenever the file's form changes, never changed.
final class CompressedView: Sendable {
  let stored: StoredBytes
  let index: ChunkIndex
  /// `FileContentsState.generation` when these bytes were installed (chunk caches).
  let generation: UInt64

  init(stored: StoredBytes, index: ChunkIndex, generation: UInt64) {
    self.stored = stored
    self.index = index
    self.generation = generation
  }
}

/// Where a regular file's bytes are.
enum FileData {
  /// No bytes at all (a new or truncated-to-zero file holds no memory).
  case empty
  /// Plain bytes; their count is the logical size.
  case plain(PlainBytes)
  /// Chunked gzip, the index beside it.
  case compressed(StoredBytes, ChunkIndex)
}

/// The state behind an inode's contents lock.
struct FileContentsState {
  var data: FileData = .empty
  /// Changed since it was last compressed: the last close compresses only then.
  var modified = false
  /// Bumped each time new compressed bytes are installed; chunk caches compare it.
  var generation: UInt64 = 0
  /// Bumped by every change of the bytes; a compression installs its result only if this
  /// is what it was when it started.
  var version: UInt64 = 0
  /// The compression in flight on the current plain bytes, if any.
  var compression: CompressionJob?
  /// Set once an unlinked, unreferenced file gave its memory back.
  var released = false

  var logicalCount: Int {
    switch data {
    case .empty: return 0
    case .plain(let plain): return plain.count
    case .compressed(_, let index): return index.logicalSize
    }
  }

  /// Memory the contents hold (what the quota counts).
  var footprint: Int {
    switch data {
    case .empty: return 0
    case .plain(let plain): return Footprint.pages(plain.count)
    case .compressed(let stored, _): return stored.footprint
    }
  }

  var isCompressed: Bool {
    if case .compressed = data { return true }
    return false
  }
}

/// A compression of one file's plain bytes running outside the contents lock.
///
/// Whoever must change or drop the bytes meanwhile cancels it: `unlink`, `O_TRUNC` and
/// truncation to zero simply drop their reference and go on (the job notices between
/// chunks and throws its work away); a writer cancels it and, if it is already reading
/// the buffer, waits until it has stopped, which is at most one chunk's work. A job that
/// has not started yet is taken back at once (`withdraw`).
final class CompressionJob: Sendable {
  private static let queued = 0, running = 1, finished = 2
  private let phase = Atomic<Int>(CompressionJob.queued)
  private let cancelled = Atomic<Bool>(false)

  var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

  func cancel() { cancelled.store(true, ordering: .releasing) }

  /// Called by the compressing thread before it touches the bytes; false when the job
  /// was withdrawn meanwhile (then it must not touch them, nor the pin).
  func start() -> Bool {
    phase.compareExchange(expected: CompressionJob.queued, desired: CompressionJob.running,
                          ordering: .acquiringAndReleasing).exchanged
  }

  /// Called by the compressing thread after it let go of the bytes and the pin.
  func finish() { phase.store(CompressionJob.finished, ordering: .releasing) }

  /// Cancels a job that has not started, under the contents lock: true when it will
  /// never touch the bytes (the caller then drops the pin itself).
  func withdraw() -> Bool {
    cancel()
    return phase.compareExchange(expected: CompressionJob.queued, desired: CompressionJob.finished,
                                 ordering: .acquiringAndReleasing).exchanged
  }

  /// Blocks until a started job has finished. Call with no lock held; the wait is short
  /// (the job checks for cancellation between chunks), so it yields, then naps.
  func waitUntilFinished() {
    var spins = 0
    while phase.load(ordering: .acquiring) != CompressionJob.finished {
      spins += 1
      if spins < 64 {
        sched_yield()
      } else {
        var nap = timespec(tv_sec: 0, tv_nsec: 20_000)
        nanosleep(&nap, nil)
      }
    }
  }
}

/// Memory arithmetic in pages (`PageAllocator.pageSize`, whatever the kernel uses).
enum Footprint {
  static func pages(_ count: Int) -> Int {
    let page = PageAllocator.pageSize
    return count <= 0 ? 0 : ((count - 1) / page + 1) * page
  }

  static func roundDown(_ count: Int) -> Int {
    let page = PageAllocator.pageSize
    return count / page * page
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
