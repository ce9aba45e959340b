// `ermfs-tool export | exec | serve | get`: ErmFD's memfd export, from-memory execution
// and descriptor passing (Packages/ErmFD). ErmFS lives inside this process, so each
// command first imports host files into a fresh in-process ERMFS.
import ArgumentParser
import ErmCore
import ErmFD
import Foundation
import SystemPackage

/// Writes bytes to standard output, retrying short writes.
private func writeToStandardOutput(_ bytes: UnsafeRawBufferPointer) throws {
    var done = 0
    while done < bytes.count {
        let n = Foundation.write(1, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            throw ToolError("writing to standard output: \(Errno(rawValue: errno))")
        }
        done += n
    }
}

/// Copies everything a kernel descriptor holds to standard output (pread from offset 0).
private func copyToStandardOutput(_ fd: FileDescriptor) throws {
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { chunk.deallocate() }
    var offset: Int64 = 0
    while true {
        let n = try fd.read(fromAbsoluteOffset: offset, into: chunk)
        if n == 0 { return }
        try writeToStandardOutput(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        offset += Int64(n)
    }
}

/// Stores one host file at `path` in `fs` (its directory must exist) with the host file's
/// permission bits, and closes it, so it is compressed like any closed ERMFS file.
/// Returns what was stored.
private func importFile(_ hostPath: String, into fs: ErmFS, at path: String) throws -> HostFile {
    let file: HostFile
    do throws(Errno) {
        file = try HostFile.read(hostPath)
    } catch {
        throw ToolError("cannot read \(hostPath): \(error.text)")
    }
    try file.bytes.withUnsafeBytes { try fs.storeFile(path, $0, permissions: file.permissions) }
    return file
}

/// Imports directory trees: each root appears as `/<its last component>`, every file and
/// directory with its source's mode.
private func importTrees(_ roots: [String], into fs: ErmFS,
                         interrupted: () -> Bool = { false }) throws -> Corpus {
    let corpus = try Corpus.load(roots: roots, interrupted: interrupted)
    try fs.makeDirectories(of: corpus)
    try fs.storeFiles(of: corpus)
    for skipped in corpus.skipped { FileHandle.standardError.write(Data("skipped \(skipped)\n".utf8)) }
    return corpus
}

/// Why an executable export or exec of `path` failed with EACCES: the file's mode, or
/// the kernel's `vm.memfd_noexec`, or (neither being the cause) nothing more.
private func permissionDeniedReason(_ path: String, in fs: ErmFS) -> String {
    let executeBits: FilePermissions = [.ownerExecute, .groupExecute, .otherExecute]
    if let mode = try? fs.stat(path).permissions, mode.isDisjoint(with: executeBits) {
        return "the file has no execute permission (mode \(octal(mode)))"
    }
    let policy = ExecutableMemfdPolicy.current
    return policy == .forbidden ? policy.description : ""
}

/// Permission bits as four octal digits, e.g. "0644".
private func octal(_ permissions: FilePermissions) -> String {
    let digits = String(permissions.rawValue & 0o7777, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// `ermfs-tool export [--import DIR ...] FILE [--sealed] [--executable] [--cat]`: one file
/// (README showed `FILE ...`; exporting several is what `exportMany` is for, and a
/// report per memfd of several files was not worth a second code path here).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export an ERMFS file as a memfd and report it (or write it to stdout).",
        discussion: """
            Without --import, FILE is a host file: it is stored in a fresh in-process ERMFS
            as /<its name> (compressed on close), then exported. With --import DIR, the
            trees are imported (DIR appears as /<name of DIR>) and FILE is an ERMFS path.
            Files keep their host permission bits. The report names the memfd, its size,
            the file's mode, its seals, and whether its bytes equal the original's.
            """
    )

    @Option(name: .customLong("import"), help: "Directory tree to import first; FILE is then an ERMFS path.")
    var imports: [String] = []

    @Argument(help: "A host file, or with --import an ERMFS path such as /dir/file.")
    var file: String

    @Flag(help: "Seal the memfd (shrink, grow, write, seal).")
    var sealed = false

    @Flag(help: "Create the memfd executable (MFD_EXEC).")
    var executable = false

    @Flag(help: "Write the memfd's contents to standard output instead of a report.")
    var cat = false

    func run() throws {
        let fs = try ErmFS()
        let path: String
        var original: [UInt8]? = nil
        if imports.isEmpty {
            let name = URL(fileURLWithPath: file).lastPathComponent
            path = "/" + name
            original = try importFile(file, into: fs, at: path).bytes
        } else {
            let corpus = try importTrees(imports, into: fs)
            path = file
            original = corpus.files.first { $0.path == file }?.bytes
        }
        var options: ExportOptions = []
        if sealed { options.insert(.sealed) }
        if executable { options.insert(.executable) }
        let fd: FileDescriptor
        do throws(Errno) {
            fd = try fs.export(path, options: options)
        } catch {
            let reason = error == .permissionDenied ? permissionDeniedReason(path, in: fs) : ""
            throw ToolError("\(path): \(error)" + (reason.isEmpty ? "" : ": \(reason)"))
        }
        defer { try? fd.close() }
        if cat { return try copyToStandardOutput(fd) }

        let status = try fs.stat(path)
        let name = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd.rawValue)")) ?? "?"
        let size = try fd.seek(offset: 0, from: .end)
        _ = try fd.seek(offset: 0, from: .start)
        let seals = (try? Memfd.seals(of: fd)) ?? []
        var sealNames: [String] = []
        for (seal, label) in [(Seals.seal, "seal"), (.shrink, "shrink"), (.grow, "grow"), (.write, "write"),
                              (.futureWrite, "future-write"), (.exec, "exec")] where seals.contains(seal) {
            sealNames.append(label)
        }
        print("exported \(path) as fd \(fd.rawValue) -> \(name)")
        print("  size \(size) bytes (ERMFS logical \(status.size), stored \(status.storedSize)), mode \(octal(status.permissions))")
        print("  seals: \(sealNames.isEmpty ? "none" : sealNames.joined(separator: ", "))")
        if let original {
            var exported = [UInt8](repeating: 0, count: Int(size))
            var done = 0
            try exported.withUnsafeMutableBytes { buffer in
                while done < buffer.count {
                    let n = try fd.read(fromAbsoluteOffset: Int64(done),
                                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                    if n == 0 { break }
                    done += n
                }
            }
            let same = exported == original
            print("  contents \(same ? "equal" : "DIFFER FROM") the original")
            if !same { throw ExitCode(1) }
        }
    }
}

/// `ermfs-tool exec FILE [ARGS...]`: run a program from memory.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Store a program in ERMFS and run it from memory (memfd + fexecve).",
        discussion: """
            The host FILE is stored in a fresh in-process ERMFS with its permission bits
            (a file without execute permission is refused), exported as a sealed
            executable memfd and run with fexecve in a child process that shares this
            terminal's standard input, output and error. Signals sent to ermfs-tool
            (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) are passed on to the
            program. Exits with the program's status, or 128+N when signal N killed it.
            Fails with a clear message when the kernel forbids executable memfds
            (vm.memfd_noexec = 2).
            """
    )

    @Argument(help: "The program, a host file such as /bin/echo.")
    var file: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments for the program.")
    var arguments: [String] = []

    /// Passed on to the child when a process sends them to us. Sent by the kernel (the
    /// terminal's Ctrl-C or Ctrl-\ or hangup), they already reached the child, which runs
    /// in our process group: passing them on would deliver them twice.
    static let forwarded = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    func run() throws {
        let fs = try ErmFS()
        let path = "/" + URL(fileURLWithPath: file).lastPathComponent
        _ = try importFile(file, into: fs, at: path)
        // Caught from before the child exists, so none is lost: they wait in the pipe.
        let catcher = try SignalCatcher(Self.forwarded + [SIGCHLD])
        defer { catcher.restore() }
        let child: pid_t
        do throws(Errno) {
            child = try fs.spawn(path, arguments: arguments)
        } catch {
            let reason = error == .permissionDenied ? permissionDeniedReason(path, in: fs) : ""
            throw ToolError("\(file): \(error)" + (reason.isEmpty ? "" : ": \(reason)"))
        }
        let status = try Self.wait(for: child, passingOn: catcher)
        switch status {
        case .exited(let code): if code != 0 { throw ExitCode(code) }
        case .signaled(let signal): throw ExitCode(128 + signal)
        }
    }

    /// Waits for `child`, passing on the signals processes send us meanwhile. SIGCHLD
    /// (caught too) wakes the loop when the child ends.
    /// The corresponding C functions are `waitpid(WNOHANG)`, `poll` and `kill`.
    static func wait(for child: pid_t, passingOn catcher: SignalCatcher) throws -> TerminationStatus {
        while true {
            for caught in catcher.pending() where caught.signal != SIGCHLD && caught.sentByProcess {
                kill(child, caught.signal)
            }
            do throws(Errno) {
                if let status = try ErmFS.waitIfEnded(for: child) { return status }
            } catch {
                throw ToolError("waitpid: \(error)")
            }
            var ready = pollfd(fd: catcher.descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&ready, 1, -1)  // EINTR: just look again
        }
    }
}

