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

/// Stores one host file at `path` in `fs` (its directory must exist) and closes it, so it
/// is compressed like any closed ERMFS file.
private func importFile(_ hostPath: String, into fs: ErmFS, at path: String,
                        permissions: FilePermissions) throws {
    guard let data = FileManager.default.contents(atPath: hostPath) else {
        throw ToolError("cannot read \(hostPath)")
    }
    try data.withUnsafeBytes { try fs.storeFile(path, $0, permissions: permissions) }
}

/// Imports directory trees: each root appears as `/<its last component>`.
private func importTrees(_ roots: [String], into fs: ErmFS) throws -> Corpus {
    let corpus = try Corpus.load(roots: roots)
    try fs.makeDirectories(of: corpus)
    for file in corpus.files {
        try file.bytes.withUnsafeBytes { try fs.storeFile(file.path, $0) }
    }
    for skipped in corpus.skipped { FileHandle.standardError.write(Data("skipped \(skipped)\n".utf8)) }
    return corpus
}

/// `ermfs-tool export [--import DIR ...] FILE [--sealed] [--executable] [--cat]`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export an ERMFS file as a memfd and report it (or write it to stdout).",
        discussion: """
            Without --import, FILE is a host file: it is stored in a fresh in-process ERMFS
            as /<its name> (compressed on close), then exported. With --import DIR, the
            trees are imported (DIR appears as /<name of DIR>) and FILE is an ERMFS path.
            The report names the memfd, its size, its seals, and whether its bytes equal
            the original's.
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
            try importFile(file, into: fs, at: path, permissions: [.ownerReadWriteExecute])
            original = FileManager.default.contents(atPath: file).map { [UInt8]($0) }
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
            if error == .permissionDenied && executable {
                throw ToolError("\(path): \(error): \(ExecutableMemfdPolicy.current)")
            }
            throw ToolError("\(path): \(error)")
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
        print("  size \(size) bytes (ERMFS logical \(status.size), stored \(status.storedSize))")
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
            The host FILE is stored in a fresh in-process ERMFS, exported as a sealed
            executable memfd and run with fexecve in a child process that shares this
            terminal's standard input, output and error. Exits with the program's status.
            Fails with a clear message when the kernel forbids executable memfds
            (vm.memfd_noexec = 2).
            """
    )

    @Argument(help: "The program, a host file such as /bin/echo.")
    var file: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments for the program.")
    var arguments: [String] = []

    func run() throws {
        let fs = try ErmFS()
        let path = "/" + URL(fileURLWithPath: file).lastPathComponent
        try importFile(file, into: fs, at: path, permissions: [.ownerReadWriteExecute])
        let status: TerminationStatus
        do throws(Errno) {
            status = try fs.exec(path, arguments: arguments)
        } catch {
            if error == .permissionDenied {
                throw ToolError("\(file): \(error): \(ExecutableMemfdPolicy.current)")
            }
            throw ToolError("\(file): \(error)")
        }
        switch status {
        case .exited(let code): if code != 0 { throw ExitCode(code) }
        case .signaled(let signal): throw ToolError("\(file) was killed by signal \(signal)")
        }
    }
}

/// `ermfs-tool serve --socket PATH --import DIR ...`: hand out memfds over a UNIX socket.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve imported trees' files as memfds over a UNIX socket until interrupted.",
        discussion: """
            The socket (SOCK_SEQPACKET, mode 0600) answers a path with its memfd through
            SCM_RIGHTS, or with an errno and a message. Only the same user and root may
            connect unless --allow-any-user. Fetch with `ermfs-tool get`. SIGINT or
            SIGTERM stops the server and removes the socket file.
            """
    )

    @Option(help: "Path of the socket file to create.")
    var socket: String

    @Option(name: .customLong("import"), help: "Directory tree to serve (appears as /<its name>).")
    var imports: [String]

    @Flag(help: "Remove an existing socket file at --socket first.")
    var replace = false

    @Flag(help: "Admit every user who can open the socket file.")
    var allowAnyUser = false

    @Option(help: "Milliseconds a silent connection stays open.")
    var idleTimeout: Int = 5000

    func validate() throws {
        guard !imports.isEmpty else { throw ValidationError("give at least one --import DIR") }
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
    }

    func run() throws {
        if replace {
            var info = stat()
            if lstat(socket, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else {
                    throw ToolError("\(socket) exists and is not a socket: not removing it")
                }
                unlink(socket)
            }
        }
        let fs = try ErmFS()
        let corpus = try importTrees(imports, into: fs)
        let server: ExportServer
        do throws(Errno) {
            server = try ExportServer(fs: fs, socketPath: socket,
                                      peerPolicy: allowAnyUser ? .anyUser : .sameUserOrRoot,
                                      idleTimeout: idleTimeout)
        } catch {
            if error == .addressInUse {
                throw ToolError("\(socket): already exists (another server, or a stale socket: use --replace)")
            }
            throw ToolError("\(socket): \(error)")
        }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.stop() }
            source.resume()
            sources.append(source)
        }
        print("serving \(corpus.files.count) files (\(corpus.directories.joined(separator: ", "))) on \(socket)")
        server.run()
        sources.forEach { $0.cancel() }
        print("stopped after \(server.repliesSent) replies")
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
