import Glibc

/// A malloc'd buffer, allocated on first use and freed when it goes out of scope.
/// ErmCompress never needs more than a chunk or two of these at a time; allocation
/// failure is reported as `.noMemory`, not trapped.
struct ScratchBuffer: ~Copyable {
  let count: Int
  private var memory: UnsafeMutableRawPointer? = nil

  init(count: Int) { self.count = count }

  /// The buffer, allocating it on the first call.
  mutating func bytes() throws(GzipError) -> UnsafeMutableRawBufferPointer {
    if memory == nil {
      guard let allocated = malloc(Swift.max(count, 1)) else {
        throw .noMemory("cannot allocate \(count) bytes of scratch")
      }
      memory = allocated
    }
    return UnsafeMutableRawBufferPointer(start: memory, count: count)
  }

  deinit { free(memory) }
}
