import ErmCore
import SystemPackage

extension ErmFS {
    /// Creates (or empties) `path`, writes all of `bytes` and closes it: the last close
    /// compresses the file like any other closed ERMFS file.
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

    /// Creates every directory of `corpus` (parents come first) with mode 0755.
    func makeDirectories(of corpus: Corpus) throws {
        for directory in corpus.directories {
            try mkdir(directory, permissions: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
        }
    }
}
