import CErmFUSE
import SystemPackage

/// SIGINT, SIGTERM and SIGHUP for a mount daemon: blocked in every thread and taken by
/// one waiting thread, so a signal never lands inside libfuse or Swift code, and the
/// daemon stops its session and unmounts in order.
public enum TerminationSignals {
  /// Blocks the three signals in the calling thread and the threads it creates later.
  /// Call it first thing in `main`, before any thread exists.
  ///
  /// The corresponding C function is `pthread_sigmask(SIG_BLOCK)`.
  public static func block() throws(Errno) {
    let error = ermfuse_block_termination_signals()
    if error != 0 { throw Errno(rawValue: error) }
  }

  /// Waits for one of them and returns its number.
  ///
  /// The corresponding C function is `sigwait`.
  public static func wait() -> Int32 { ermfuse_wait_termination_signal() }

  /// Sends `signal` to this process (e.g. SIGTERM to end a `wait` when the mount went
  /// away on its own).
  ///
  /// The corresponding C function is `kill(getpid(), signal)`.
  public static func raise(_ signal: Int32) { _ = ermfuse_raise_process_signal(signal) }
}
