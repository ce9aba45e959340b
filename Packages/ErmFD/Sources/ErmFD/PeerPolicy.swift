#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ExportServer {
  /// Who may use an ``ExportServer``: it decides both the socket file's mode (who can
  /// connect at all) and the uid check on each connection (SO_PEERCRED).
  public enum PeerPolicy: Sendable, Hashable {
    /// The server's own user, and root (the default). Socket file mode 0600.
    case sameUserOrRoot
    /// Only these user ids. Socket file mode 0666: the uid check is what admits.
    case users(Set<UInt32>)
    /// Every user. Socket file mode 0666.
    case anyUser

    /// The socket file's permission bits. Whatever the umask, the file ends with exactly
    /// these: the policy, not the umask, says who may connect.
    public var socketFileMode: UInt32 {
      switch self {
      case .sameUserOrRoot: return 0o600
      case .users, .anyUser: return 0o666
      }
    }

    func admits(uid: uid_t) -> Bool {
      switch self {
      case .sameUserOrRoot: return uid == 0 || uid == geteuid()
      case .users(let set): return set.contains(uid)
      case .anyUser: return true
      }
    }
  }
}
