import Foundation
import SystemPackage

/// A file of the host, read whole before anything is timed or stored, with the
/// permission bits it had (so ERMFS keeps them: exec needs the execute bits).
struct HostFile {
    var bytes: [UInt8]
    var permissions: FilePermissions

    /// Reads `path` whole, following symbolic links as `cat` does.
    ///
    /// The corresponding C functions are `open`, `fstat` and `read`.
    /// - Throws: the errno of the failing call (ENOENT, EACCES, EISDIR, ...).
    static func read(_ path: String) throws(Errno) -> HostFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Errno(rawValue: errno) }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw .isDirectory }
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0) + 1)
        var count = 0
        while true {
            if count == bytes.count { bytes += [UInt8](repeating: 0, count: bytes.count) }  // it grew
            let n = bytes.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
            if n == 0 { break }
            count += n
        }
        bytes.removeSubrange(count...)
        return HostFile(bytes: bytes, permissions: FilePermissions(rawValue: CModeT(info.st_mode & 0o7777)))
    }

    /// The names in directory `path` (without `.` and `..`), sorted.
    ///
    /// The corresponding C functions are `opendir`, `readdir` and `closedir`.
    /// - Throws: the errno of `opendir` or `readdir` (EACCES, ENOENT, ENOTDIR, ...).
    static func names(inDirectory path: String) throws(Errno) -> [String] {
        guard let directory = opendir(path) else { throw Errno(rawValue: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

extension Errno {
    /// The C library's text for this errno, e.g. "Permission denied" (`strerror`).
    var text: String { String(cString: strerror(rawValue)) }
}
