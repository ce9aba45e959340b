import CErmFD
import ErmCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a process ended.
public enum TerminationStatus: Sendable, Hashable, CustomStringConvertible {
  /// It called `exit(code)` (`WIFEXITED`, `WEXITSTATUS`).
  case exited(Int32)
  /// A signal ended it (`WIFSIGNALED`, `WTERMSIG`).
  case signaled(Int32)

  init(waitStatus status: Int32) {
    if ermfd_status_signaled(status) != 0 {
      self = .signaled(ermfd_status_signal(status))
    } else {
      self = .exited(ermfd_status_exit_code(status))
    }
  }

  /// True for `exit(0)`.
  public var isSuccess: Bool { self == .exited(0) }

  public var description: String {
    switch self {
    case .exited(let code): return "exited with \(code)"
    case .signaled(let signal): return "killed by signal \(signal)"
    }
  }
}

extension ErmFS {
  /// Starts a program stored in this file system, straight from memory: the file is
  /// exported as a sealed executable memfd and run with `fexecve` in a forked child.
  /// The calling process is not replaced; wait for the child with ``wait(for:)``.
  ///
  /// Scripts (`#!`) work too: for them the memfd is left open across `exec` so the
  /// interpreter can open `/dev/fd/N`; binaries get no extra descriptor. The program
  /// starts with no signal blocked and caught signals at their defaults (ignored ones
  /// stay ignored), whichever thread calls this.
  ///
  /// The corresponding C functions are `memfd_create`, `fork` and `fexecve`.
  ///
  /// - Parameters:
  ///   - path: the program in this file system.
  ///   - arguments: argv[1...]; argv[0] is the path's last component.
  ///   - environment: `NAME=value` strings; nil passes this process's environment.
  ///   - standardInput: a descriptor to become the child's 0; nil inherits ours.
  ///   - standardOutput: a descriptor to become the child's 1 (e.g. a pipe's write end).
  ///   - standardError: a descriptor to become the child's 2.
  /// - Returns: the child's process id.
  /// - Throws: the errors of ``export(_:options:)``; EACCES when the kernel forbids
  ///   executable memfds (`vm.memfd_noexec` = 2, see ``ExecutableMemfdPolicy``) or the
  ///   file lacks execute permission in this file system; ENOEXEC when it is not a
  ///   program the kernel can run; EAGAIN/ENOMEM when `fork` fails; EINVAL when an
  ///   argument or environment string contains a NUL byte.
  public func spawn(_ path: String, arguments: [String] = [], environment: [String]? = nil,
                    standardInput: FileDescriptor? = nil, standardOutput: FileDescriptor? = nil,
                    standardError: FileDescriptor? = nil) throws(Errno) -> pid_t {
    // A C string ends at NUL: such an argument would reach the program cut short.
    if (arguments + (environment ?? [])).contains(where: { $0.utf8.contains(0) }) {
      throw .invalidArgument
    }
    let permissions = try stat(path).permissions
    guard !permissions.isDisjoint(with: [.ownerExecute, .groupExecute, .otherExecute]) else {
      throw .permissionDenied
    }
    let program = try export(path, options: [.executable, .sealed])
    defer { try? program.close() }
    var magic: (UInt8, UInt8) = (0, 0)
    let isScript = (try? withUnsafeMutableBytes(of: &magic) {
      try program.read(fromAbsoluteOffset: 0, into: $0)
    }) == 2 && magic == (UInt8(ascii: "#"), UInt8(ascii: "!"))

    let name = path.split(separator: "/").last.map(String.init) ?? path
    let argv = CStringArray([name] + arguments)
    let envp = environment.map(CStringArray.init)
    var pid: pid_t = 0
    let rc = ermfd_spawn_fd(program.rawValue, argv.pointers, envp?.pointers ?? environ,
                            isScript ? 1 : 0,
                            standardInput?.rawValue ?? -1, standardOutput?.rawValue ?? -1,
                            standardError?.rawValue ?? -1, &pid)
    guard rc == 0 else { throw Errno(rawValue: rc) }
    return pid
  }

