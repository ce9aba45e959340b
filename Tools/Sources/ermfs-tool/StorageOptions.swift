import ArgumentParser
import ErmCompress
import ErmCore

/// The options `demo` and `mount` share: how files are compressed, and the core's locking
/// mode.
struct StorageOptions: ParsableArguments {
    @Option(help: "Compressing library: isal (default), libdeflate or zlib.")
    var codec: String = "isal"

    @Option(help: "Compression level (isal 0...3, libdeflate 0...12, zlib 0...9; default: the library's own).")
    var level: Int?

    @Flag(help: "Compress in the background after the last close (close returns at once; up to 256 MiB of plain bytes wait).")
    var background = false

    @Flag(help: "Lock-free namespace and descriptor table (ErmCore's lock-free mode; the default in a Lockless build).")
    var lockless = false

    func validate() throws {
        guard let backend = GzipBackend(name: codec) else {
            throw ValidationError("--codec must be isal, libdeflate or zlib")
        }
        if let level, !backend.levels.contains(Int32(level)) {
            throw ValidationError("--level for \(backend) must be \(backend.levels.lowerBound)...\(backend.levels.upperBound)")
        }
    }

    /// The chosen library (valid after `validate`).
    var backend: GzipBackend { GzipBackend(name: codec)! }

    /// The chosen level, or the library's default.
    var compressionLevel: CompressionLevel {
        level.flatMap { CompressionLevel(rawValue: Int32($0)) } ?? backend.defaultLevel
    }

    /// Sets the library, level, compression timing and locking mode of `configuration`.
    func apply(to configuration: inout ErmFS.Configuration) {
        configuration.backend = backend
        configuration.compressionLevel = compressionLevel
        configuration.compression = background ? .background(maxPendingBytes: 256 << 20) : .onClose
        if lockless { configuration.locking = .lockless }
    }
}
