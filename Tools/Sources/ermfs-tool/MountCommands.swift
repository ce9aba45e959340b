// `ermfs-tool mount | unmount | stats`: ERMFS as a real file system through FUSE
// (Packages/ErmFUSE). The daemon is this same program re-run with a hidden flag: the
// parent waits on a pipe until the mount answers (or the child reports why it could not
// mount) and returns, the child keeps serving in its own session.
import ArgumentParser
import ErmCompress
import ErmCore
import ErmFD
import ErmFUSE
import Foundation
import SystemPackage

/// `ermfs-tool mount DIR [--codec NAME] [--level N] [--background] [--lockless] [--size BYTES] [--foreground] [-o OPT,...]`.
struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount an empty ERMFS on DIR (FUSE) and serve it in the background.",
        discussion: """
            Returns once the mount answers; the daemon keeps serving in its own session
            until `ermfs-tool unmount DIR`, SIGTERM or SIGINT (both unmount cleanly). With
            --foreground it serves in this process (for systemd or debugging) and prints
            "ready" when the mount answers.

            The kernel enforces mode bits (default_permissions). Only the mounting user
            (root here) may enter unless -o allow_other is given; allow_other as a non-root
            user needs `user_allow_other` in /etc/fuse.conf. Other -o options go to libfuse
            and the kernel unchanged (e.g. -o max_read=131072).

            --serve-socket PATH also serves the mounted files as memfds over a UNIX socket
            (`ermfs-tool get --socket PATH /file`, paths relative to DIR): one daemon, one
            ERMFS. `ermfs-tool stats DIR` reports what the mount holds.

            The tuning options are the kernel caching knobs measured in
            docs/decisions/fuse-caching.md; their defaults are the measured choices.
            """
    )

    @Argument(help: "An existing, empty directory.")
    var directory: String

    @OptionGroup var storage: StorageOptions

    @Option(help: "Most bytes of memory the file contents may hold (suffixes K, M, G); default: no limit.")
    var size: String?

    @Option(help: "KiB per compressed chunk: what a read of a compressed file decompresses at least.")
    var chunkKib: Int = 128

    @Flag(help: "Serve in this process instead of a background daemon.")
    var foreground = false

    @Option(name: .short, parsing: .singleValue, help: "FUSE mount options, comma-separated (repeatable).")
    var o: [String] = []

    @Option(help: "Also serve the files as memfds on this UNIX socket (SOCK_SEQPACKET, mode 0600).")
    var serveSocket: String?

    // Tuning (docs/decisions/fuse-caching.md, fuse-threading.md).
    @Option(help: "Worker threads serving requests.")
    var threads: Int = MountOptions().threads
    @Option(help: "Seconds the kernel caches names.")
    var entryTimeout: Double = MountOptions().entryTimeout
    @Option(help: "Seconds the kernel caches attributes.")
    var attrTimeout: Double = MountOptions().attributeTimeout
    @Option(help: "Seconds the kernel remembers missing names (0: never).")
    var negativeTimeout: Double = MountOptions().negativeTimeout
    @Flag(help: "Turn the kernel's writeback cache on (writes reach ERMFS in pages; the kernel keeps mtime).")
    var writebackCache = false
    @Flag(help: "Drop a file's cached pages whenever it is opened.")
    var noKeepCache = false
    @Flag(help: "Keep a file's cached pages after ERMFS compressed it on its last close.")
    var keepCacheAfterCompress = false
    @Flag(help: "Reply through pipes (splice).")
    var splice = false
    @Option(help: "Largest write request in bytes (0: 1 MiB).")
    var maxWrite: UInt32 = 0
    @Option(help: "Background requests in flight (0: kernel default 12).")
    var maxBackground: UInt32 = 0
    @Option(help: "Readahead window in KiB (0: the kernel's 128).")
    var readAheadKib: Int = MountOptions().readAheadKiB ?? 0
    @Option(help: "Directory listings: names, plus (names with attributes) or auto.")
    var readdir: String = "auto"

    @Flag(help: .hidden)
    var daemonChild = false

    func validate() throws {
        try storage.validate()
        guard ChunkedGzip.supportedChunkSizes.contains(chunkKib * 1024) else {
            throw ValidationError("--chunk-kib must be 1...\(ChunkedGzip.supportedChunkSizes.upperBound >> 10)")
        }
        if let size { guard parseByteCount(size) != nil else { throw ValidationError("--size: not a byte count: \(size)") } }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard ["names", "plus", "auto"].contains(readdir) else { throw ValidationError("--readdir: names, plus or auto") }
    }

    var mountOptions: MountOptions {
        MountOptions(
            entryTimeout: entryTimeout, attributeTimeout: attrTimeout, negativeTimeout: negativeTimeout,
            writebackCache: writebackCache, keepCache: !noKeepCache,
            dropCacheOnCompress: !keepCacheAfterCompress, splice: splice, maxWrite: maxWrite,
            maxBackground: maxBackground, readAheadKiB: readAheadKib > 0 ? readAheadKib : nil,
            directoryListing: readdir == "names" ? .names : readdir == "plus" ? .namesAndAttributes : .adaptive,
            threads: threads,
            extraOptions: o.flatMap { $0.split(separator: ",").map(String.init) })
    }

    func run() throws {
        if daemonChild { runDaemonChild() }
        let mountPoint = try checkedMountPoint(directory)
        if foreground {
            return try serve(at: mountPoint, socket: serveSocket.map(absolutePath)) { reportLine("ready") }
        }
        try startDaemon(for: mountPoint)
    }

    /// Starts this program again with --daemon-child in a new session and waits for its
    /// "ready <pid>" or "error: ..." line (its output pipe closes after either).
    private func startDaemon(for mountPoint: String) throws {
        let program = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let arguments = [program] + Array(CommandLine.arguments.dropFirst()) + ["--daemon-child"]
        let child: (pid: pid_t, report: FileDescriptor)
        do throws(Errno) {
            child = try MountDaemon.spawn(program, arguments: arguments)
        } catch {
            throw ToolError("cannot start the mount daemon: \(error)")
        }
        let handle = FileHandle(fileDescriptor: child.report.rawValue, closeOnDealloc: true)
        let lines = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        if let ready = lines.last(where: { $0.hasPrefix("ready ") }) {
            for line in lines where !line.hasPrefix("ready ") { FileHandle.standardError.write(Data("\(line)\n".utf8)) }
            print("ERMFS mounted on \(mountPoint) (daemon pid \(ready.dropFirst(6)); `ermfs-tool unmount \(mountPoint)` to end it)")
            return
        }
        var status: Int32 = 0
        waitpid(child.pid, &status, 0)
        let message = lines.last(where: { $0.hasPrefix("error: ") }).map { String($0.dropFirst(7)) }
            ?? "the daemon exited (status \(status)) before the mount was ready"
        for line in lines where !line.hasPrefix("error: ") {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
        throw ToolError(message)
    }

    /// The daemon (already in its own session): `/` as working directory, "ready <pid>" or "error: ..."
    /// on the pipe, then standard output and error go to /dev/null.
    private func runDaemonChild() -> Never {
        do {
            // Paths first: the daemon then leaves the caller's working directory.
            let mountPoint = try checkedMountPoint(directory)
            let socket = serveSocket.map(absolutePath)
            chdir("/")
            try serve(at: mountPoint, socket: socket) {
                reportLine("ready \(getpid())")
                let null = open("/dev/null", O_RDWR)
                dup2(null, STDOUT_FILENO)
                dup2(null, STDERR_FILENO)
                if null > STDERR_FILENO { close(null) }
            }
            Foundation.exit(0)
        } catch {
            reportLine("error: \(error)")
            Foundation.exit(1)
        }
    }

    /// Mounts, serves until a termination signal or an unmount, then unmounts.
    private func serve(at mountPoint: String, socket: String?, onReady: @escaping @Sendable () -> Void) throws {
        try TerminationSignals.install()
        let quota = size.flatMap(parseByteCount)
        var configuration = ErmFS.Configuration(
            maxDescriptors: 1 << 24, byteQuota: quota, chunkSize: chunkKib * 1024, owner: .root)
        storage.apply(to: &configuration)
        let fs = try ErmFS(configuration: configuration)
        let session: FUSESession
        do throws(Errno) {
            session = try FUSESession(fs: fs, mountPoint: mountPoint, options: mountOptions)
        } catch {
            throw ToolError("cannot mount \(mountPoint): \(error)")
        }
        var server: ExportServer? = nil
        if let socket {
            do throws(Errno) {
                server = try ExportServer(fs: fs, socketPath: socket)
            } catch {
                throw ToolError("\(socket): \(error)\(error == .addressInUse ? " (remove the stale socket first)" : "")")
            }
        }
        // The server's run() removes the socket file when it returns: wait for that.
        let serverDone = DispatchSemaphore(value: 0)
        if let server { Thread.detachNewThread { server.run(); serverDone.signal() } }
        Thread.detachNewThread {
            let signal = TerminationSignals.wait()
            if signal != 0 { session.stop() }
        }
        defer {
            if let server {
                server.stop()
                serverDone.wait()
            }
        }
        do throws(Errno) {
            try session.run(onReady: onReady)
        } catch {
            throw ToolError("serving \(mountPoint): \(error)")
        }
    }
}

