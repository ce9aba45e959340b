import SystemPackage

/// One inode's extended attributes, with tmpfs's rules (fs/xattr.c, mm/shmem.c): the
/// namespaces `user.`, `trusted.` and `security.`; names of 1-255 bytes (ERANGE), values
/// up to 64 KiB (E2BIG); `user.` only on regular files and directories (EPERM to set,
/// ENODATA to read elsewhere); `trusted.` only for a privileged caller (EPERM to set,
/// ENODATA to read, hidden from its listing). `system.` (POSIX ACLs) is not supported:
/// EOPNOTSUPP.
struct ExtendedAttributes {
  private var values: [[UInt8]: [UInt8]] = [:]

  static let maximumNameLength = 255
  static let maximumValueSize = 65536
  /// Largest listing `listxattr` returns (`XATTR_LIST_MAX`).
  static let maximumListSize = 65536

  enum Namespace { case user, trusted, security }

  /// Checks a name, in the kernel's order: the permission check (`xattr_permission`:
  /// `trusted.` needs privilege, `user.` a regular file or directory; EPERM to write,
  /// ENODATA to read), then the handler (`xattr_resolve_name`: a bare prefix is EINVAL,
  /// `system.` and unknown prefixes EOPNOTSUPP).
  static func namespace(of name: [UInt8], on type: FileType, privileged: Bool,
                        writing: Bool) throws(Errno) -> Namespace {
    guard !name.isEmpty, name.count <= maximumNameLength else { throw .outOfRange }
    guard !name.contains(0) else { throw .invalidArgument }
    let refused: Errno = writing ? .notPermitted : .noData
    if name.starts(with: Array("trusted.".utf8)) && !privileged { throw refused }
    if name.starts(with: Array("user.".utf8)) && type != .regular && type != .directory { throw refused }
    let handlers: [(String, Namespace)] = [("user.", .user), ("trusted.", .trusted), ("security.", .security)]
    for (prefix, space) in handlers where name.starts(with: Array(prefix.utf8)) {
      guard name.count > prefix.utf8.count else { throw .invalidArgument }
      return space
    }
    throw .notSupported
  }

  func value(_ name: [UInt8]) -> [UInt8]? { values[name] }

  /// `setxattr` with `XATTR_CREATE` (`create`: EEXIST if present) or `XATTR_REPLACE`
  /// (`replace`: ENODATA if absent).
  mutating func set(_ name: [UInt8], _ value: [UInt8], create: Bool, replace: Bool) throws(Errno) {
    let present = values[name] != nil
    if create && present { throw .fileExists }
    if replace && !present { throw .noData }
    values[name] = value
  }

  mutating func remove(_ name: [UInt8]) throws(Errno) {
    guard values.removeValue(forKey: name) != nil else { throw .noData }
  }

  /// Names each followed by a NUL, as `listxattr` returns them, in tmpfs's order
  /// (descending bytes: the traversal order of its tree on Linux 6.x); `trusted.` names
  /// only for a privileged caller.
  func list(privileged: Bool) -> [UInt8] {
    let trusted = Array("trusted.".utf8)
    var out: [UInt8] = []
    for name in values.keys.sorted(by: { $1.lexicographicallyPrecedes($0) })
    where privileged || !name.starts(with: trusted) {
      out += name
      out.append(0)
    }
    return out
  }

  var isEmpty: Bool { values.isEmpty }
}
