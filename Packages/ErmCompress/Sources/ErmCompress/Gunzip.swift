import CErmZlib

/// Output piece size for `gunzip`: large enough that zlib's per-call overhead vanishes,
/// small enough to stay in L2 while its CRC is computed.
let gunzipPieceSize = 128 * 1024

/// Decompresses any RFC 1952 stream (one member or many, e.g. `cat a.gz b.gz`, or the
/// output of the `gzip` tool with a file name in its header), handing the decompressed
/// bytes to `sink` piece by piece, in order.
///
/// Every member's CRC-32 and ISIZE are checked. Zero bytes after the last member are
/// ignored, as `gzip -d` ignores tape padding; any other trailing bytes throw `.corrupt`.
/// Pieces reach `sink` before their member's trailer is checked, so a caller must discard
/// what it received when this throws. Empty input throws `.truncated`.
/// The zlib function underneath is `inflate` (raw deflate, framing parsed here).
public func gunzip(
  _ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws(GzipError) -> Void
) throws(GzipError) {
  guard input.count > 0 else { throw .truncated("empty input: a gzip stream has at least one member") }
  var pieceBuffer = ScratchBuffer(count: gunzipPieceSize)
  let piece = try pieceBuffer.bytes()
  // Its own stream, not the thread's: `sink` may call back into ErmCompress on this
  // thread (decompressMember uses the thread's inflater) between inflate steps.
  guard let stream = erm_inflater_create() else { throw .noMemory("zlib could not allocate an inflate stream") }
  defer { erm_zstream_destroy(stream) }
  do {
    var position = 0
    while true {
      let memberStart = position
      position = try GzipMember.parseHeader(input, at: position)
      guard erm_inflate_reset(stream) == ERM_Z_OK else { throw .invalidArgument("zlib inflateReset failed") }
      var crc: UInt32 = 0
      var size = 0
      inflating: while true {
        var used = 0
        var written = 0
        let status = erm_inflate_step(
          stream, input.baseAddress! + position, input.count - position, &used,
          piece.baseAddress, piece.count, &written, 0)
        position += used
        if written > 0 {
          let out = UnsafeRawBufferPointer(start: piece.baseAddress, count: written)
          crc = CRC32.update(crc, out)
          size += written
          try sink(out)
        }
        switch status {
        case ERM_Z_STREAM_END: break inflating
        case ERM_Z_OK: continue
        case ERM_Z_NEED_MORE:
          throw .truncated("gzip member at offset \(memberStart): deflate data ends after \(size) bytes of output, before its end")
        default:
          throw Inflation.error(for: status, stream: stream, at: position, memberStart: memberStart)
        }
      }
      try GzipMember.checkTrailer(input, at: position, memberStart: memberStart, crc: crc, size: size)
      position += GzipMember.trailerSize
      if position == input.count { return }
      if input[position...].allSatisfy({ $0 == 0 }) { return }
      guard input[position] == GzipMember.magic0 else {
        throw .corrupt("\(input.count - position) bytes of trailing garbage after the gzip member ending at offset \(position)")
      }
    }
  }
}
