import SystemPackage

/// Array-based forms of the buffer calls, for callers that do not manage memory.
extension ErmFS {
  /// `write(_:_:)` for an array of bytes.
  ///
  /// The corresponding C function is `write`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - bytes: the bytes to write.
  /// - Returns: bytes written.
  @discardableResult
  public func write(_ descriptor: Descriptor, bytes: [UInt8]) throws(Errno) -> Int {
    try withBytes(bytes) { (buffer) throws(Errno) -> Int in try write(descriptor, buffer) }
  }

  /// `pwrite(_:_:at:)` for an array of bytes.
  ///
  /// The corresponding C function is `pwrite`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for writing.
  ///   - bytes: the bytes to write.
  ///   - offset: file offset to write at (>= 0).
  /// - Returns: bytes written.
  @discardableResult
  public func pwrite(_ descriptor: Descriptor, bytes: [UInt8], at offset: Int64) throws(Errno) -> Int {
    try withBytes(bytes) { (buffer) throws(Errno) -> Int in try pwrite(descriptor, buffer, at: offset) }
  }

  /// `read(_:into:)` returning a new array of at most `count` bytes.
  ///
  /// The corresponding C function is `read`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for reading.
  ///   - count: the most bytes to read (>= 0, EINVAL otherwise).
  public func read(_ descriptor: Descriptor, upToCount count: Int) throws(Errno) -> [UInt8] {
    guard count >= 0 else { throw .invalidArgument }
    let offset = try lseek(descriptor, offset: 0, from: .current)
    return try filling(try clamped(count, for: descriptor, at: offset)) { (buffer) throws(Errno) -> Int in
      try read(descriptor, into: buffer)
    }
  }

  /// `pread(_:into:at:)` returning a new array of at most `count` bytes.
  ///
  /// The corresponding C function is `pread`.
  ///
  /// - Parameters:
  ///   - descriptor: a descriptor open for reading.
  ///   - count: the most bytes to read (>= 0, EINVAL otherwise).
  ///   - offset: file offset to read from (>= 0).
  public func pread(_ descriptor: Descriptor, upToCount count: Int, at offset: Int64) throws(Errno) -> [UInt8] {
    guard count >= 0 else { throw .invalidArgument }
    guard offset >= 0 else { throw .invalidArgument }
    return try filling(try clamped(count, for: descriptor, at: offset)) { (buffer) throws(Errno) -> Int in
      try pread(descriptor, into: buffer, at: offset)
    }
  }

  /// `count` limited to the bytes the file holds past `offset` now, so a huge count
  /// (`Int.max`) does not allocate its size up front. A file growing meanwhile only makes
  /// the read short, which `read` allows.
  private func clamped(_ count: Int, for descriptor: Descriptor, at offset: Int64) throws(Errno) -> Int {
    let available = max(0, try fstat(descriptor).size - offset)
    return Int(min(Int64(count), available))
  }

  private func withBytes<R>(_ bytes: [UInt8],
                            _ body: (UnsafeRawBufferPointer) throws(Errno) -> R) throws(Errno) -> R {
    let result: Result<R, Errno> = bytes.withUnsafeBytes { buffer in
      do throws(Errno) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
  }

  private func filling(_ count: Int,
                       _ body: (UnsafeMutableRawBufferPointer) throws(Errno) -> Int) throws(Errno) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let result: Result<Int, Errno> = bytes.withUnsafeMutableBytes { buffer in
      do throws(Errno) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    bytes.removeSubrange(try result.get()...)
    return bytes
  }
}
