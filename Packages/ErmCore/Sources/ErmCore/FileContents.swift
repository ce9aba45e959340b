import ErmCompress
import SystemPackage

/// A consistent read-only view of one file's contents, handed to the body of
/// `ErmFS.withContents`: an exporter copies (or decompresses) ranges straight into its
/// own destination, e.g. a memfd mapping. Use it only inside that body: outside it the
/// snapshot is no longer protected from writers.
public struct FileContents {
  /// The logical size in bytes at the moment of the snapshot.
  public let logicalSize: Int
  private let state: FileContentsState
  private let storage: FileStorage

  init(state: FileContentsState, storage: FileStorage) {
    self.state = state
    self.storage = storage
    self.logicalSize = state.logicalCount
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
    try storage.copy(state, range,
                     into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<range.count]),
                     cache: nil)
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
