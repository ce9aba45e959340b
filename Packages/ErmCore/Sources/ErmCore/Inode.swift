import ErmAlloc
import ErmCompress
import Synchronization
import SystemPackage

/// A file or directory.
///
/// Metadata are atomics so that `stat`, `chmod` and the tree operations (which run under
/// the tree lock) never wait for a file's contents lock, which a close may hold while it
/// compresses. The contents of a regular file sit behind `contents`, one lock per inode.
final class Inode: Sendable {
  let number: UInt64
  let isDirectory: Bool
  let permissions: Atomic<UInt32>
  /// Directory entries naming this inode; 0 once unlinked. Changed under the tree lock.
  let linkCount: Atomic<Int>
  /// Open file descriptions referring to this inode. Incremented under the tree lock (so
  /// an unlink cannot slip between lookup and open), decremented under `contents`.
  let openCount = Atomic<Int>(0)
  /// Mirrors of the contents' sizes for `stat`, updated under `contents`.
  let size = Atomic<Int>(0)
  let storedSize = Atomic<Int>(0)
  let accessTime: Atomic<Int64>
  let modificationTime: Atomic<Int64>
  let changeTime: Atomic<Int64>
  /// A regular file's bytes (unused for directories).
  let contents = Mutex(FileContentsState())

  init(number: UInt64, isDirectory: Bool, permissions: FilePermissions, now: Int64) {
    self.number = number
    self.isDirectory = isDirectory
    self.permissions = Atomic(permissions.rawValue & 0o7777)
    self.linkCount = Atomic(isDirectory ? 2 : 1)
    self.accessTime = Atomic(now)
    self.modificationTime = Atomic(now)
    self.changeTime = Atomic(now)
  }

  var fileType: FileType { isDirectory ? .directory : .regular }

  func status() -> ErmFS.FileStatus {
    ErmFS.FileStatus(
      inode: number,
      mode: FileMode(type: fileType,
                     permissions: FilePermissions(rawValue: permissions.load(ordering: .relaxed))),
      linkCount: linkCount.load(ordering: .sequentiallyConsistent),
      size: Int64(size.load(ordering: .relaxed)),
      storedSize: Int64(storedSize.load(ordering: .relaxed)),
      accessTime: .init(totalNanoseconds: accessTime.load(ordering: .relaxed)),
      modificationTime: .init(totalNanoseconds: modificationTime.load(ordering: .relaxed)),
      changeTime: .init(totalNanoseconds: changeTime.load(ordering: .relaxed)))
  }

  /// Marks data modification (`mtime` and `ctime`).
  func touchModified(_ now: Int64 = WallClock.now()) {
    modificationTime.store(now, ordering: .relaxed)
    changeTime.store(now, ordering: .relaxed)
  }

  func touchChanged(_ now: Int64 = WallClock.now()) {
    changeTime.store(now, ordering: .relaxed)
  }
}

/// Where a regular file's bytes are.
enum FileData {
  /// No bytes at all (a new or truncated-to-zero file holds no memory).
  case empty
  /// Plain bytes; `buffer.count` is the logical size.
  case materialised(ExtentBuffer)
  /// Chunked gzip (`ChunkedGzip`), the index beside it.
  case compressed(StoredBytes, ChunkIndex)
}

/// The compressed bytes: normally a `Blob`; an `ExtentBuffer` trimmed to the stored size
/// when handing the buffer to the allocator failed (nothing is lost, only not slab-packed).
enum StoredBytes {
  case blob(Blob)
  case buffer(ExtentBuffer)

  func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    switch self {
    case .blob(let blob): return try blob.withUnsafeBytes(body)
    case .buffer(let buffer): return try buffer.withUnsafeBytes(body)
    }
  }
}

/// The state behind an inode's contents lock.
struct FileContentsState {
  var data: FileData = .empty
  /// Changed since it was last compressed: the last close compresses only then.
  var modified = false
  /// Bumped each time new compressed bytes are installed; chunk caches compare it.
  var generation: UInt64 = 0
  /// Set once an unlinked, closed file gave its memory back.
  var released = false

  var logicalCount: Int {
    switch data {
    case .empty: return 0
    case .materialised(let buffer): return buffer.count
    case .compressed(_, let index): return index.logicalSize
    }
  }

  var storedCount: Int {
    switch data {
    case .empty: return 0
    case .materialised(let buffer): return buffer.count
    case .compressed(_, let index): return index.storedSize
    }
  }

  var isCompressed: Bool {
    if case .compressed = data { return true }
    return false
  }
}
