/// Slot sizes for small blobs. 16-byte steps up to 128, then four steps per doubling up
/// to 16 KiB, so a slot wastes at most a quarter of what it holds (plus < 16 bytes).
/// Larger blobs get their own mapping, where page rounding wastes under a quarter too.
enum SizeClasses {
  static let sizes: [Int] = {
    var sizes = Array(stride(from: 16, through: 128, by: 16))
    var base = 128
    while base < largest {
      for step in 1...4 { sizes.append(base + base * step / 4) }
      base *= 2
    }
    return sizes
  }()

  /// The largest blob kept in a slab; anything bigger is mapped on its own.
  static let largest = 16 * 1024

  /// Index of the smallest class holding `count` (1...largest) bytes.
  static func index(for count: Int) -> Int {
    var low = 0
    var high = sizes.count - 1
    while low < high {
      let mid = (low + high) / 2
      if sizes[mid] >= count { high = mid } else { low = mid + 1 }
    }
    return low
  }

  /// Bytes mapped per slab run of a class: at least 64 KiB and at least 16 slots, so
  /// one mmap serves many blobs and a run's tail waste stays small.
  static func runLength(slotSize: Int) -> Int {
    roundUpToPage(max(64 * 1024, 16 * slotSize))!
  }
}

/// One mapping cut into equal slots. Mutated only under the owning allocator's lock
/// (hence `@unchecked Sendable`); blobs hold a reference to find their run on free.
final class SlabRun: @unchecked Sendable {
  let base: UnsafeMutableRawPointer
  let length: Int
  let slotSize: Int
  let slotCount: Int
  let classIndex: Int
  /// Slots handed out and not yet returned.
  var used = 0
  /// Slots [bumped, slotCount) have never been handed out (still zero pages).
  var bumped = 0
  /// Head of the in-band free list: a freed slot stores the next free slot's index.
  var freeHead = -1
  /// Position in the class's list of runs with free slots, or -1 while full.
  var partialPosition = -1

  init(base: UnsafeMutableRawPointer, length: Int, slotSize: Int, classIndex: Int) {
    self.base = base
    self.length = length
    self.slotSize = slotSize
    self.slotCount = length / slotSize
    self.classIndex = classIndex
  }

  var isFull: Bool { used == slotCount }

  func address(ofSlot slot: Int) -> UnsafeMutableRawPointer {
    base + slot * slotSize
  }

  /// Takes a free slot (the run must not be full).
  func takeSlot() -> Int {
    used += 1
    if freeHead >= 0 {
      let slot = freeHead
      freeHead = address(ofSlot: slot).load(as: Int.self)
      return slot
    }
    bumped += 1
    return bumped - 1
  }

  func returnSlot(_ slot: Int) {
    address(ofSlot: slot).storeBytes(of: freeHead, as: Int.self)
    freeHead = slot
    used -= 1
  }

  /// The whole pages inside a slot, past its free-list link: what a freed slot can give
  /// back to the OS while the run stays mapped (empty for slots under two pages or so).
  func wholePages(inSlot slot: Int) -> (offset: Int, length: Int)? {
    let start = slot * slotSize + MemoryLayout<Int>.size
    let end = (slot + 1) * slotSize
    let first = roundUpToPage(start)!
    let last = end & ~(PageAllocator.pageSize - 1)
    return last > first ? (first, last - first) : nil
  }
}
