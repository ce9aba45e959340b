import Foundation

/// One regular file of the corpus, read into memory before anything is timed, so the
/// ERMFS and tmpfs runs measure the file systems and not the source disk.
struct CorpusFile {
    /// Path inside the file system under test, absolute, e.g. `/include/stdio.h`.
    var path: String
    var bytes: [UInt8]
}

/// A directory tree loaded into memory.
struct Corpus {
    var directories: [String] = []   // parents before children
    var files: [CorpusFile] = []
    var skipped: [String] = []       // symlinks, sockets, unreadable files: named, never silently dropped
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes.count } }

    /// Loads every regular file under each root. Root `i` appears as `/<its last component>`
    /// (made unique), so several trees can be imported side by side.
    /// `skipDirectories` names directories left out (the embedded default skips build output).
    static func load(roots: [String], skipDirectories: (String) -> Bool = { _ in false }) throws -> Corpus {
        var corpus = Corpus()
        var usedNames = Set<String>()
        for root in roots {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
                throw ToolError("no such directory: \(root)")
            }
            guard isDirectory.boolValue else { throw ToolError("not a directory: \(root)") }
            let rootURL = URL(fileURLWithPath: root).standardizedFileURL
            var name = rootURL.lastPathComponent.isEmpty || rootURL.lastPathComponent == "/"
                ? "root" : rootURL.lastPathComponent
            let base = name
            var suffix = 2
            while usedNames.contains(name) { name = "\(base)-\(suffix)"; suffix += 1 }
            usedNames.insert(name)
            corpus.directories.append("/" + name)
            try corpus.walk(rootURL, as: "/" + name, skipDirectories: skipDirectories)
        }
        return corpus
    }

    private mutating func walk(_ directory: URL, as mountedPath: String, skipDirectories: (String) -> Bool) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            skipped.append(directory.path + " (unreadable directory)")
            return
        }
        for name in names {
            let source = directory.appendingPathComponent(name)
            let target = mountedPath + "/" + name
            var info = stat()
            guard lstat(source.path, &info) == 0 else {
                skipped.append(source.path + " (lstat: \(String(cString: strerror(errno))))")
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if skipDirectories(name) { continue }
                directories.append(target)
                try walk(source, as: target, skipDirectories: skipDirectories)
            case S_IFREG:
                guard let data = FileManager.default.contents(atPath: source.path) else {
                    skipped.append(source.path + " (unreadable)")
                    continue
                }
                files.append(CorpusFile(path: target, bytes: [UInt8](data)))
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
