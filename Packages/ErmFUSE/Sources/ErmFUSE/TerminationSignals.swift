import CErmFUSE
import SystemPackage

/// SIGINT, SIGTERM and SIGHUP for a mount daemon, turned into a value one thread waits
/// for (the self-pipe trick), so the daemon stops its session and unmounts in order
/// whichever thread the kernel delivered the signal to.
public enum TerminationSignals {
  /// Installs the handlers.
  ///
  /// The corresponding C functions are `pipe2` and `sigaction`.
  public static func install() throws(Errno) {
    let error = ermfuse_termination_signals_install()
    if error != 0 { throw Errno(rawValue: error) }
  }

  /// Waits for one of the signals (or `post`) and returns its number.
  ///
  /// The corresponding C function is `read` on the pipe.
  public static func wait() -> Int32 { ermfuse_wait_termination_signal() }

  /// Wakes `wait` as if `signal` had arrived (e.g. when the mount went away on its own).
  public static func post(_ signal: Int32) { ermfuse_post_termination(signal) }
}
