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
  mutating func removeFile(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) -> Inode {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: path, from: root, in: self)
    guard case .name(let name) = last else { throw .isDirectory }
    return try removeFile(named: name, in: directory, trailingSlash: path.trailingSlash, now: now)
  }

  /// `rmdir`: `..` is ENOTEMPTY, `.` EINVAL, `/` EBUSY.
  mutating func removeDirectory(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) -> Inode {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: path, from: root, in: self)
    switch last {
    case .dotDot: throw .directoryNotEmpty
    case .dot: throw .invalidArgument
    case .root: throw .resourceBusy
    case .name(let name): return try removeDirectory(named: name, in: directory, now: now)
    }
  }

  /// `renameat2`: both parents are walked first; a last component that is not a name is
  /// EBUSY (EEXIST for the destination with `.noReplace`).
  mutating func rename(_ source: ParsedPath, to destination: ParsedPath, flags: ErmFS.RenameFlags,
                       now: ErmFS.Timestamp) throws(Errno) -> Inode? {
    var walk = PathWalk()
    let (directory, last) = try walk.parent(of: source, from: root, in: self)
    let (newDirectory, newLast) = try walk.parent(of: destination, from: root, in: self)
    guard case .name(let name) = last else { throw .resourceBusy }
    guard case .name(let newName) = newLast else {
      throw flags.contains(.noReplace) ? .fileExists : .resourceBusy
    }
    return try rename(name, in: directory, to: newName, in: newDirectory, flags: flags,
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
  /// creates, and counts the open before the tree is let go, so no unlink can free the
  /// inode in between.
  mutating func open(_ path: ParsedPath, _ request: OpenRequest,
                     now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool) {
    var walk = PathWalk()
    var path = path
    var start = root
    var requiresDirectory = request.directory
    var result: (inode: Inode, created: Bool)
    resolving: while true {
      let (directory, last) = try walk.parent(of: path, from: start, in: self)
      let name: FileName
      switch last {
      case .root: result = (root, false); break resolving
      case .dot: result = (directory, false); break resolving
      case .dotDot: result = (parent(of: directory), false); break resolving
      case .name(let named): name = named
      }
      if request.create != nil {
        // O_CREAT with a trailing slash is EISDIR whether or not the name exists.
        if path.trailingSlash { throw .isDirectory }
      } else if path.trailingSlash {
        requiresDirectory = true
      }
      guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
      if let existing = child(of: directory, named: name) {
        if existing.isSymbolicLink {
          // O_CREAT|O_EXCL never follows: the link itself exists.
          if request.create != nil && request.exclusive { throw .fileExists }
          if !request.noFollow || path.trailingSlash {
            try walk.countLink()
            existing.touchAccessed()
            path = try ParsedPath(bytes: existing.symbolicLinkTarget)
            start = directory
            continue resolving
          }
        }
        result = (existing, false)
        break resolving
      }
      guard let spec = request.create else { throw .noSuchFileOrDirectory }
      result = (try makeNode(spec, named: name, in: directory, now: now), true)
      break resolving
    }
    let inode = result.inode
    if request.create != nil && !result.created {
      if request.exclusive { throw .fileExists }
      if inode.isDirectory { throw .isDirectory }
    }
    if requiresDirectory && !inode.isDirectory { throw .notDirectory }
    if inode.isSymbolicLink { throw .tooManySymbolicLinkLevels }  // O_NOFOLLOW on a link
    if inode.isDirectory && request.writes { throw .isDirectory }
    inode.openCount.add(1, ordering: .sequentiallyConsistent)
    return result
  }
}

extension DirectoryTree {
  /// Checks that `name` may be created in `directory` (Linux `may_create` and the
  /// lookup before it): ENOTDIR, ENOENT for a directory already removed, ENAMETOOLONG,
  /// EEXIST.
  func checkCreatable(_ name: FileName, in directory: Inode) throws(Errno) {
    guard directory.isDirectory else { throw .notDirectory }
    guard directory.linkCount.load(ordering: .relaxed) > 0 else { throw .noSuchFileOrDirectory }
    guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
    if child(of: directory, named: name) != nil { throw .fileExists }
  }
}
