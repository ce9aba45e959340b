/// Slot sizes for blobs. 16-byte steps up to 128, then eight steps per doubling up to
/// 1 MiB (four between 16 and 32 KiB, so classes above 16 KiB are 4 KiB multiples), so a
/// slot wastes at most an eighth of what it holds (a fifth between 16 and 32 KiB; plus
/// < 16 bytes). Compressed files are what fills them: the waste is memory ERMFS holds.
///
/// Two kinds of run: *small* classes keep their free list in the freed slots (and give
/// back only the whole pages inside a freed slot); *page* classes keep it out of band so
/// a freed slot gives every one of its pages back. A class is a page class when its
/// slots are above 16 KiB AND a whole number of pages: with 4 KiB pages that is every
/// class from 20 KiB up; with 16 KiB or 64 KiB pages (arm64 kernels) only the classes
/// that are multiples of the page size, so no `madvise` ever gets an unaligned slot. Every run holds
/// at least 64 slots, so the number of mappings grows with the number of blobs / 64 at
/// most, not one-to-one (vm.max_map_count, see docs/decisions/memory-allocator.md).
/// Blobs above 1 MiB get their own mapping, where page rounding wastes under 0.4%.
enum SizeClasses {
  static let sizes: [Int] = {
    var sizes = Array(stride(from: 16, through: 128, by: 16))
    var base = 128
    while base < largest {
      // Eight steps per doubling where a step is a 16-byte multiple below 16 KiB or a
      // 4 KiB multiple above (so page classes stay whole pages); four from 16 to 32 KiB.
      let steps = base >= largestSmall && base < 2 * largestSmall ? 4 : 8
      for step in 1...steps { sizes.append(base + base * step / steps) }
      base *= 2
    }
    return sizes
  }()

  /// The largest blob kept in a slab; anything bigger is mapped on its own.
  static let largest = 1024 * 1024

  /// The largest slot of a small class; larger slots are whole pages (page classes).
  static let largestSmall = 16 * 1024

  /// Whether slots of this size form a page-class run (out-of-band free list, freed
  /// slots discarded whole, only slots in use counted as reserved).
  static func isPageClass(slotSize: Int, pageSize: Int = PageAllocator.pageSize) -> Bool {
    slotSize > largestSmall && slotSize % pageSize == 0
  }

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

  /// Bytes mapped per slab run of a class: at least 64 slots (small classes also at least
  /// 64 KiB, page classes at least 4 MiB: 204 slots of 20 KiB, 64 of 1 MiB), so one mmap
  /// serves many blobs and the number of mappings is at most the number of blobs / 64
  /// (plus one partly used run per class): 65,530 runs would take over four million
  /// stored files. Untouched slots cost address space only.
  static let slotsPerRunAtLeast = 64

  static func runLength(slotSize: Int, pageSize: Int = PageAllocator.pageSize) -> Int {
    let length = isPageClass(slotSize: slotSize, pageSize: pageSize)
      ? max(4 * 1024 * 1024, slotsPerRunAtLeast * slotSize)
      : max(64 * 1024, slotsPerRunAtLeast * slotSize)
    return (length + pageSize - 1) / pageSize * pageSize
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
  /// Head of the in-band free list (small classes): a freed slot stores the next free
  /// slot's index.
  var freeHead = -1
  /// Free slots of a page-class run, kept out of band so freed slots hold no page.
  var freeSlots: [Int] = []
  /// Page class: slots are whole pages, discarded whole when freed.
  let pageClass: Bool
  /// Position in the class's list of runs with free slots, or -1 while full.
  var partialPosition = -1

  init(base: UnsafeMutableRawPointer, length: Int, slotSize: Int, classIndex: Int) {
    self.base = base
    self.length = length
    self.slotSize = slotSize
    self.slotCount = length / slotSize
    self.classIndex = classIndex
    self.pageClass = SizeClasses.isPageClass(slotSize: slotSize)
  }

  var isFull: Bool { used == slotCount }

  func address(ofSlot slot: Int) -> UnsafeMutableRawPointer {
    base + slot * slotSize
  }

  /// Takes a free slot (the run must not be full).
  func takeSlot() -> Int {
    used += 1
    if pageClass, let slot = freeSlots.popLast() { return slot }
    if freeHead >= 0 {
      let slot = freeHead
      freeHead = address(ofSlot: slot).load(as: Int.self)
      return slot
    }
    bumped += 1
    return bumped - 1
  }

  func returnSlot(_ slot: Int) {
    if pageClass {
      freeSlots.append(slot)
      used -= 1
      return
    }
    address(ofSlot: slot).storeBytes(of: freeHead, as: Int.self)
    freeHead = slot
    used -= 1
  }

  /// The whole pages inside a slot, past its free-list link: what a freed slot can give
  /// back to the OS while the run stays mapped (empty for slots under two pages or so).
  func wholePages(inSlot slot: Int) -> (offset: Int, length: Int)? {
    SizeClasses.wholePages(inSlot: slot, slotSize: slotSize, pageSize: PageAllocator.pageSize)
  }
}

extension SizeClasses {
  /// `SlabRun.wholePages(inSlot:)` for any page size (tested with simulated ones): the
  /// page-aligned part of a slot past its free-list link, as offsets from the run's
  /// (page-aligned) base.
  static func wholePages(inSlot slot: Int, slotSize: Int, pageSize: Int) -> (offset: Int, length: Int)? {
    let start = slot * slotSize + MemoryLayout<Int>.size
    let end = (slot + 1) * slotSize
    let first = (start + pageSize - 1) / pageSize * pageSize
    let last = end / pageSize * pageSize
    return last > first ? (first, last - first) : nil
  }
}