  /// Runs a program stored in this file system from memory and waits for it:
  /// ``spawn(_:arguments:environment:standardInput:standardOutput:standardError:)``
  /// followed by ``wait(for:)``. Capture its output by passing a pipe's write end as
  /// `standardOutput` (and close yours before reading to end of file), or use
  /// ``run(_:arguments:environment:)``.
  ///
  /// The corresponding C functions are `fexecve` and `waitpid`.
  ///
  /// - Throws: the errors of `spawn`, or ECHILD from `waitpid`.
  public func exec(_ path: String, arguments: [String] = [], environment: [String]? = nil,
                   standardInput: FileDescriptor? = nil, standardOutput: FileDescriptor? = nil,
                   standardError: FileDescriptor? = nil) throws(Errno) -> TerminationStatus {
    let pid = try spawn(path, arguments: arguments, environment: environment,
                        standardInput: standardInput, standardOutput: standardOutput,
                        standardError: standardError)
    return try ErmFS.wait(for: pid)
  }

  /// Runs a program stored in this file system and collects its standard output.
  ///
  /// - Returns: how it ended and every byte it wrote to its standard output.
  /// - Throws: the errors of ``exec(_:arguments:environment:standardInput:standardOutput:standardError:)``,
  ///   EMFILE when no pipe can be made.
  public func run(_ path: String, arguments: [String] = [],
                  environment: [String]? = nil) throws(Errno) -> (status: TerminationStatus, output: [UInt8]) {
    var ends: (Int32, Int32) = (-1, -1)
    let piped = withUnsafeMutableBytes(of: &ends) {
      ermfd_pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self))
    }
    guard piped == 0 else { throw Errno(rawValue: errno) }
    let readEnd = FileDescriptor(rawValue: ends.0)
    let writeEnd = FileDescriptor(rawValue: ends.1)
    defer { try? readEnd.close() }
    let pid: pid_t
    do {
      defer { try? writeEnd.close() }  // ours must go, or reading never reaches end of file
      pid = try spawn(path, arguments: arguments, environment: environment, standardOutput: writeEnd)
    }
    var output: [UInt8] = []
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    defer { chunk.deallocate() }
    while true {
      let n = Glibc.read(readEnd.rawValue, chunk.baseAddress, chunk.count)
      if n < 0 {
        let error = Errno(rawValue: errno)
        if error == .interrupted { continue }
        _ = try? ErmFS.wait(for: pid)
        throw error
      }
      if n == 0 { break }
      output += UnsafeRawBufferPointer(rebasing: chunk[0..<n])
    }
    return (try ErmFS.wait(for: pid), output)
  }

  /// Waits for a child started by `spawn` to end.
  ///
  /// The corresponding C function is `waitpid`.
  ///
  /// - Throws: ECHILD when `pid` is not a child of this process (or was already waited for).
  public static func wait(for pid: pid_t) throws(Errno) -> TerminationStatus {
    var status: Int32 = 0
    guard ermfd_wait(pid, &status) == 0 else { throw Errno(rawValue: errno) }
    return TerminationStatus(waitStatus: status)
  }
}

extension ErmFS {
  /// The status of a child started by `spawn` if it has ended (it is then reaped), or nil
  /// while it runs: for callers that wait for other things too (signals to pass on).
  ///
  /// The corresponding C function is `waitpid(pid, &status, WNOHANG)`.
  ///
  /// - Throws: ECHILD when `pid` is not a child of this process (or was already reaped).
  public static func waitIfEnded(for pid: pid_t) throws(Errno) -> TerminationStatus? {
    var status: Int32 = 0
    while true {
      let rc = waitpid(pid, &status, WNOHANG)
      if rc == pid { return TerminationStatus(waitStatus: status) }
      if rc == 0 { return nil }
      if errno != EINTR { throw Errno(rawValue: errno) }
    }
  }
}

/// A NULL-terminated `char *[]` for execve, freed in deinit.
final class CStringArray {
  let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  private let count: Int

  init(_ strings: [String]) {
    count = strings.count
    pointers = .allocate(capacity: strings.count + 1)
    for (i, s) in strings.enumerated() { pointers[i] = strdup(s) }
    pointers[strings.count] = nil
  }

  deinit {
    for i in 0..<count { free(pointers[i]) }
    pointers.deallocate()
  }
}
