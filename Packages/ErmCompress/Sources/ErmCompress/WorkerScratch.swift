import Glibc

/// Scratch memory for the jobs one thread runs on a `WorkerPool`: it grows to the largest
/// size asked for (at most one chunk, 4 MiB) and is reused by every later job on that
/// thread, so a worker allocates once. Not thread-safe: each thread gets its own.
public final class WorkerScratch {
  private var memory: UnsafeMutableRawPointer? = nil
  /// Bytes currently allocated.
  public private(set) var capacity = 0

  init() {}

  /// At least `count` bytes (their contents unspecified), valid until the next call.
  ///
  /// - Throws: `.noMemory` (ENOMEM) when malloc fails; the old memory is kept.
  public func bytes(count: Int) throws(GzipError) -> UnsafeMutableRawBufferPointer {
    if count > capacity {
      // realloc would copy contents nobody needs.
      guard let grown = malloc(Swift.max(count, 1)) else {
        throw .noMemory("cannot allocate \(count) bytes of worker scratch")
      }
      free(memory)
      memory = grown
      capacity = count
    }
    return UnsafeMutableRawBufferPointer(start: memory, count: count)
  }

  deinit { free(memory) }
}
