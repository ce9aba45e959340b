/// A BPF object file compiled from bpf/*.bpf.c during the build (by the package's
/// build-tool plugin) and embedded in this module; see docs/decisions/bpf-build.md.
public struct EmbeddedBPFObject: Sendable {
  /// The source's stem: `arena_lane` for bpf/arena_lane.bpf.c.
  public let name: String
  let base64: String

  init(name: String, base64: String) {
    self.name = name
    self.base64 = base64
  }

  /// Every object the build produced.
  public static var all: [EmbeddedBPFObject] { [.arenaLane, .fileEvents, .fileEventsRingbuf, .syscallCount] }

  /// The ELF bytes.
  public var bytes: [UInt8] { Self.decodeBase64(base64) }

  // A tiny decoder keeps Foundation out of the library.
  static func decodeBase64(_ text: String) -> [UInt8] {
    var table = [UInt8](repeating: 255, count: 256)
    for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
      table[Int(c)] = UInt8(i)
    }
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count / 4 * 3)
    var accumulator: UInt32 = 0
    var bits = 0
    for c in text.utf8 {
      let v = table[Int(c)]
      if v == 255 { continue }  // '=' padding
      accumulator = accumulator << 6 | UInt32(v)
      bits += 6
      if bits >= 8 {
        bits -= 8
        out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
      }
    }
    return out
  }
}
