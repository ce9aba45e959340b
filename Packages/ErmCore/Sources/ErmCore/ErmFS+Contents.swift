import SystemPackage

/// The export seam: a consistent snapshot of one file's bytes.
extension ErmFS {
  /// Lends `body` a snapshot of the file at `path` (a final link is followed), taken when
  /// the call starts: later writes never show through it.
  ///
  /// No lock is held while `body` runs, so it may call anything on this ErmFS, on the
  /// same file too (read, write, truncate, close, unlink): compressed bytes are immutable,
  /// and plain bytes a snapshot reads are copied by the next writer before it changes
  /// them (the copy counts against the quota while the snapshot lasts).
  ///
  /// - Parameters:
  ///   - path: absolute path of a regular file.
  ///   - body: reads the contents through `FileContents.copy` or `FileContents.bytes`.
  /// - Throws: ENOENT, ENOTDIR, EISDIR (a directory), EINVAL (not a regular file, or a
  ///   bad path), ELOOP, ENAMETOOLONG, or what `body` throws.
  public func withContents<R>(ofPath path: String,
                              _ body: (borrowing FileContents) throws(Errno) -> R) throws(Errno) -> R {
    try withReferencedInode(path) { (inode) throws(Errno) -> R in try withContents(of: inode, body) }
  }

  /// `withContents(ofPath:_:)` for an open descriptor (any access mode).
  ///
  /// - Parameters:
  ///   - descriptor: an open descriptor.
  ///   - body: reads the contents through `FileContents.copy`.
  /// - Throws: EBADF, EISDIR, or what `body` throws.
  public func withContents<R>(of descriptor: Descriptor,
                              _ body: (borrowing FileContents) throws(Errno) -> R) throws(Errno) -> R {
    try withOpenFile(descriptor) { (file) throws(Errno) -> R in try withContents(of: file.inode, body) }
  }

  func withContents<R>(of inode: Inode,
                       _ body: (borrowing FileContents) throws(Errno) -> R) throws(Errno) -> R {
    guard !inode.isDirectory else { throw .isDirectory }
    guard inode.isRegular else { throw .invalidArgument }
    let data = storage.pin(inode)
    defer { storage.unpin(data, of: inode) }
    let contents = FileContents(data: data, storage: storage)
    return try body(contents)
  }
}
