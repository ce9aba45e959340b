// Churn benchmark: creates, grows (in appends), shrinks and deletes buffers of random sizes
// 0–1 MiB while keeping a steady population alive, then reports peak RSS ÷ peak live bytes.
// One backend per process, so resident memory of one never mixes with another's; the same
// seed makes every backend perform exactly the same operations.
//
//   ermalloc-churn erm|erm-populate|array|malloc [--buffers N] [--live N] [--max-size BYTES] [--seed N]
import CErmAlloc
import ErmAlloc
import Glibc

struct Options {
  var backend = ""
  var buffers = 100_000       // buffers created over the run
  var live = 2_000            // population kept alive
  var maxSize = 1 << 20
  var seed: UInt64 = 1

  init(_ arguments: [String]) {
    var rest = arguments.dropFirst()
    guard let backend = rest.popFirst(), ["erm", "erm-populate", "array", "malloc"].contains(backend) else {
      Self.usage()
    }
    self.backend = backend
    while let flag = rest.popFirst() {
      guard let text = rest.popFirst(), let value = Int(text), value >= 0 else { Self.usage() }
      switch flag {
      case "--buffers": buffers = value
      case "--live": live = max(1, value)
      case "--max-size": maxSize = value
      case "--seed": seed = UInt64(value)
      default: Self.usage()
      }
    }
  }

  static func usage() -> Never {
    let text = "usage: ermalloc-churn erm|erm-populate|array|malloc [--buffers N] [--live N] [--max-size BYTES] [--seed N]\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
  }
}

struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// What each backend must do; the driver below decides identically for all of them.
protocol ChurnStore {
  mutating func create() -> Int                       // returns a handle
  mutating func append(_ handle: Int, _ bytes: UnsafeRawBufferPointer)
  mutating func truncate(_ handle: Int, to count: Int)
  mutating func delete(_ handle: Int)
  func byte(_ handle: Int, at offset: Int) -> UInt8
}

/// ErmAlloc: one ExtentBuffer per file, grown by resize (mremap) then written;
/// `populating` prefaults each appended range with one madvise call.
struct ErmStore: ChurnStore {
  let populating: Bool
  var buffers: [ExtentBuffer?] = []
  mutating func create() -> Int {
    buffers.append(try! ExtentBuffer())
    return buffers.count - 1
  }
  mutating func append(_ handle: Int, _ bytes: UnsafeRawBufferPointer) {
    let buffer = buffers[handle]!
    let old = buffer.count
    try! buffer.resize(to: old + bytes.count, populating: populating)
    (buffer.baseAddress! + old).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
  }
  mutating func truncate(_ handle: Int, to count: Int) { try! buffers[handle]!.resize(to: count) }
  mutating func delete(_ handle: Int) { buffers[handle] = nil }
  func byte(_ handle: Int, at offset: Int) -> UInt8 {
    buffers[handle]!.baseAddress!.load(fromByteOffset: offset, as: UInt8.self)
  }
}

/// The naive Swift way: one growing [UInt8] per file (append copies on reallocation,
/// removeLast keeps the capacity).
struct ArrayStore: ChurnStore {
  var arrays: [[UInt8]?] = []
  mutating func create() -> Int {
    arrays.append([])
    return arrays.count - 1
  }
  mutating func append(_ handle: Int, _ bytes: UnsafeRawBufferPointer) {
    arrays[handle]!.append(contentsOf: bytes)
  }
  mutating func truncate(_ handle: Int, to count: Int) {
    arrays[handle]!.removeLast(arrays[handle]!.count - count)
  }
  mutating func delete(_ handle: Int) { arrays[handle] = nil }
  func byte(_ handle: Int, at offset: Int) -> UInt8 { arrays[handle]![offset] }
}

