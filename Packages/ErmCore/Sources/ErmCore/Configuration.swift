import ErmAlloc
import ErmCompress
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ErmFS {
  /// Limits and compression settings of one ErmFS instance.
  public struct Configuration: Sendable {
    /// Most descriptors open at once (`RLIMIT_NOFILE`); `open` beyond it throws EMFILE.
    public var maxDescriptors: Int
    /// Most bytes of memory the contents may hold (see `Statistics.storedBytes`); nil for
    /// no limit. A write that would exceed it writes what fits, or throws ENOSPC.
    public var byteQuota: Int?
    /// Largest logical file size; writing past it writes what fits, or throws EFBIG.
    public var maxFileSize: Int
    /// Logical bytes per independently compressed chunk (the unit a read decompresses).
    public var chunkSize: Int
    /// Which library compresses (ISA-L level 1 by default: measured fastest at a ratio
    /// within the product's goal, docs/bench/ermcompress.md).
    public var backend: GzipBackend
    /// The level (nil: the backend's default). Each backend has its own range: EINVAL
    /// outside it.
    public var compressionLevel: CompressionLevel?
    /// Which library decompresses (nil: libdeflate, the fastest decoder measured; every
    /// backend reads every backend's output).
    public var decoder: GzipBackend?
    /// A codec of the caller's own, used for both directions instead of `backend` and
    /// `decoder` (tests inject failing or counting codecs this way).
    public var codec: (any GzipCodec)?
    /// When a modified file is compressed after its last close.
    public var compression: CompressionTiming
    /// Threads that compress and decompress chunks in parallel (shared by default).
    public var pool: WorkerPool
    /// Where contents and compressed blobs are allocated.
    public var allocator: PageAllocator
    /// Owner and group of inodes created through the path API (the inode API takes the
    /// caller's with each call).
    public var owner: Ownership
    /// Locked or lock-free tree and descriptor table (`ErmFS.setLocklessMode` switches
    /// later). Default: `Locking.default` (lock-free when built with the trait `Lockless`).
    public var locking: Locking

    /// - Parameters:
    ///   - maxDescriptors: most descriptors open at once (default 1024).
    ///   - byteQuota: most bytes held, nil for unlimited (default).
    ///   - maxFileSize: largest file in bytes (default 1 TiB).
    ///   - chunkSize: bytes per compressed chunk (default 128 KiB).
    ///   - backend: compressing library (default ISA-L).
    ///   - compressionLevel: level, nil for the backend's default.
    ///   - decoder: decompressing library, nil for libdeflate.
    ///   - codec: a custom codec for both directions (overrides backend and decoder).
    ///   - compression: `.onClose` (default) or `.background(...)`.
    ///   - pool: worker pool (default `WorkerPool.shared`).
    ///   - allocator: allocator for contents (default the shared one).
    ///   - owner: owner of new inodes on the path API (default this process's uid/gid).
    ///   - locking: `.locked` or `.lockless` (default `Locking.default`).
    public init(maxDescriptors: Int = 1024, byteQuota: Int? = nil,
                maxFileSize: Int = 1 << 40, chunkSize: Int = 128 * 1024,
                backend: GzipBackend = .isal, compressionLevel: CompressionLevel? = nil,
                decoder: GzipBackend? = nil, codec: (any GzipCodec)? = nil,
                compression: CompressionTiming = .onClose, pool: WorkerPool = .shared,
                allocator: PageAllocator = .shared,
                owner: Ownership = Ownership(userID: getuid(), groupID: getgid()),
                locking: Locking = .default) {
      self.maxDescriptors = maxDescriptors
      self.byteQuota = byteQuota
      self.maxFileSize = maxFileSize
      self.chunkSize = chunkSize
      self.backend = backend
      self.compressionLevel = compressionLevel
      self.decoder = decoder
      self.codec = codec
      self.compression = compression
      self.pool = pool
      self.allocator = allocator
      self.owner = owner
      self.locking = locking
    }

    /// The chunked format these settings describe.
    ///
    /// - Throws: EINVAL for a level outside the backend's (or codec's) range or a chunk
    ///   size outside `ChunkedGzip.supportedChunkSizes`.
    func makeChunkedGzip() throws(Errno) -> ChunkedGzip {
      guard ChunkedGzip.supportedChunkSizes.contains(chunkSize) else { throw .invalidArgument }
      if let codec {
        let level = compressionLevel ?? .default
        guard codec.supportedLevels.contains(level.rawValue) else { throw .invalidArgument }
        return ChunkedGzip(codec: codec, chunkSize: chunkSize, level: level)
      }
      do throws(GzipError) {
        return try ChunkedGzip(backend: backend, level: compressionLevel, chunkSize: chunkSize,
                               decoder: decoder)
      } catch {
        throw .invalidArgument
      }
    }
  }

  /// When compression of a modified file happens.
  public enum CompressionTiming: Sendable, Hashable {
    /// In the last `close`, on the worker pool; `close` returns with the file compressed.
    case onClose
    /// Shortly after the last `close`, on a background thread (and the pool): `close`
    /// returns at once and the file keeps its plain bytes meanwhile (readers and writers
    /// see them; a writer simply takes the job back). At most `maxPendingBytes` of plain
    /// bytes wait: beyond it, `close` compresses itself (backpressure).
    case background(maxPendingBytes: Int)
  }
}
