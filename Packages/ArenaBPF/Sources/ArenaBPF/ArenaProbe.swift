import CLibBPF
import SystemPackage

/// What this process may do with BPF arenas on this kernel, with messages a person can
/// act on. The corresponding C function is the shim's `ermfs_bpf_probe`.
public struct ArenaProbe: Sendable, CustomStringConvertible {
  public var effectiveUserID: Int
  public var hasCapBPF: Bool
  public var hasCapPerfmon: Bool
  public var hasCapSysAdmin: Bool
  /// Why creating a plain BPF map failed, nil when BPF works at all.
  public var bpfError: Errno?
  /// Kernel BTF (/sys/kernel/btf/vmlinux) is readable: needed for CO-RE.
  public var hasKernelBTF: Bool
  /// Why creating an arena map failed, nil when arenas work (kernel >= 6.9).
  public var arenaError: Errno?
  public var tracefsMounted: Bool
  public var tracefsMountedByProbe: Bool
  public var bpffsMounted: Bool
  public var bpffsMountedByProbe: Bool
  /// For each file-creation hook tried, nil when it works (its programs load, attach
  /// and reported a canary file), else why not (`.silentHook`: attached, never ran).
  public var hookErrors: [FileCreationHook: ArenaError?]

  /// Probes. As root, mounts tracefs (/sys/kernel/tracing; libbpf attaches tracepoints
  /// through it) and bpffs (/sys/fs/bpf) when they are missing. With `tryHooks`, starts
  /// a small feed on each hook (load, attach, canary file; then closes it) to say which
  /// hooks really deliver events on this kernel.
  public static func run(mountIfRoot: Bool = true, tryHooks: Bool = true) -> ArenaProbe {
    var raw = ermfs_bpf_probe_result()
    ermfs_bpf_probe(&raw, mountIfRoot ? 1 : 0)
    var probe = ArenaProbe(
      effectiveUserID: Int(raw.euid), hasCapBPF: raw.cap_bpf != 0, hasCapPerfmon: raw.cap_perfmon != 0,
      hasCapSysAdmin: raw.cap_sys_admin != 0,
      bpfError: raw.bpf_syscall_errno == 0 ? nil : Errno(rawValue: raw.bpf_syscall_errno),
      hasKernelBTF: raw.btf_present != 0,
      arenaError: raw.arena_errno == 0 ? nil : Errno(rawValue: raw.arena_errno),
      tracefsMounted: raw.tracefs_mounted != 0, tracefsMountedByProbe: raw.tracefs_mounted_now != 0,
      bpffsMounted: raw.bpffs_mounted != 0, bpffsMountedByProbe: raw.bpffs_mounted_now != 0,
      hookErrors: [:])
    if tryHooks && probe.bpfError == nil && probe.arenaError == nil {
      for hook in FileCreationHook.allCases {
        do {
          let feed = try FileCreationFeed(hook: .only(hook), structure: .mpmc, capacity: 64)
          feed.close()
          probe.hookErrors[hook] = .some(nil)
        } catch {
          probe.hookErrors[hook] = .some(error)
        }
      }
    }
    return probe
  }

  /// The kernel refuses BPF altogether (no bpf(2), or no permission): the only case in
  /// which the kernel tests may skip.
  public var bpfForbidden: Bool { bpfError != nil }

  /// The hooks that delivered a canary event, in preference order.
  public var workingHooks: [FileCreationHook] {
    FileCreationHook.allCases.filter { hookErrors[$0] == .some(nil) }
  }

  /// One line per finding, problems first explained with what to do.
  public var messages: [String] {
    var lines: [String] = []
    if effectiveUserID != 0 && !(hasCapBPF && hasCapPerfmon) {
      lines.append("not root and missing CAP_BPF+CAP_PERFMON: run as root or grant both capabilities")
    } else {
      lines.append("privileges: euid \(effectiveUserID), CAP_BPF \(hasCapBPF), CAP_PERFMON \(hasCapPerfmon), CAP_SYS_ADMIN \(hasCapSysAdmin)")
    }
    if let bpfError {
      lines.append("BPF forbidden: creating a map failed with \(bpfError) (kernel.unprivileged_bpf_disabled, lockdown or a sandbox)")
    } else {
      lines.append("BPF: maps can be created")
    }
    lines.append(hasKernelBTF ? "kernel BTF: present (CO-RE works)" : "kernel BTF: missing (/sys/kernel/btf/vmlinux): CO-RE relocations will fail")
    if let arenaError {
      lines.append("arena maps: unsupported (\(arenaError)); BPF_MAP_TYPE_ARENA needs Linux >= 6.9")
    } else {
      lines.append("arena maps: supported")
    }
    lines.append(
      tracefsMounted
        ? "tracefs: mounted at /sys/kernel/tracing\(tracefsMountedByProbe ? " (mounted now)" : "")"
        : "tracefs: NOT mounted (run as root, or: mount -t tracefs tracefs /sys/kernel/tracing)")
    lines.append(
      bpffsMounted
        ? "bpffs: mounted at /sys/fs/bpf\(bpffsMountedByProbe ? " (mounted now)" : "")"
        : "bpffs: NOT mounted (run as root, or: mount -t bpf bpf /sys/fs/bpf)")
    for hook in FileCreationHook.allCases {
      switch hookErrors[hook] {
      case .some(.none): lines.append("hook \(hook): works (loads, attaches, reported a canary file)")
      case .some(.some(.silentHook(let detail))): lines.append("hook \(hook): attached but never ran: \(detail)")
      case .some(.some(let error)): lines.append("hook \(hook): does not load or attach (\(error.errno))")
      case .none: lines.append("hook \(hook): not tried")
      }
    }
    if let first = workingHooks.first {
      lines.append("file-creation producer will use: \(first)")
    } else if !hookErrors.isEmpty {
      lines.append("no file-creation hook works on this kernel")
    }
    return lines
  }

  public var description: String { messages.joined(separator: "\n") }
}
