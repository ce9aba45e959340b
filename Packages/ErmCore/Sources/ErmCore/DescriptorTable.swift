import SystemPackage

/// Maps descriptor numbers to open file descriptions.
///
/// A seam (swift-nio style): ErmFS only talks to this protocol; `LockedDescriptorTable`
/// (locked mode) and `SlotDescriptorTable` (lock-free mode) are interchangeable.
protocol DescriptorTable: Sendable {
  /// Takes the lowest free number for a description that is being opened; `file(for:)`
  /// answers nil for it until `install` (so a failing open never shows a half-made one).
  ///
  /// - Throws: EMFILE when every number below the limit is taken.
  func reserve() throws(Errno) -> Int32
  /// Puts `file` under a number `reserve` returned.
  func install(_ file: OpenFile, at descriptor: Int32)
  /// Gives back a number `reserve` returned, unused.
  func cancel(_ descriptor: Int32)
  /// The description behind `descriptor`, if open.
  func file(for descriptor: Int32) -> OpenFile?
  /// Removes and returns the description behind `descriptor`, if open.
  func remove(_ descriptor: Int32) -> OpenFile?
  /// Number of open descriptors (reserved ones included).
  var count: Int { get }
}

/// A descriptor table behind one lock (`AdaptiveMutex`): an array indexed by descriptor
/// number, and a hint below which no slot is free (so finding the lowest free number is
/// amortised O(1)).
final class LockedDescriptorTable: DescriptorTable {
  private enum Slot: Sendable {
    case free
    case reserved
    case open(OpenFile)
  }

  private struct Slots: Sendable {
    var slots: [Slot] = []
    var lowestMaybeFree = 0
    var count = 0

    mutating func release(_ number: Int) {
      slots[number] = .free
      count -= 1
      lowestMaybeFree = min(lowestMaybeFree, number)
      // Keep the array from holding a long tail of free slots after a burst.
      while let last = slots.last, case .free = last { slots.removeLast() }
    }
  }

  private let limit: Int
  private let table = AdaptiveMutex(Slots())

  init(limit: Int) { self.limit = limit }

  func reserve() throws(Errno) -> Int32 {
    try table.withLock { (table) throws(Errno) -> Int32 in
      var number = table.lowestMaybeFree
      while number < table.slots.count {
        if case .free = table.slots[number] { break }
        number += 1
      }
      guard number < limit else {
        table.lowestMaybeFree = number
        throw .tooManyOpenFiles
      }
      if number == table.slots.count {
        table.slots.append(.reserved)
      } else {
        table.slots[number] = .reserved
      }
      table.lowestMaybeFree = number + 1
      table.count += 1
      return Int32(number)
    }
  }

  func install(_ file: OpenFile, at descriptor: Int32) {
    table.withLock { table in
      let number = Int(descriptor)
      guard number < table.slots.count, case .reserved = table.slots[number] else {
        preconditionFailure("install without reserve")
      }
      table.slots[number] = .open(file)
    }
  }

  func cancel(_ descriptor: Int32) {
    table.withLock { table in
      let number = Int(descriptor)
      guard number < table.slots.count, case .reserved = table.slots[number] else {
        preconditionFailure("cancel without reserve")
      }
      table.release(number)
    }
  }

  func file(for descriptor: Int32) -> OpenFile? {
    table.withLock { table in
      let number = Int(descriptor)
      guard number >= 0, number < table.slots.count, case .open(let file) = table.slots[number] else {
        return nil
      }
      return file
    }
  }

  func remove(_ descriptor: Int32) -> OpenFile? {
    table.withLock { table in
      let number = Int(descriptor)
      guard number >= 0, number < table.slots.count, case .open(let file) = table.slots[number] else {
        return nil
      }
      table.release(number)
      return file
    }
  }

  var count: Int { table.withLock { $0.count } }
}