/// `ermfs-tool serve --socket PATH --import DIR ...`: hand out memfds over a UNIX socket.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve imported trees' files as memfds over a UNIX socket until interrupted.",
        discussion: """
            The socket (SOCK_SEQPACKET) answers a path with its memfd through SCM_RIGHTS,
            or with an errno and a message. By default the socket file is mode 0600 and
            only the same user and root may connect; --allow-any-user makes it 0666 and
            admits every user (each uid may hold at most 32 connections). The socket is
            created before the trees are imported, so a bad path fails at once. Fetch
            with `ermfs-tool get`. SIGINT or SIGTERM stops the server and removes the
            socket file (if it is still this server's).
            """
    )

    @Option(help: "Path of the socket file to create.")
    var socket: String

    @Option(name: .customLong("import"), help: "Directory tree to serve (appears as /<its name>).")
    var imports: [String]

    @Flag(help: "Take over a stale socket file at --socket (one no server listens on).")
    var replace = false

    @Flag(help: "Admit every user: socket file mode 0666 and no uid check.")
    var allowAnyUser = false

    @Option(help: "Milliseconds a silent connection stays open.")
    var idleTimeout: Int = 5000

    func validate() throws {
        guard !imports.isEmpty else { throw ValidationError("give at least one --import DIR") }
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
    }

    func run() throws {
        let fs = try ErmFS()
        // Signals are caught before the socket exists: one that came between the bind and
        // the handler would kill the process with the socket file left behind. From the
        // bind on, whenever one comes, the socket goes with the server (during the
        // import: the import stops, `server` is released, its deinit removes it).
        let catcher = try SignalCatcher([SIGINT, SIGTERM, SIGHUP])
        // The socket first: a path that cannot work fails before a long import. Clients
        // that connect meanwhile wait in the listen backlog until run() serves them.
        let server: ExportServer
        do throws(Errno) {
            server = try ExportServer(fs: fs, socketPath: socket,
                                      peerPolicy: allowAnyUser ? .anyUser : .sameUserOrRoot,
                                      idleTimeout: idleTimeout, replacingStaleSocket: replace)
        } catch {
            throw ToolError(Self.explain(error, socket: socket, replacing: replace))
        }
        let corpus: Corpus
        do {
            corpus = try importTrees(imports, into: fs, interrupted: { catcher.caughtSignal != nil })
        } catch is Corpus.Interrupted {
            throw ExitCode(128 + (catcher.caughtSignal ?? SIGTERM))
        }
        let wake = catcher.descriptor
        Thread.detachNewThread {
            var ready = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
            while poll(&ready, 1, -1) < 0 && errno == EINTR {}
            server.stop()
        }
        let roots = corpus.directories.map(\.path).filter { !$0.dropFirst().contains("/") }
        print("serving \(corpus.files.count) files (\(roots.joined(separator: ", "))) on \(socket)")
        fflush(nil)  // the line tells scripts the server is ready: out of the buffer now
        server.run()
        catcher.restore()
        print("stopped after \(server.repliesSent) replies")
    }

    /// Says why the socket could not be created, naming what is in the way.
    static func explain(_ error: Errno, socket: String, replacing: Bool) -> String {
        guard error == .addressInUse else { return "\(socket): \(error)" }
        var info = stat()
        if lstat(socket, &info) == 0 && info.st_mode & S_IFMT != S_IFSOCK {
            return "\(socket): exists and is not a socket: not removing it"
        }
        let probe = connectProbe(socket)
        if probe == 0 { return "\(socket): a server is listening on it: not replacing it" }
        if replacing { return "\(socket): \(error) (\(Errno(rawValue: probe)))" }
        return "\(socket): a stale socket (no server listening): use --replace to take it over"
    }

    /// 0 when a server accepts a connection on `socket`, else the connect's errno.
    private static func connectProbe(_ socket: String) -> Int32 {
        do throws(Errno) {
            _ = try ExportClient(socketPath: socket, timeout: 1000)
            return 0
        } catch {
            return error.rawValue
        }
    }
}

/// `ermfs-tool get --socket PATH FILE`: fetch a memfd from a server, write it to stdout.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Fetch a file's memfd from `ermfs-tool serve` and write its contents to stdout."
    )

    @Option(help: "The server's socket file.")
    var socket: String

    @Argument(help: "ERMFS path on the server, e.g. /include/stdio.h.")
    var file: String

    @Flag(help: "Ask for a sealed memfd.")
    var sealed = false

    func run() throws {
        let client: ExportClient
        do throws(Errno) {
            client = try ExportClient(socketPath: socket)
        } catch {
            throw ToolError("\(socket): \(error)")
        }
        let fd: FileDescriptor
        do throws(Errno) {
            fd = try client.fetch(file, options: sealed ? .sealed : [])
        } catch {
            throw ToolError(client.lastErrorMessage ?? "\(file): \(error)")
        }
        defer { try? fd.close() }
        try copyToStandardOutput(fd)
    }
}
