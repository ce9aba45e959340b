import ArgumentParser
import ErmCompress
import ErmCore
import Foundation
import SystemPackage

/// `ermfs-tool demo [DIR ...]`: import a tree into an in-process ERMFS (every file is
/// compressed when closed), reopen and verify every byte, and compare with tmpfs.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Import a directory tree into ERMFS, verify every file, compare with tmpfs.",
        discussion: """
            Without DIR, imports an embedded default present on any machine: this
            repository's own sources (when the tool runs from its build tree) and /usr/include.
            Exits non-zero if any file does not read back byte for byte.
            """
    )

    @Argument(help: "Directories to import (default: the repository's sources and /usr/include).")
    var directories: [String] = []

    @OptionGroup var storage: StorageOptions

    @Option(name: .customLong("chunk-kib"), help: "Size of the independently compressed chunks, in KiB.")
    var chunkKiB: Int = 128

    @Option(name: .customLong("tmpfs"), help: "tmpfs directory for the side-by-side baseline ('none' skips it).")
    var tmpfsParent: String = "/dev/shm"

    func validate() throws {
        try storage.validate()
        guard (4...4096).contains(chunkKiB) else { throw ValidationError("--chunk-kib must be 4...4096") }
    }

    func run() throws {
        let roots = directories.isEmpty ? Self.defaultRoots() : directories
        let skip: (String) -> Bool = directories.isEmpty
            ? { $0 == ".git" || $0.hasPrefix(".build") || $0 == ".swiftpm" }
            : { _ in false }
        // Everything that can be checked before the (long) import is checked first.
        if tmpfsParent != "none" { try TmpfsRun.checkParent(tmpfsParent) }
        print("ermfs-tool demo: importing \(roots.joined(separator: ", "))")
        let corpus = try Corpus.load(roots: roots, skipDirectories: skip)
        for path in corpus.skipped.prefix(5) { print("  skipped \(path)") }
        if corpus.skipped.count > 5 { print("  skipped \(corpus.skipped.count - 5) more entries (links or special files)") }

        var configuration = ErmFS.Configuration(chunkSize: chunkKiB * 1024)
        storage.apply(to: &configuration)
        print("locking: \(configuration.locking)")
        let ermfs = try ErmfsRun.run(corpus, configuration: configuration)
        let tmpfs = tmpfsParent == "none" ? nil : try Self.runTmpfsBaseline(corpus, under: tmpfsParent)

        let logical = corpus.totalBytes
        let stats = ermfs.statistics
        var rows: [[String]] = [[
            "", "files", "logical", "stored", "ratio", "write+close", "open+read", "memory held",
        ]]
        rows.append([
            "ERMFS (\(storage.backend) -\(storage.compressionLevel.rawValue), \(chunkKiB) KiB\(storage.background ? ", background" : ""))",
            "\(stats.files)", formatBytes(stats.logicalBytes),
            formatBytes(stats.storedBytes), String(format: "%.3f", stats.ratio),
            formatRate(bytes: logical, seconds: ermfs.writeSeconds),
            formatRate(bytes: logical, seconds: ermfs.readSeconds),
            "\(formatBytes(ermfs.allocatorReserved)) mapped, RSS +\(formatBytes(ermfs.residentGrowth))",
        ])
        if let tmpfs {
            rows.append([
                "tmpfs (\(tmpfsParent))", "\(corpus.files.count)", formatBytes(logical), formatBytes(tmpfs.bytesOnDisk),
                String(format: "%.3f", Double(tmpfs.bytesOnDisk) / Double(max(logical, 1))),
                formatRate(bytes: logical, seconds: tmpfs.writeSeconds),
                formatRate(bytes: logical, seconds: tmpfs.readSeconds),
                "\(formatBytes(tmpfs.bytesOnDisk)) in pages",
            ])
        }
        print("")
        printTable(rows)
        print("")
        let failures = ermfs.mismatches + (tmpfs?.mismatches ?? [])
        let verified = corpus.files.count - ermfs.mismatches.count
        print("verified \(verified)/\(corpus.files.count) files byte for byte after reopening")
        if !failures.isEmpty {
            for path in failures.prefix(20) { print("MISMATCH \(path)") }
            throw ExitCode(1)
        }
        if stats.logicalBytes != logical || stats.files != corpus.files.count {
            print("STATISTICS MISMATCH: ERMFS reports \(stats.files) files / \(stats.logicalBytes) bytes, imported \(corpus.files.count) / \(logical)")
            throw ExitCode(1)
        }
    }

    /// The tmpfs baseline, with SIGINT/SIGTERM/SIGHUP caught while its copy exists: a
    /// signal stops it between files, the copy is removed, and the demo exits 128+n (as
    /// the signal would have made it), instead of dying with the copy left in tmpfs.
    static func runTmpfsBaseline(_ corpus: Corpus, under parent: String) throws -> TmpfsRun {
        let catcher = try SignalCatcher([SIGINT, SIGTERM, SIGHUP])
        let run = Result { try TmpfsRun.run(corpus, under: parent, interrupted: { catcher.caughtSignal != nil }) }
        catcher.restore()
        if let signal = catcher.caughtSignal {
            FileHandle.standardError.write(Data("interrupted by signal \(signal): tmpfs copy removed\n".utf8))
            throw ExitCode(128 + signal)
        }
        return try run.get()
    }

    static func defaultRoots() -> [String] {
        // This file lives at <repository>/Tools/Sources/ermfs-tool/; use the repository when it is still there.
        var repository = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { repository.deleteLastPathComponent() }
        var roots: [String] = []
        if FileManager.default.fileExists(atPath: repository.appendingPathComponent("Packages").path) {
            roots.append(repository.path)
        }
        roots.append("/usr/include")
        return roots
    }
}

