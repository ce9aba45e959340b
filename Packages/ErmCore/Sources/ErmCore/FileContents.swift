import SystemPackage

/// A consistent, read-only snapshot of one file's contents, lent to the body of
/// `ErmFS.withContents`: an exporter copies (or decompresses) ranges straight into its own
/// destination, e.g. a memfd mapping.
///
/// It is non-copyable and only ever borrowed, so it cannot outlive the body. It holds its
/// own references to the bytes (compressed bytes are immutable; plain bytes are pinned,
/// and a writer copies them before changing them), so no lock is held while the body
/// runs: the body may call anything on the same `ErmFS`, the same file included, and
/// nothing it or anyone else does shows through the snapshot.
public struct FileContents: ~Copyable {
  /// The logical size in bytes at the moment of the snapshot.
  public let logicalSize: Int
  let data: FileData
  let storage: FileStorage

  init(data: FileData, storage: FileStorage) {
    self.data = data
    self.storage = storage
    switch data {
    case .empty: logicalSize = 0
    case .plain(let plain): logicalSize = plain.count
    case .compressed(_, let index): logicalSize = index.logicalSize
    }
  }

  /// Copies the logical bytes `range` into `destination`, decompressing only the chunks
  /// it covers, without an intermediate copy of the file.
  ///
  /// - Parameters:
  ///   - range: bytes to copy; must lie within `0..<logicalSize` (EINVAL otherwise).
  ///   - destination: where they go; must hold at least `range.count` bytes (EINVAL).
  /// - Throws: EINVAL for a bad range or short destination; EBADMSG when the stored
  ///   data are corrupt.
  public func copy(_ range: Range<Int>, into destination: UnsafeMutableRawBufferPointer) throws(Errno) {
    guard range.lowerBound >= 0, range.upperBound <= logicalSize,
          destination.count >= range.count else { throw .invalidArgument }
    guard !range.isEmpty else { return }
    try storage.copy(data, range,
                     into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<range.count]))
  }

  /// The logical bytes `range` as a new array (`copy` into fresh memory).
  ///
  /// - Parameter range: bytes to copy; must lie within `0..<logicalSize` (EINVAL).
  /// - Throws: EINVAL, EBADMSG.
  public func bytes(_ range: Range<Int>) throws(Errno) -> [UInt8] {
    guard range.lowerBound >= 0, range.upperBound <= logicalSize else { throw .invalidArgument }
    var out = [UInt8](repeating: 0, count: range.count)
    let result: Result<Void, Errno> = out.withUnsafeMutableBytes { buffer in
      do throws(Errno) { return .success(try copy(range, into: buffer)) } catch { return .failure(error) }
    }
    try result.get()
    return out
  }
}
