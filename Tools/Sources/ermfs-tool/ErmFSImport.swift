import ErmCore
import SystemPackage

extension ErmFS {
    /// Creates (or empties) `path`, writes all of `bytes` and closes it: the last close
    /// compresses the file like any other closed ERMFS file. A new file gets
    /// `permissions` (the source's, so a program keeps its execute bits and data does not
    /// gain them).
    func storeFile(_ path: String, _ bytes: UnsafeRawBufferPointer,
                   permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]) throws {
        let fd = try open(path, .writeOnly, options: [.create, .truncate], permissions: permissions)
        do {
            var offset = 0
            while offset < bytes.count {
                offset += try write(fd, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
        } catch {
            try? close(fd)
            throw error
        }
        try close(fd)
    }

    /// Creates every directory of `corpus` (parents come first) with its source's mode.
    func makeDirectories(of corpus: Corpus) throws {
        for directory in corpus.directories {
            try mkdir(directory.path, permissions: directory.permissions)
        }
    }

    /// Stores every file of `corpus` with its source's mode (directories must exist).
    func storeFiles(of corpus: Corpus) throws {
        for file in corpus.files {
            try file.bytes.withUnsafeBytes { try storeFile(file.path, $0, permissions: file.permissions) }
        }
    }
}
