import ErmCompress
import Foundation

/// Command line of ermcompress-bench.
struct Options {
  var corpora: [String] = []
  var runs = 3
  var chunkSize = ChunkedGzip.defaultChunkSize
  /// (backend, level) pairs of the codec table.
  var configs: [(GzipBackend, CompressionLevel)] = Options.parseConfigs(
    "zlib:1,6,9;isal:0,1,2,3;libdeflate:1,4,6,9,12")!
  /// Writers whose output every decoder reads in the decoder table.
  var decoderWriters: [(GzipBackend, CompressionLevel)] = Options.parseConfigs("zlib:6;isal:1;libdeflate:6")!
  var chunkSweep: [Int] = [64 << 10, 128 << 10, 256 << 10]
  /// The (backend, level) the chunk-size sweep uses.
  var sweepConfig: (GzipBackend, CompressionLevel) = (.isal, .fastest)
  var tools = true
  /// Workers of the pool used for "pool" columns; nil for WorkerPool.shared.
  var poolThreads: Int? = nil
  /// Stop repeating a measurement once this many seconds went into it (slow levels).
  var budgetSeconds = 8.0

  static let usageText = """
    usage: ermcompress-bench CORPUS... [--runs N] [--chunk-size BYTES]
             [--configs 'zlib:1,6;isal:1;libdeflate:6'] [--decoders 'isal:1;zlib:6']
             [--sweep isal:1] [--sweep-sizes 65536,131072] [--budget SECONDS] [--no-tools]
             [--pool-threads N]
    """

  init(_ arguments: [String]) {
    var rest = arguments.dropFirst()
    func value() -> String {
      guard let v = rest.popFirst() else { Options.usage() }
      return v
    }
    while let argument = rest.popFirst() {
      switch argument {
      case "--runs": runs = Int(value()) ?? 0
      case "--chunk-size": chunkSize = Int(value()) ?? 0
      case "--configs": configs = Options.parseConfigs(value()) ?? []
      case "--decoders": decoderWriters = Options.parseConfigs(value()) ?? []
      case "--sweep":
        guard let one = Options.parseConfigs(value())?.first else { Options.usage() }
        sweepConfig = one
      case "--sweep-sizes": chunkSweep = value().split(separator: ",").compactMap { Int($0) }
      case "--budget": budgetSeconds = Double(value()) ?? 0
      case "--no-tools": tools = false
      case "--pool-threads": poolThreads = Int(value()) ?? 0
      case "-h", "--help": Options.usage()
      default: corpora.append(argument)
      }
    }
    if corpora.isEmpty || runs < 1 || configs.isEmpty || budgetSeconds <= 0
      || !ChunkedGzip.supportedChunkSizes.contains(chunkSize) || (poolThreads ?? 1) < 1 {
      Options.usage()
    }
  }

  /// "zlib:1,6;isal:1" -> [(zlib,1), (zlib,6), (isal,1)]; nil when malformed or out of range.
  static func parseConfigs(_ text: String) -> [(GzipBackend, CompressionLevel)]? {
    var result: [(GzipBackend, CompressionLevel)] = []
    for part in text.split(separator: ";") {
      let pieces = part.split(separator: ":")
      guard pieces.count == 2, let backend = GzipBackend(name: String(pieces[0])) else { return nil }
      for levelText in pieces[1].split(separator: ",") {
        guard let raw = Int32(levelText), backend.levels.contains(raw),
              let level = CompressionLevel(rawValue: raw) else { return nil }
        result.append((backend, level))
      }
    }
    return result
  }

  static func usage() -> Never {
    FileHandle.standardError.write(Data((usageText + "\n").utf8))
    exit(2)
  }
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("ermcompress-bench: \(message)\n".utf8))
  exit(1)
}