/// `ermfs-tool unmount DIR`.
struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount an ERMFS mount (also one whose daemon died) and wait for its daemon to exit.",
        discussion: """
            The mount is detached lazily (umount2 MNT_DETACH as root, fusermount3 -u -z
            otherwise): DIR is free at once, processes with files still open keep them
            until they close them, then the daemon exits. A mount whose daemon died
            ("Transport endpoint is not connected") is removed the same way.
            """
    )

    @Argument(help: "The mount point.")
    var directory: String

    @Option(help: "Seconds to wait for the daemon to exit.")
    var wait: Double = 10

    func run() throws {
        let mountPoint = canonicalPath(directory)
        guard let entry = MountTable.entry(at: mountPoint) else {
            throw ToolError("\(directory) is not a mount point")
        }
        guard entry.type == "fuse.ermfs" else {
            throw ToolError("\(directory) is a \(entry.type) mount, not ERMFS: not unmounting it")
        }
        let daemon: Int32? = try? readMountStatistics(mountPoint).processID
        do throws(Errno) {
            try FUSESession.unmountLazily(mountPoint)
        } catch {
            throw ToolError("cannot unmount \(mountPoint): \(error)")
        }
        guard let daemon else {
            print("unmounted \(mountPoint) (its daemon was gone)")
            return
        }
        let deadline = Date().addingTimeInterval(wait)
        while processRuns(daemon) && Date() < deadline { usleep(20_000) }
        if processRuns(daemon) {
            print("unmounted \(mountPoint); daemon \(daemon) exits once the last open file there is closed")
        } else {
            print("unmounted \(mountPoint)")
        }
    }
}

