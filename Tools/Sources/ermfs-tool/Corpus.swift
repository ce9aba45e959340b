import Foundation
import SystemPackage

/// One regular file of the corpus, read into memory before anything is timed, so the
/// ERMFS and tmpfs runs measure the file systems and not the source disk.
struct CorpusFile {
    /// Path inside the file system under test, absolute, e.g. `/include/stdio.h`.
    var path: String
    var bytes: [UInt8]
    /// The source's permission bits, kept in ERMFS.
    var permissions: FilePermissions
}

/// One directory of the corpus: its path inside the file system under test and the
/// source's permission bits.
struct CorpusDirectory {
    var path: String
    var permissions: FilePermissions
}

/// A directory tree loaded into memory.
struct Corpus {
    var directories: [CorpusDirectory] = []   // parents before children
    var files: [CorpusFile] = []
    var skipped: [String] = []       // symlinks, sockets, unreadable entries (with the reason): named, never silently dropped
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes.count } }

    /// Loads every regular file under each root. Root `i` appears as `/<its last component>`
    /// (made unique), so several trees can be imported side by side.
    /// `skipDirectories` names directories left out (the embedded default skips build output).
    /// `interrupted` is asked before each entry; when it says true, loading stops.
    /// - Throws: when a root is missing, not a directory, or cannot be read (with the
    ///   reason): importing nothing from it is never a success. ``Interrupted`` when
    ///   `interrupted` said stop.
    static func load(roots: [String], skipDirectories: (String) -> Bool = { _ in false },
                     interrupted: () -> Bool = { false }) throws -> Corpus {
        var corpus = Corpus()
        var usedNames = Set<String>()
        for root in roots {
            var info = stat()
            guard stat(root, &info) == 0 else {
                if errno == ENOENT { throw ToolError("no such directory: \(root)") }
                throw ToolError("cannot read \(root): \(Errno(rawValue: errno).text)")
            }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw ToolError("not a directory: \(root)") }
            let names: [String]
            do throws(Errno) {
                names = try HostFile.names(inDirectory: root)
            } catch {
                throw ToolError("cannot read \(root): \(error.text)")
            }
            let rootURL = URL(fileURLWithPath: root).standardizedFileURL
            var name = rootURL.lastPathComponent.isEmpty || rootURL.lastPathComponent == "/"
                ? "root" : rootURL.lastPathComponent
            let base = name
            var suffix = 2
            while usedNames.contains(name) { name = "\(base)-\(suffix)"; suffix += 1 }
            usedNames.insert(name)
            corpus.directories.append(CorpusDirectory(path: "/" + name, permissions: Self.permissions(info)))
            corpus.add(names, of: rootURL, as: "/" + name, skipDirectories: skipDirectories,
                       interrupted: interrupted)
            if corpus.stopped { throw Interrupted() }
        }
        return corpus
    }

    /// Thrown by ``load(roots:skipDirectories:interrupted:)`` when told to stop.
    struct Interrupted: Error {}
    private var stopped = false

    private static func permissions(_ info: stat) -> FilePermissions {
        FilePermissions(rawValue: CModeT(info.st_mode & 0o7777))
    }

    private mutating func walk(_ directory: URL, as mountedPath: String, skipDirectories: (String) -> Bool,
                               interrupted: () -> Bool) {
        do throws(Errno) {
            add(try HostFile.names(inDirectory: directory.path), of: directory, as: mountedPath,
                skipDirectories: skipDirectories, interrupted: interrupted)
        } catch {
            skipped.append(directory.path + " (unreadable directory: \(error.text))")
        }
    }

    private mutating func add(_ names: [String], of directory: URL, as mountedPath: String,
                              skipDirectories: (String) -> Bool, interrupted: () -> Bool) {
        for name in names {
            if stopped || interrupted() {
                stopped = true
                return
            }
            let source = directory.appendingPathComponent(name)
            let target = mountedPath + "/" + name
            var info = stat()
            guard lstat(source.path, &info) == 0 else {
                skipped.append(source.path + " (lstat: \(Errno(rawValue: errno).text))")
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if skipDirectories(name) { continue }
                directories.append(CorpusDirectory(path: target, permissions: Self.permissions(info)))
                walk(source, as: target, skipDirectories: skipDirectories, interrupted: interrupted)
            case S_IFREG:
                do throws(Errno) {
                    let file = try HostFile.read(source.path)
                    files.append(CorpusFile(path: target, bytes: file.bytes, permissions: file.permissions))
                } catch {
                    skipped.append(source.path + " (\(error.text))")
                }
            case S_IFLNK:
                skipped.append(source.path + " (symbolic link, not followed)")
            default:
                skipped.append(source.path + " (not a regular file)")
            }
        }
    }
}

struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
