import SystemPackage

/// What `open` asks of the tree.
struct OpenRequest {
  /// `O_CREAT`, with the inode to make.
  var create: NodeSpec?
  /// `O_EXCL`.
  var exclusive = false
  /// `O_NOFOLLOW`.
  var noFollow = false
  /// `O_DIRECTORY`.
  var directory = false
  /// Write access or `O_TRUNC` (a directory refuses both: EISDIR).
  var writes = false
}

/// The path forms of the namespace calls: a walk to the last component, Linux's rules
/// for `.`, `..`, `/` and trailing slashes at that component, then the same
/// inode-addressed rule the FUSE side calls.
extension DirectoryTree {
  /// The inode `path` names (`stat` follows a final symbolic link, `lstat` does not).
  func resolve(_ path: ParsedPath, followLast: Bool) throws(Errno) -> Inode {
    var walk = PathWalk()
    return try walk.resolve(path, from: root, followLast: followLast, in: self)
  }

  /// `mkdir`, `mknod`, `symlink` (Linux `filename_create`): a last component `.`, `..`
  /// or `/` is EEXIST; a trailing slash is allowed only for a directory (ENOENT).
  mutating func makeNode(_ spec: NodeSpec, at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) -> Inode {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: path, from: root, in: self)
    guard case .name(let name) = last else { throw .fileExists }
    if path.trailingSlash && spec.type != .directory {
      try checkCreatable(name, in: directory)
      throw .noSuchFileOrDirectory
    }
    return try makeNode(spec, named: name, in: directory, now: now)
  }

  /// `unlink`: a last component `.`, `..` or `/` is EISDIR.
  mutating func removeFile(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: path, from: root, in: self)
    guard case .name(let name) = last else { throw .isDirectory }
    try removeFile(named: name, in: directory, trailingSlash: path.trailingSlash, now: now)
  }

  /// `rmdir`: `..` is ENOTEMPTY, `.` EINVAL, `/` EBUSY.
  mutating func removeDirectory(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: path, from: root, in: self)
    switch last {
    case .dotDot: throw .directoryNotEmpty
    case .dot: throw .invalidArgument
    case .root: throw .resourceBusy
    case .name(let name): try removeDirectory(named: name, in: directory, now: now)
    }
  }

  /// `renameat2`: both parents are walked first; a last component that is not a name is
  /// EBUSY (EEXIST for the destination with `.noReplace`).
  mutating func rename(_ source: ParsedPath, to destination: ParsedPath, flags: ErmFS.RenameFlags,
                       now: ErmFS.Timestamp) throws(Errno) {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: source, from: root, in: self)
    let (newDirectory, newLast) = try walk.parent(of: destination, from: root, in: self)
    guard case .name(let name) = last else { throw .resourceBusy }
    guard case .name(let newName) = newLast else {
      throw flags.contains(.noReplace) ? .fileExists : .resourceBusy
    }
    try rename(name, in: directory, to: newName, in: newDirectory, flags: flags,
               sourceSlash: source.trailingSlash, destinationSlash: destination.trailingSlash,
               now: now)
  }

  /// `link`: the existing path is not followed at its end (as `link(2)`), the new one is
  /// created like `mknod`'s.
  mutating func link(_ existing: ParsedPath, to newPath: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    var walk = PathWalk()
    let inode = try walk.resolve(existing, from: root, followLast: false, in: self)
    let (directory, last) = try walk.parent(of: newPath, from: root, in: self)
    guard case .name(let name) = last else { throw .fileExists }
    if newPath.trailingSlash {
      try checkCreatable(name, in: directory)
      throw .noSuchFileOrDirectory
    }
    try link(inode, named: name, in: directory, now: now)
  }

  /// `open` (Linux `path_openat`: `open_last_lookups` + `do_open`): resolves, follows a
  /// final symbolic link unless `O_NOFOLLOW` (creating a missing target with `O_CREAT`),
  /// creates, and takes the open reference. A lookup racing the last unlink of what it
  /// found (lock-free backend) fails to take the reference and walks again.
  mutating func open(_ path: ParsedPath, _ request: OpenRequest,
                     now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool) {
    guard let spec = request.create else { return (try openExisting(path, request), false) }
    while true {
      let walked = try walkForOpen(path, request)
      switch walked.target {
      case .existing(let inode):
        try checkOpenable(inode, created: false, request, requiresDirectory: walked.requiresDirectory)
        if inode.retainOpen() { return (inode, false) }
      case .absent(let name, let directory):
        do throws(Errno) {
          // A new regular file passes every check below (O_CREAT with O_DIRECTORY or a
          // trailing slash was refused before), and is made holding its open reference.
          return (try makeNode(spec, named: name, in: directory, now: now, hold: .open), true)
        } catch {
          // The name appeared since the walk (lock-free backend): open it instead.
          if error != .fileExists || request.exclusive { throw error }
        }
      }
    }
  }

  /// `open` without `O_CREAT`: changes nothing in the tree (the locked backend runs it
  /// with its lock shared).
  func openExisting(_ path: ParsedPath, _ request: OpenRequest) throws(Errno) -> Inode {
    while true {
      let walked = try walkForOpen(path, request)
      guard case .existing(let inode) = walked.target else { throw .noSuchFileOrDirectory }
      try checkOpenable(inode, created: false, request, requiresDirectory: walked.requiresDirectory)
      if inode.retainOpen() { return inode }
    }
  }

  /// `open`'s walk (`open_last_lookups`): the last component's inode, following a final
  /// symbolic link unless `O_NOFOLLOW` (a link's target may be created), or the absent
  /// name `O_CREAT` is to create.
  private func walkForOpen(_ path: ParsedPath, _ request: OpenRequest) throws(Errno) -> OpenWalk {
    var walk = PathWalk()
    var path = path
    var start = rootHandle
    var requiresDirectory = request.directory
    while true {
      let (directory, last) = try walk.parentHandle(of: path, from: start, in: self)
      let name: FileName
      switch last {
      case .root: return OpenWalk(target: .existing(root), requiresDirectory: requiresDirectory)
      case .dot: return OpenWalk(target: .existing(directory.inode), requiresDirectory: requiresDirectory)
      case .dotDot:
        return OpenWalk(target: .existing(parentHandle(of: directory).inode), requiresDirectory: requiresDirectory)
      case .name(let named): name = named
      }
      if request.create != nil {
        // O_CREAT with a trailing slash is EISDIR whether or not the name exists.
        if path.trailingSlash { throw .isDirectory }
      } else if path.trailingSlash {
        requiresDirectory = true
      }
      guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
      if let existing = childHandle(of: directory, named: name) {
        if existing.isSymbolicLink {
          // O_CREAT|O_EXCL never follows: the link itself exists.
          if request.create != nil && request.exclusive { throw .fileExists }
          if !request.noFollow || path.trailingSlash {
            try walk.countLink()
            let target = existing.with { link -> [UInt8] in
              link.touchAccessed()
              return link.symbolicLinkTarget
            }
            path = try ParsedPath(bytes: target)
            start = directory
            continue
          }
        }
        return OpenWalk(target: .existing(existing.inode), requiresDirectory: requiresDirectory)
      }
      guard request.create != nil else { throw .noSuchFileOrDirectory }
      return OpenWalk(target: .absent(name, in: directory.inode), requiresDirectory: requiresDirectory)
    }
  }

  /// `do_open`'s checks on an existing inode.
  private func checkOpenable(_ inode: Inode, created: Bool, _ request: OpenRequest,
                             requiresDirectory: Bool) throws(Errno) {
    if request.create != nil && !created {
      if request.exclusive { throw .fileExists }
      if inode.isDirectory { throw .isDirectory }
    }
    if requiresDirectory && !inode.isDirectory { throw .notDirectory }
    if inode.isSymbolicLink { throw .tooManySymbolicLinkLevels }  // O_NOFOLLOW on a link
    if inode.isDirectory && request.writes { throw .isDirectory }
  }
}

/// Where `open`'s walk ended.
private struct OpenWalk {
  enum Target {
    case existing(Inode)
    /// The last component is absent (only with `O_CREAT`): `name` in `directory`.
    case absent(FileName, in: Inode)
  }

  var target: Target
  /// `O_DIRECTORY`, or a trailing `/` on the path that named it.
  var requiresDirectory: Bool
}
