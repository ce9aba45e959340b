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
    /// Level used when a file is compressed on its last close.
    public var compressionLevel: CompressionLevel
    /// The gzip backend.
    public var codec: any GzipCodec
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
    ///   - compressionLevel: compression level (default 6).
    ///   - codec: gzip backend (default zlib).
    ///   - allocator: allocator for contents (default the shared one).
    ///   - owner: owner of new inodes on the path API (default this process's uid/gid).
    ///   - locking: `.locked` or `.lockless` (default `Locking.default`).
    public init(maxDescriptors: Int = 1024, byteQuota: Int? = nil,
                maxFileSize: Int = 1 << 40, chunkSize: Int = 128 * 1024,
                compressionLevel: CompressionLevel = .default,
                codec: any GzipCodec = ZlibCodec(), allocator: PageAllocator = .shared,
                owner: Ownership = Ownership(userID: getuid(), groupID: getgid()),
                locking: Locking = .default) {
      self.maxDescriptors = maxDescriptors
      self.byteQuota = byteQuota
      self.maxFileSize = maxFileSize
      self.chunkSize = chunkSize
      self.compressionLevel = compressionLevel
      self.codec = codec
      self.allocator = allocator
      self.owner = owner
      self.locking = locking
    }
  }
}