/// `ermfs-tool stats DIR`.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show what a running ERMFS mount holds: files, bytes, compression, memory.",
        discussion: """
            Read from the mount's root attribute user.ermfs.stats (also readable with
            `getfattr -n user.ermfs.stats DIR`); --raw prints it as it comes.
            """
    )

    @Argument(help: "The mount point.")
    var directory: String

    @Flag(help: "Print the attribute's key/value lines unchanged.")
    var raw = false

    func run() throws {
        let stats = try readMountStatistics(canonicalPath(directory))
        if raw { return print(stats.text, terminator: "") }
        let rows: [(String, String)] = [
            ("files", "\(stats.files)"),
            ("directories", "\(stats.directories)"),
            ("logical bytes", "\(stats.logicalBytes) (\(formatBytes(stats.logicalBytes)))"),
            ("stored bytes", "\(stats.storedBytes) (\(formatBytes(stats.storedBytes)))"),
            ("ratio", String(format: "%.3f", stats.ratio)),
            ("chunk caches", formatBytes(stats.cacheBytes)),
            ("allocator", "\(formatBytes(stats.allocatorLiveBytes)) live, \(formatBytes(stats.allocatorReservedBytes)) reserved, \(stats.allocatorRegions) regions"),
            ("daemon memory (RSS)", "\(stats.residentBytes) (\(formatBytes(stats.residentBytes)))"),
            ("daemon private memory", "\(stats.anonymousBytes) (\(formatBytes(stats.anonymousBytes)); RSS without code and libraries)"),
            ("open files", "\(stats.openDescriptors)"),
            ("kernel-held inodes", "\(stats.rememberedInodes)"),
            ("daemon pid", "\(stats.processID)"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        for (key, value) in rows { print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
    }
}

// MARK: Shared checks

/// Whether `pid` is a live process: a zombie (exited, its new parent has not reaped it,
/// as happens under a minimal init) counts as gone.
func processRuns(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
}

/// One unbuffered line on standard output (the daemon's readiness pipe).
func reportLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The statistics a running mount reports; clear errors for a dead or foreign mount.
func readMountStatistics(_ mountPoint: String) throws -> MountStatistics {
    do throws(Errno) {
        return try MountStatistics.read(from: mountPoint)
    } catch {
        switch error {
        case .socketNotConnected:
            throw ToolError("\(mountPoint): the ERMFS daemon is gone (\(error)): run `ermfs-tool unmount \(mountPoint)`")
        case .noData, .notSupported, .badMessage:
            throw ToolError("\(mountPoint) is not an ERMFS mount")
        default:
            throw ToolError("\(mountPoint): \(error)")
        }
    }
}

/// `path` made absolute against the working directory.
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

/// An absolute path with symbolic links resolved in its parent only, so that a dead
/// mount point (every access ENOTCONN) still gets a name.
func canonicalPath(_ path: String) -> String {
    let url = URL(fileURLWithPath: absolutePath(path)).standardized
    let parent = url.deletingLastPathComponent().resolvingSymlinksInPath().path
    let name = url.lastPathComponent
    return name == "/" ? "/" : (parent == "/" ? "/" + name : parent + "/" + name)
}

/// DIR must exist, be an empty directory, not be a mount point already, and FUSE must be
/// usable: the checks with a message that says what to do.
func checkedMountPoint(_ directory: String) throws -> String {
    let path = canonicalPath(directory)
    if let entry = MountTable.entry(at: path) {
        // statvfs always reaches the daemon (stat may be answered from the kernel's cache).
        var info = statvfs()
        if entry.type.hasPrefix("fuse"), statvfs(path, &info) != 0, errno == ENOTCONN {
            throw ToolError("\(directory) is a dead FUSE mount (Transport endpoint is not connected): run `ermfs-tool unmount \(directory)` first")
        }
        throw ToolError("\(directory) is already a mount point (\(entry.type))")
    }
    var info = stat()
    guard stat(path, &info) == 0 else {
        let error = Errno(rawValue: errno)
        throw ToolError(error == .noSuchFileOrDirectory ? "\(directory): no such directory" : "\(directory): \(error)")
    }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw ToolError("\(directory) is not a directory") }
    guard let dir = opendir(path) else { throw ToolError("\(directory): \(Errno(rawValue: errno))") }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { throw ToolError("\(directory) is not empty") }
    }
    guard access("/dev/fuse", F_OK) == 0 else {
        throw ToolError("/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container the device")
    }
    if geteuid() != 0 && !executableInPath("fusermount3") {
        throw ToolError("mounting as a non-root user needs fusermount3 (Debian package fuse3), which is not installed")
    }
    return path
}

private func executableInPath(_ name: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
}

/// "1048576", "512K", "64M", "2G" (powers of 1024).
func parseByteCount(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = text.uppercased()
    var scale = 1
    if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
    if let last = digits.last, let unit = units[last] {
        scale = unit
        digits.removeLast()
    }
    guard let value = Int(digits), value >= 0 else { return nil }
    let (product, overflow) = value.multipliedReportingOverflow(by: scale)
    return overflow ? nil : product
}
