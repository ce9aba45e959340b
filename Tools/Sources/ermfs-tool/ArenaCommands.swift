// `ermfs-tool arena doctor|run` and `ermfs-tool watch`: the BPF arena feed of kernel
// file-creation events (Packages/ArenaBPF).
import ArenaBPF
import ArgumentParser
import Foundation

/// Writes one line straight to standard output: live output must not sit in a buffer
/// when it goes to a pipe or file.
private func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// `ermfs-tool arena`: inspect and exercise the BPF arena.
struct ArenaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arena",
        abstract: "BPF arena: capability probe and a live producer/consumer run.",
        subcommands: [Doctor.self, Run.self]
    )

    /// `ermfs-tool arena doctor`: the capability probe, one finding per line.
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check privileges, BPF, arena maps, tracefs/bpffs (mounted when root) and which hooks work.",
            discussion: """
                A hook works when it loads, attaches and reports a canary file this command
                creates: attaching alone proves nothing (BPF LSM attaches but never runs when
                bpf is missing from the kernel's lsm= list).
                """
        )

        func run() async throws {
            let probe = ArenaProbe.run(mountIfRoot: true, tryHooks: true)
            for line in probe.messages { emit(line) }
            if probe.bpfForbidden || probe.arenaError != nil || probe.workingHooks.isEmpty {
                throw ExitCode(1)
            }
        }
    }

    /// `ermfs-tool arena run --structure NAME [-v] [--seconds N]`.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the kernel producer on file creation with a polling user consumer.",
            discussion: """
                mpmc, msqueue and treiber carry kernel file-creation events (several CPUs
                produce at once). spsc, uring and hashset run the user -> kernel lane
                instead: this process pushes values and a SEC("syscall") program drains
                them in the kernel.
                """
        )

        @Option(help: "Structure: spsc, mpmc, msqueue, treiber, uring, hashset.")
        var structure: String = "mpmc"

        @Flag(name: .shortAndLong, help: "Verify the structure and its pool on exit.")
        var verify = false

        @Option(help: "How long to run.")
        var seconds: Int = 10

        @Option(name: .short, help: "Deprecated: polling is the default; the value is ignored.")
        var d: Int?

        func validate() throws {
            guard ArenaStructureKind(name: structure) != nil else {
                throw ValidationError("unknown structure '\(structure)'; one of: "
                    + ArenaStructureKind.allCases.map(\.description).joined(separator: ", "))
            }
            guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        }

        func run() async throws {
            if d != nil {
                emit("note: -d is deprecated and ignored: the consumer polls by default")
            }
            let kind = ArenaStructureKind(name: structure)!
            switch kind {
            case .mpmc, .msqueue, .treiber: try await runFeed(kind)
            case .spsc, .uring, .hashset: try runLane(kind)
            }
        }

        func runFeed(_ kind: ArenaStructureKind) async throws {
            let feed = try FileCreationFeed(structure: kind)
            defer { feed.close() }
            emit("structure \(kind), hook \(feed.activeHook)")
            for reason in feed.fallbackReasons { emit("  skipped: \(reason)") }
            let deadline = ContinuousClock.now + .seconds(seconds)
            var nextReport = ContinuousClock.now + .seconds(1)
            while ContinuousClock.now < deadline {
                while let event = feed.poll() {
                    emit("\(event.sequence) pid \(event.pid) \(event.command): \(event.path ?? event.name)")
                }
                if ContinuousClock.now >= nextReport {
                    let c = feed.counters
                    emit("-- received \(c.received), published \(c.published), dropped \(c.droppedOnFull), polls \(c.polls)")
                    nextReport = ContinuousClock.now + .seconds(1)
                }
                await Task.yield()
            }
            if verify {
                // Exact: queued, free and parked nodes add up to the whole pool.
                let held = try feed.verify()
                emit("verify: \(kind) consistent, \(held) events still queued, every pool node accounted for")
            }
        }

        func runLane(_ kind: ArenaStructureKind) throws {
            let lane = try KernelLane(kind: kind, capacity: kind == .hashset ? 1 << 20 : 4096)
            emit("structure \(kind): user -> kernel lane, drained by SEC(\"syscall\") lane_drain")
            let deadline = ContinuousClock.now + .seconds(seconds)
            var pushed: UInt64 = 0
            var checksum: UInt64 = 0
            var key: UInt64 = 1
            while ContinuousClock.now < deadline {
                // Fill, then let the kernel consumer take everything.
                var batch: UInt64 = 0
                let first = key
                // Removed hash-set keys leave tombstones that are never reused
                // (arena_hashset.h): stop at half the slots, before probes grow long.
                let limit: UInt64 = kind == .hashset ? 1 << 19 : .max
                while batch < 2048 && key <= limit {
                    if !(try pushUnlessFull(lane.structure, key)) { break }
                    checksum &+= key
                    key += 1
                    batch += 1
                }
                if batch == 0 {
                    emit("\(kind) accepts no more values; stopping")
                    break
                }
                pushed += batch
                if kind == .hashset { lane.announceKeys(first: first, count: batch) }
                try lane.drain()
                if kind == .uring { while try lane.structure.reap() != nil {} }
            }
            let totals = lane.totals
            emit("pushed \(pushed), kernel consumed \(totals.consumed) in \(totals.runs) runs, checksum "
                + (totals.checksum == checksum ? "matches" : "MISMATCH"))
            if verify {
                let held = try lane.structure.verify()
                emit("verify: \(kind) consistent, \(held) values held")
            }
            if totals.consumed != pushed || totals.checksum != checksum { throw ExitCode(1) }
        }

        /// False when the structure is full; other failures propagate.
        func pushUnlessFull(_ structure: ArenaStructure, _ value: UInt64) throws -> Bool {
            do {
                try structure.push(value)
                return true
            } catch ArenaError.full {
                return false
            }
        }
    }
}

