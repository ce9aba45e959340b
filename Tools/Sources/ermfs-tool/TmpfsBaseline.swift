import Foundation

/// The same corpus written to and read back from real tmpfs files with plain POSIX calls:
/// the baseline ERMFS is compared against in the same run.
struct TmpfsRun {
    var writeSeconds = 0.0
    var readSeconds = 0.0
    var mismatches: [String] = []
    var bytesOnDisk = 0   // sum of st_blocks * 512: what tmpfs holds in memory

    /// Thrown when `interrupted` says stop; the tmpfs copy is gone by then.
    struct Interrupted: Error {}

    /// Checks that `parent` can hold the baseline (an existing, writable directory), so a
    /// bad `--tmpfs` fails before the long import instead of after it.
    /// The corresponding C functions are `stat` and `access(W_OK|X_OK)`.
    static func checkParent(_ parent: String) throws {
        var info = stat()
        guard stat(parent, &info) == 0 else {
            throw ToolError("--tmpfs \(parent): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw ToolError("--tmpfs \(parent): not a directory") }
        guard access(parent, W_OK | X_OK) == 0 else {
            throw ToolError("--tmpfs \(parent): \(String(cString: strerror(errno)))")
        }
    }

    /// Copies `corpus` into a fresh directory under `parent`, reads it back, measures, and
    /// removes the copy (also when it throws). `interrupted` is asked between files: when
    /// it says true the copy is removed and ``Interrupted`` thrown.
    static func run(_ corpus: Corpus, under parent: String = "/dev/shm",
                    interrupted: () -> Bool = { false }) throws -> TmpfsRun {
        var template = Array("\(parent)/ermfs-demo-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ToolError("mkdtemp under \(parent): \(String(cString: strerror(errno)))")
        }
        let base = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: base) }
        var result = TmpfsRun()

        let start = monotonicSeconds()
        for directory in corpus.directories {
            if interrupted() { throw Interrupted() }
            guard mkdir(base + directory.path, 0o755) == 0 else {
                throw ToolError("tmpfs mkdir \(directory.path): \(String(cString: strerror(errno)))")
            }
        }
        for file in corpus.files {
            if interrupted() { throw Interrupted() }
            let fd = open(base + file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw ToolError("tmpfs open \(file.path): \(String(cString: strerror(errno)))") }
            let written = file.bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == file.bytes.count else { throw ToolError("tmpfs write \(file.path): short write") }
        }
        result.writeSeconds = monotonicSeconds() - start

        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let readStart = monotonicSeconds()
        for file in corpus.files {
            if interrupted() { throw Interrupted() }
            let fd = open(base + file.path, O_RDONLY)
            guard fd >= 0 else { result.mismatches.append(file.path); continue }
            if buffer.count < file.bytes.count + 1 { buffer = [UInt8](repeating: 0, count: file.bytes.count + 1) }
            var total = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
                if n <= 0 { break }
                total += n
            }
            close(fd)
            if !bytesEqual(buffer, file.bytes, count: total) { result.mismatches.append(file.path) }
        }
        result.readSeconds = monotonicSeconds() - readStart

        for file in corpus.files {
            var info = stat()
            if stat(base + file.path, &info) == 0 { result.bytesOnDisk += Int(info.st_blocks) * 512 }
        }
        return result
    }
}
