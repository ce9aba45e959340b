import CErmZlib
import Synchronization

/// An opaque zlib stream handle; only one thread uses it at a time (the pool hands it out).
struct ZlibStream: @unchecked Sendable {
  let handle: OpaquePointer
}

/// Idle zlib streams kept for reuse: creating one allocates about 260 KiB (deflate) or
/// 7 KiB + window (inflate), which would dominate the cost of a 128 KiB chunk.
final class ZlibStreamPool: Sendable {
  enum Direction: Sendable { case deflate, inflate }

  static let deflaters = ZlibStreamPool(.deflate)
  static let inflaters = ZlibStreamPool(.inflate)

  private let direction: Direction
  private let idle = Mutex<[ZlibStream]>([])
  /// More idle streams than this are freed: enough for every core to keep one.
  private let idleLimit = 16

  private init(_ direction: Direction) { self.direction = direction }

  /// Runs `body` with a stream of this pool's direction, returning it afterwards.
  func withStream<R>(_ body: (OpaquePointer) throws(GzipError) -> R) throws(GzipError) -> R {
    let stream = try take()
    defer { give(stream) }
    return try body(stream.handle)
  }

  private func take() throws(GzipError) -> ZlibStream {
    if let stream = idle.withLock({ $0.popLast() }) { return stream }
    let made = direction == .deflate ? erm_deflater_create() : erm_inflater_create()
    guard let made else { throw .noMemory("zlib could not allocate a \(direction) stream") }
    return ZlibStream(handle: made)
  }

  private func give(_ stream: ZlibStream) {
    let kept = idle.withLock { streams in
      guard streams.count < idleLimit else { return false }
      streams.append(stream)
      return true
    }
    if !kept { erm_zstream_destroy(stream.handle) }
  }
}