/// C heap: realloc on every append and truncation, free on delete (glibc malloc).
struct MallocStore: ChurnStore {
  var blocks: [(UnsafeMutableRawPointer?, Int)] = []
  mutating func create() -> Int {
    blocks.append((nil, 0))
    return blocks.count - 1
  }
  mutating func append(_ handle: Int, _ bytes: UnsafeRawBufferPointer) {
    let (old, count) = blocks[handle]
    let new = realloc(old, count + bytes.count)!
    (new + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    blocks[handle] = (new, count + bytes.count)
  }
  mutating func truncate(_ handle: Int, to count: Int) {
    let (old, _) = blocks[handle]
    if count == 0 {
      free(old)
      blocks[handle] = (nil, 0)
    } else {
      blocks[handle] = (realloc(old, count)!, count)
    }
  }
  mutating func delete(_ handle: Int) {
    free(blocks[handle].0)
    blocks[handle] = (nil, 0)
  }
  func byte(_ handle: Int, at offset: Int) -> UInt8 {
    blocks[handle].0!.load(fromByteOffset: offset, as: UInt8.self)
  }
}

struct Result {
  var peakLive = 0
  var operations = 0
  var checksum: UInt64 = 0
}

/// Files grow by appends of 4–64 KiB (like write(2) calls); 45% of the steps on a full
/// population grow a file, 25% truncate one, 30% delete one (and a new one is created).
func churn<S: ChurnStore>(_ store: inout S, _ options: Options) -> Result {
  var random = SplitMix64(state: options.seed)
  let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
  for i in 0..<chunk.count { chunk[i] = UInt8(truncatingIfNeeded: i &* 131) }
  defer { chunk.deallocate() }

  var liveHandles: [Int] = []
  var sizes: [Int: Int] = [:]
  var live = 0
  var result = Result()
  var created = 0

  func grow(_ handle: Int, to target: Int) {
    var size = sizes[handle]!
    while size < target {
      let step = min(target - size, Int.random(in: 4096...chunk.count, using: &random))
      store.append(handle, UnsafeRawBufferPointer(rebasing: chunk[..<step]))
      size += step
      live += step
      result.peakLive = max(result.peakLive, live)
    }
    sizes[handle] = size
  }

  while created < options.buffers {
    result.operations += 1
    if liveHandles.count < options.live {
      let handle = store.create()
      created += 1
      sizes[handle] = 0
      liveHandles.append(handle)
      grow(handle, to: Int.random(in: 0...options.maxSize, using: &random))
      continue
    }
    let position = Int.random(in: 0..<liveHandles.count, using: &random)
    let handle = liveHandles[position]
    let size = sizes[handle]!
    switch Int.random(in: 0..<100, using: &random) {
    case 0..<45 where size < options.maxSize:
      grow(handle, to: Int.random(in: (size + 1)...options.maxSize, using: &random))
    case 45..<70 where size > 0:
      let target = Int.random(in: 0..<size, using: &random)
      store.truncate(handle, to: target)
      live -= size - target
      sizes[handle] = target
    default:
      store.delete(handle)
      live -= size
      sizes[handle] = nil
      liveHandles.swapAt(position, liveHandles.count - 1)
      liveHandles.removeLast()
    }
  }
  // Proves every backend ended with the same contents (and keeps the work observable).
  for handle in liveHandles.sorted() {
    let size = sizes[handle]!
    if size > 0 {
      result.checksum = result.checksum &* 31 &+ UInt64(store.byte(handle, at: size - 1))
      result.checksum = result.checksum &* 31 &+ UInt64(store.byte(handle, at: size / 2))
    }
  }
  return result
}

let options = Options(CommandLine.arguments)
let startRSS = erm_process_resident_bytes()
let clock = ContinuousClock()
let start = clock.now
let result: Result
switch options.backend {
case "erm", "erm-populate":
  var store = ErmStore(populating: options.backend == "erm-populate")
  result = churn(&store, options)
case "array":
  var store = ArrayStore()
  result = churn(&store, options)
default:
  var store = MallocStore()
  result = churn(&store, options)
}
let elapsed = clock.now - start
let peakRSS = erm_process_peak_resident_bytes()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
/// `value` with three decimals, without Foundation.
func decimal(_ value: Double) -> String {
  let thousandths = Int((value * 1000).rounded())
  let fraction = String(thousandths % 1000)
  return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
func ratio(_ a: Int, _ b: Int) -> String { decimal(Double(a) / Double(max(b, 1))) }
var line = "backend=\(options.backend) buffers=\(options.buffers) live=\(options.live) seed=\(options.seed)"
line += " operations=\(result.operations) peak_live_bytes=\(result.peakLive) start_rss_bytes=\(startRSS)"
line += " peak_rss_bytes=\(peakRSS) rss_per_live=\(ratio(peakRSS, result.peakLive))"
line += " rss_minus_start_per_live=\(ratio(peakRSS - startRSS, result.peakLive))"
line += " seconds=\(decimal(seconds)) checksum=\(result.checksum)"
if options.backend.hasPrefix("erm") {
  line += " mapping_calls=\"\(PageAllocator.shared.mappingCallCounts)\""
}
print(line)
