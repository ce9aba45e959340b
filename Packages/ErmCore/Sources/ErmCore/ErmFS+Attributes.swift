import SystemPackage

/// Extended attributes (rules in `ExtendedAttributes`).
extension ErmFS {
  /// `setxattr` flags.
  public struct AttributeFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// Fail with EEXIST if the attribute exists (`XATTR_CREATE`).
    public static let create = AttributeFlags(rawValue: 1)
    /// Fail with ENODATA if it does not (`XATTR_REPLACE`).
    public static let replace = AttributeFlags(rawValue: 2)
  }

  /// Sets an extended attribute of the inode at `path` (a final link is followed).
  ///
  /// The corresponding C function is `setxattr`.
  ///
  /// - Parameters:
  ///   - name: `user.`, `trusted.` or `security.` followed by at least one byte.
  ///   - value: up to 65536 bytes.
  ///   - path: absolute path.
  ///   - flags: `.create`, `.replace`, or both (then EEXIST when present, ENODATA when
  ///     absent, as Linux).
  ///   - privileged: the caller may use `trusted.` (the library's caller is; a FUSE
  ///     adapter passes whether its caller is root).
  /// - Throws: EINVAL (unknown flags, a bare prefix), ERANGE (empty or over 255-byte name),
  ///   E2BIG (value over 64 KiB), EOPNOTSUPP (other namespaces), EPERM (`user.` on a
  ///   link or special file; `trusted.` unprivileged), EEXIST, ENODATA, ENOENT, ENOTDIR,
  ///   ELOOP, ENAMETOOLONG.
  public func setExtendedAttribute(_ name: String, _ value: [UInt8], at path: String,
                                   flags: AttributeFlags = [], privileged: Bool = true) throws(Errno) {
    let (nameBytes, _) = try checkAttributeCall(name, flags: flags, valueSize: value.count)
    try setAttribute(nameBytes, value, on: try resolve(path), flags: flags, privileged: privileged)
  }

  /// An extended attribute's value.
  ///
  /// The corresponding C function is `getxattr` (the whole value; ERANGE handling for a
  /// caller's buffer size is `attributeValue(_:of:size:)` in the inode API).
  ///
  /// - Throws: ENODATA (absent), ERANGE, EOPNOTSUPP, EPERM, ENOENT, ENOTDIR, ELOOP.
  public func extendedAttribute(_ name: String, at path: String,
                                privileged: Bool = true) throws(Errno) -> [UInt8] {
    let bytes = try checkAttributeName(name)
    return try attribute(bytes, of: try resolve(path), privileged: privileged)
  }

  /// The names of the inode's extended attributes, in the order tmpfs lists them.
  ///
  /// The corresponding C function is `listxattr`.
  ///
  /// - Throws: ENOENT, ENOTDIR, ELOOP, E2BIG (a listing over 64 KiB).
  public func extendedAttributeNames(at path: String, privileged: Bool = true) throws(Errno) -> [String] {
    let list = try attributeList(of: try resolve(path), privileged: privileged)
    return list.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Removes an extended attribute.
  ///
  /// The corresponding C function is `removexattr`.
  ///
  /// - Throws: ENODATA (absent), ERANGE, EOPNOTSUPP, EPERM, ENOENT, ENOTDIR, ELOOP.
  public func removeExtendedAttribute(_ name: String, at path: String,
                                      privileged: Bool = true) throws(Errno) {
    let bytes = try checkAttributeName(name)
    try removeAttribute(bytes, from: try resolve(path), privileged: privileged)
  }

  // MARK: Shared by both front doors

  /// The name check the kernel makes before looking the path up (ERANGE).
  func checkAttributeName(_ name: String) throws(Errno) -> [UInt8] {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= ExtendedAttributes.maximumNameLength else { throw .outOfRange }
    return bytes
  }

  /// The syscall-level checks made before any lookup (`setxattr_copy`).
  func checkAttributeCall(_ name: String, flags: AttributeFlags,
                          valueSize: Int) throws(Errno) -> ([UInt8], AttributeFlags) {
    guard flags.isSubset(of: [.create, .replace]) else { throw .invalidArgument }
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= ExtendedAttributes.maximumNameLength else { throw .outOfRange }
    guard valueSize <= ExtendedAttributes.maximumValueSize else { throw .argListTooLong }
    return (bytes, flags)
  }

  func setAttribute(_ name: [UInt8], _ value: [UInt8], on inode: Inode, flags: AttributeFlags,
                    privileged: Bool) throws(Errno) {
    _ = try ExtendedAttributes.namespace(of: name, on: inode.type, privileged: privileged, writing: true)
    try inode.attributes.withLock { (attributes) throws(Errno) in
      try attributes.set(name, value, create: flags.contains(.create), replace: flags.contains(.replace))
    }
    inode.touchChanged()
  }

  func attribute(_ name: [UInt8], of inode: Inode, privileged: Bool) throws(Errno) -> [UInt8] {
    _ = try ExtendedAttributes.namespace(of: name, on: inode.type, privileged: privileged, writing: false)
    guard let value = inode.attributes.withLock({ $0.value(name) }) else { throw .noData }
    return value
  }

  func attributeList(of inode: Inode, privileged: Bool) throws(Errno) -> [UInt8] {
    let list = inode.attributes.withLock { $0.list(privileged: privileged) }
    guard list.count <= ExtendedAttributes.maximumListSize else { throw .argListTooLong }
    return list
  }

  func removeAttribute(_ name: [UInt8], from inode: Inode, privileged: Bool) throws(Errno) {
    guard !name.isEmpty, name.count <= ExtendedAttributes.maximumNameLength else { throw .outOfRange }
    _ = try ExtendedAttributes.namespace(of: name, on: inode.type, privileged: privileged, writing: true)
    try inode.attributes.withLock { (attributes) throws(Errno) in try attributes.remove(name) }
    inode.touchChanged()
  }
}
