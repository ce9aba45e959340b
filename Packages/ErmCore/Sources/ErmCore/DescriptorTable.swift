import Synchronization
import SystemPackage

/// Maps descriptor numbers to open file descriptions.
///
/// A seam (swift-nio style): ErmFS only talks to this protocol, so a lock-free table can
/// replace `LockedDescriptorTable` without touching callers.
protocol DescriptorTable: Sendable {
  /// Installs `file` under the lowest free number.
  ///
  /// - Throws: EMFILE when every number below the limit is taken.
  func insert(_ file: OpenFile) throws(Errno) -> Int32
  /// The description behind `descriptor`, if open.
  func file(for descriptor: Int32) -> OpenFile?
  /// Removes and returns the description behind `descriptor`, if open.
  func remove(_ descriptor: Int32) -> OpenFile?
  /// Number of open descriptors.
  var count: Int { get }
}

/// A descriptor table behind one mutex: an array indexed by descriptor number, and a
/// hint below which no slot is free (so finding the lowest free number is amortised O(1)).
final class LockedDescriptorTable: DescriptorTable {
  private struct Slots {
    var files: [OpenFile?] = []
    var lowestMaybeFree = 0
    var count = 0
  }

  private let limit: Int
  private let slots = Mutex(Slots())

  init(limit: Int) { self.limit = limit }

  func insert(_ file: OpenFile) throws(Errno) -> Int32 {
    try slots.withLock { (slots) throws(Errno) -> Int32 in
      var number = slots.lowestMaybeFree
      while number < slots.files.count, slots.files[number] != nil { number += 1 }
      guard number < limit else {
        slots.lowestMaybeFree = number
        throw .tooManyOpenFiles
      }
      if number == slots.files.count {
        slots.files.append(file)
      } else {
        slots.files[number] = file
      }
      slots.lowestMaybeFree = number + 1
      slots.count += 1
      return Int32(number)
    }
  }

  func file(for descriptor: Int32) -> OpenFile? {
    slots.withLock { slots in
      let number = Int(descriptor)
      guard number >= 0, number < slots.files.count else { return nil }
      return slots.files[number]
    }
  }

  func remove(_ descriptor: Int32) -> OpenFile? {
    slots.withLock { slots in
      let number = Int(descriptor)
      guard number >= 0, number < slots.files.count, let file = slots.files[number] else {
        return nil
      }
      slots.files[number] = nil
      slots.count -= 1
      slots.lowestMaybeFree = min(slots.lowestMaybeFree, number)
      // Keep the array from holding a long tail of empty slots after a burst.
      while let last = slots.files.last, last == nil { slots.files.removeLast() }
      return file
    }
  }

  var count: Int { slots.withLock { $0.count } }
}