/// `ermfs-tool watch [DIR] [--hook auto|lsm|fentry|tracepoint] [--pid PID]`: live file creations.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print file creations as the kernel reports them through the BPF arena.",
        discussion: """
            Each line ends with the path as given to the creating call (tracepoint hook) or
            the new entry's name (lsm, fentry: they see the inode, not the call). DIR
            filters on that path (absolute paths match an absolute DIR), so it needs the
            tracepoint hook. --pid takes a process id as this command's own pid namespace
            sees it, so it works inside a container.
            """
    )

    @Argument(help: "Only paths starting with this one.")
    var directory: String?

    @Option(help: "auto, lsm, fentry or tracepoint.")
    var hook: String = "auto"

    @Option(help: "Only creations by this process (an id in this command's pid namespace).")
    var pid: Int32?

    func validate() throws {
        guard hook == "auto" || FileCreationHook(rawValue: hook) != nil else {
            throw ValidationError("--hook must be auto, lsm, fentry or tracepoint")
        }
        if let pid, pid <= 0 { throw ValidationError("--pid must be a positive process id") }
    }

    func run() async throws {
        let choice: FileCreationFeed.HookChoice = hook == "auto" ? .auto : .only(FileCreationHook(rawValue: hook)!)
        let feed = try FileCreationFeed(hook: choice, process: pid)
        defer { feed.close() }
        if directory != nil && feed.activeHook != .tracepoint {
            throw ValidationError(
                "DIR filters on paths, which only the tracepoint hook reports (active: \(feed.activeHook)); use --hook tracepoint")
        }
        emit("watching with \(feed.activeHook); Ctrl-C stops")
        // A live tool mostly waits: spin briefly, then block on the doorbell instead of
        // holding a core (no system call per event while events keep coming).
        while true {
            guard let event = feed.next(spinningFor: .microseconds(50), timeout: .seconds(1)) else { continue }
            if let directory, !(event.path ?? "").hasPrefix(directory) { continue }
            emit("\(event.timestampNanoseconds) pid \(event.pid) \(event.command) mode \(String(event.mode, radix: 8)): \(event.path ?? event.name)")
        }
    }
}
