import ErmAlloc
import ErmCompress
import SystemPackage

extension ErmFS {
  /// Limits and compression settings of one ErmFS instance.
  public struct Configuration: Sendable {
    /// Most descriptors open at once (`RLIMIT_NOFILE`); `open` beyond it throws EMFILE.
    public var maxDescriptors: Int
    /// Most bytes the contents may hold, counted as stored (a materialised file its
    /// logical size, a compressed one its compressed size); nil for no limit. A write
    /// or truncate that would exceed it throws ENOSPC.
    public var byteQuota: Int?
    /// Largest logical file size (`RLIMIT_FSIZE`); writing or truncating past it
    /// throws EFBIG.
    public var maxFileSize: Int
    /// Logical bytes per independently compressed chunk (the unit a read decompresses).
    public var chunkSize: Int
    /// zlib level used when a file is compressed on its last close.
    public var compressionLevel: CompressionLevel
    /// The gzip backend.
    public var codec: any GzipCodec
    /// Where contents and compressed blobs are allocated.
    public var allocator: PageAllocator

    /// - Parameters:
    ///   - maxDescriptors: most descriptors open at once (default 1024).
    ///   - byteQuota: most stored bytes, nil for unlimited (default).
    ///   - maxFileSize: largest file in bytes (default 1 TiB).
    ///   - chunkSize: bytes per compressed chunk (default 128 KiB).
    ///   - compressionLevel: zlib level (default 6).
    ///   - codec: gzip backend (default zlib).
    ///   - allocator: allocator for contents (default the shared one).
    public init(maxDescriptors: Int = 1024, byteQuota: Int? = nil,
                maxFileSize: Int = 1 << 40, chunkSize: Int = 128 * 1024,
                compressionLevel: CompressionLevel = .default,
                codec: any GzipCodec = ZlibCodec(), allocator: PageAllocator = .shared) {
      self.maxDescriptors = maxDescriptors
      self.byteQuota = byteQuota
      self.maxFileSize = maxFileSize
      self.chunkSize = chunkSize
      self.compressionLevel = compressionLevel
      self.codec = codec
      self.allocator = allocator
    }
  }

  /// What the file system holds (`statfs` in spirit), plus the allocator's own figures.
  public struct Statistics: Sendable, Equatable {
    /// Regular files reachable from the root.
    public var files: Int
    /// Directories, the root not counted.
    public var directories: Int
    /// Sum of the logical sizes of all contents still held (unlinked files that are
    /// still open included).
    public var logicalBytes: Int
    /// Sum of the bytes those contents hold (materialised: logical size; compressed:
    /// compressed size). This is what `byteQuota` limits.
    public var storedBytes: Int
    /// Descriptors open now.
    public var openDescriptors: Int
    /// The allocator's statistics (shared by everything that uses that allocator).
    public var allocator: AllocatorStatistics

    /// Stored bytes ÷ logical bytes (1 when there is nothing); below 1 means compression
    /// saves memory.
    public var ratio: Double {
      logicalBytes == 0 ? 1 : Double(storedBytes) / Double(logicalBytes)
    }
  }

  /// A descriptor number of one ErmFS (not a kernel file descriptor).
  public struct Descriptor: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The descriptor number; the lowest free one is handed out first.
    public let rawValue: Int32
    /// Wraps a number (an unknown one makes calls throw EBADF).
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "\(rawValue)" }
  }
}
