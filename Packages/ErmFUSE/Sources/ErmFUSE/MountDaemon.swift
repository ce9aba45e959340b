import CErmFUSE
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starting a mount daemon the way sshfs does, without fork() in a threaded process: the
/// program is started again in a new session and reports on a pipe when its mount
/// answers (or why it could not mount); the caller returns after reading that report.
public enum MountDaemon {
  /// Starts `path` with `arguments` (argv[0] included) in a new session; its standard
  /// output and error go into a pipe whose read end is returned, with the child's pid.
  ///
  /// The corresponding C functions are `pipe` and `posix_spawn` with
  /// `POSIX_SPAWN_SETSID`.
  ///
  /// - Throws: ENOENT, EACCES (the program), EMFILE, ENOMEM.
  public static func spawn(_ path: String, arguments: [String]) throws(Errno) -> (pid: pid_t, report: FileDescriptor) {
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { throw Errno(rawValue: errno) }
    // Only the copies made onto the child's 1 and 2 may be inherited.
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    var pid: pid_t = 0
    let error = withCStrings(arguments) { argv in
      ermfuse_spawn_in_new_session(path, UnsafeMutablePointer(mutating: argv).withMemoryRebound(
        to: UnsafeMutablePointer<CChar>?.self, capacity: arguments.count + 1) { $0 }, ends[1], &pid)
    }
    close(ends[1])
    guard error == 0 else {
      close(ends[0])
      throw Errno(rawValue: error)
    }
    return (pid, FileDescriptor(rawValue: ends[0]))
  }
}
