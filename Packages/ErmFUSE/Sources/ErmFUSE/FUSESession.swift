import CErmFUSE
import ErmCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One ErmFS mounted through FUSE: created mounted, served by `run`, ended by `stop`
/// (or by an unmount), unmounted when it ends.
///
/// ```swift
/// let session = try FUSESession(fs: fs, mountPoint: "/mnt/erm")  // mounted, not served yet
/// Thread.detachNewThread { try? session.run { print("ready") } }  // serves until stop
/// session.stop()                                                  // lazy unmount, run returns
/// ```
public final class FUSESession: Sendable {
  /// The mounted file system.
  public let fs: ErmFS
  /// Where it is mounted.
  public let mountPoint: String
  public let options: MountOptions

  private let adapter: RequestAdapter
  private let handle: SessionHandle
  private let state = Mutex(State())

  private struct State {
    var ran = false
  }

  /// Creates the session and mounts it (`fuse_session_new`, `fuse_session_mount`).
  /// Requests wait in the kernel until `run` serves them.
  ///
  /// - Parameters:
  ///   - fs: the file system to serve (give it a large `maxDescriptors`: every open file
  ///     of every process is one descriptor).
  ///   - mountPoint: an existing directory.
  ///   - options: caching, threads and `-o` options.
  /// - Throws: EINVAL (an `-o` option libfuse rejects; it printed which), ENODEV
  ///   (/dev/fuse missing), ENOENT, ENOTDIR, EPERM (not root and no fusermount3), ENOMEM.
  public init(fs: ErmFS, mountPoint: String, options: MountOptions = MountOptions()) throws(Errno) {
    self.fs = fs
    self.mountPoint = mountPoint
    self.options = options
    let adapter = RequestAdapter(fs: fs, options: options)
    var config = options.config
    var operations = OperationTable.make()
    let context = Unmanaged.passUnretained(adapter).toOpaque()
    let fuseOptions = options.fuseOptions
    let pointer: OpaquePointer? = withCStrings(fuseOptions) { argv in
      ermfuse_session_create(argv, Int32(fuseOptions.count), &config, &operations, context)
    }
    guard let pointer else { throw Errno(rawValue: errno == 0 ? EINVAL : errno) }
    let error = ermfuse_session_mount(pointer, mountPoint)
    guard error == 0 else {
      ermfuse_session_destroy(pointer)
      throw Errno(rawValue: error)
    }
    self.adapter = adapter
    self.handle = SessionHandle(pointer: pointer)
    adapter.session.withLock { $0 = handle }
  }

  deinit {
    adapter.session.withLock { $0 = nil }
    ermfuse_session_destroy(handle.pointer)
  }

  /// Serves requests on `options.threads` worker threads (`fuse_session_loop_mt`) until
  /// `stop()` or an unmount, then unmounts (lazily: processes still inside see ENOTCONN,
  /// as with libfuse's own unmount at exit). `onReady` runs once
  /// FUSE_INIT is done and the readahead window is set: the mount answers from then on.
  /// Call it once.
  ///
  /// - Throws: EBUSY (already ran), EPROTO (the kernel refused FUSE_INIT), or the errno
  ///   that ended the loop.
  public func run(onReady: (@Sendable () -> Void)? = nil) throws(Errno) {
    let first = state.withLock { state -> Bool in
      defer { state.ran = true }
      return !state.ran
    }
    guard first else { throw .resourceBusy }
    var error = ermfuse_session_start(handle.pointer)
    if error == 0 {
      var waited = ETIMEDOUT
      while waited == ETIMEDOUT { waited = ermfuse_session_wait_initialized(handle.pointer, 1000) }
      if waited == 0 {
        // statfs waits until the kernel has processed the INIT reply; the readahead
        // window set before that would be cut back to what INIT carried.
        var info = statvfs()
        _ = statvfs(mountPoint, &info)
        applyReadAhead()
        onReady?()
      }
      error = ermfuse_session_join(handle.pointer)
    }
    ermfuse_session_unmount(handle.pointer)
    if error != 0 { throw Errno(rawValue: error) }
  }

  /// Ends `run` from any thread (requests in flight finish first); `run` then unmounts.
  /// Calling it again, or before `run`, is harmless.
  ///
  /// The corresponding C functions are `fuse_session_exit` and `pthread_kill` (SIGUSR2 to
  /// the loop thread, repeated until the loop has returned).
  public func stop() {
    ermfuse_session_stop(handle.pointer)
  }

  /// What the mount holds now (also readable as `user.ermfs.stats` on the root).
  public var statistics: MountStatistics { adapter.statistics() }

  /// The FUSE_INIT agreement, once `run` got that far.
  public var maximumWrite: Int? { adapter.connection.withLock { $0.map { Int($0.max_write) } } }

  /// Lazily unmounts any FUSE mount, also one whose daemon died ("Transport endpoint is
  /// not connected"): `umount2(MNT_DETACH)` as root, else `fusermount3 -u -z`.
  ///
  /// - Throws: EINVAL (not a mount point), ENOENT (no fusermount3), EPERM.
  public static func unmountLazily(_ mountPoint: String) throws(Errno) {
    let error = ermfuse_unmount_lazy(mountPoint)
    if error != 0 { throw Errno(rawValue: error) }
  }

  /// Sets `read_ahead_kb` of the mount's backing device (`0:N`, from mountinfo); a
  /// failure (not root) leaves the kernel's window.
  private func applyReadAhead() {
    guard let kib = options.readAheadKiB, let device = MountTable.device(of: mountPoint) else { return }
    let path = "/sys/class/bdi/\(device)/read_ahead_kb"
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let text = Array("\(kib)\n".utf8)
    _ = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
  }
}

/// Calls `body` with a C array of C strings (valid only during the call).
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  defer { pointers.forEach { free($0) } }
  pointers.append(nil)
  return pointers.withUnsafeBufferPointer { buffer in
    buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
  }
}