/// The corpus written into and read back from an in-process ERMFS.
struct ErmfsRun {
    var writeSeconds = 0.0
    var readSeconds = 0.0
    var mismatches: [String] = []
    var statistics: ErmFS.Statistics
    var allocatorReserved = 0
    var residentGrowth = 0

    static func run(_ corpus: Corpus, configuration: ErmFS.Configuration) throws -> ErmfsRun {
        let fs = try ErmFS(configuration: configuration)
        let rssBefore = residentBytes()
        var progress = ProgressBar(title: "import", total: corpus.totalBytes)

        let start = monotonicSeconds()
        try fs.makeDirectories(of: corpus)
        var done = 0
        for file in corpus.files {
            try file.bytes.withUnsafeBytes { try fs.storeFile(file.path, $0, permissions: file.permissions) }
            done += file.bytes.count
            progress.update(done)
        }
        // Background mode: the compressions still queued count in write+close.
        fs.waitForBackgroundCompression()
        let writeSeconds = monotonicSeconds() - start
        progress.finish()

        var result = ErmfsRun(statistics: fs.statistics)
        result.writeSeconds = writeSeconds
        result.allocatorReserved = result.statistics.allocator.bytesReserved
        result.residentGrowth = max(0, residentBytes() - rssBefore)

        var verify = ProgressBar(title: "verify", total: corpus.totalBytes)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        done = 0
        let readStart = monotonicSeconds()
        for file in corpus.files {
            if buffer.count < file.bytes.count + 1 { buffer = [UInt8](repeating: 0, count: file.bytes.count + 1) }
            let fd = try fs.open(file.path, .readOnly)
            var total = 0
            while true {
                let n = try buffer.withUnsafeMutableBytes { try fs.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[total...])) }
                if n == 0 { break }
                total += n
            }
            try fs.close(fd)
            if !bytesEqual(buffer, file.bytes, count: total) { result.mismatches.append(file.path) }
            done += file.bytes.count
            verify.update(done)
        }
        result.readSeconds = monotonicSeconds() - readStart
        verify.finish()
        return result
    }
}
