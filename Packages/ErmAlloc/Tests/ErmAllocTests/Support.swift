import CErmAlloc
import Glibc
import SystemPackage
@testable import ErmAlloc

let page = PageAllocator.pageSize

/// Physical frame number of the page holding `address`, from /proc/self/pagemap (bits
/// 0-54; readable as root). Same frame before and after a move means no byte was copied.
func physicalFrame(of address: UnsafeRawPointer) -> UInt64? {
  let fd = open("/proc/self/pagemap", O_RDONLY)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var entry: UInt64 = 0
  let offset = off_t(UInt(bitPattern: address) / UInt(page) * 8)
  guard pread(fd, &entry, 8, offset) == 8 else { return nil }
  guard entry >> 63 == 1 else { return nil }  // not present
  let frame = entry & ((1 << 55) - 1)
  return frame == 0 ? nil : frame
}

/// Fills `bytes` with a pattern derived from `seed` and each byte's position.
func fillPattern(_ bytes: UnsafeMutableRawBufferPointer, seed: UInt8) {
  for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ Int(seed)) }
}

func matchesPattern(_ bytes: UnsafeRawBufferPointer, seed: UInt8) -> Bool {
  for i in 0..<bytes.count where bytes[i] != UInt8(truncatingIfNeeded: i &* 31 &+ Int(seed)) {
    return false
  }
  return true
}

func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
  bytes.allSatisfy { $0 == 0 }
}

func pageRounded(_ n: Int) -> Int { (n + page - 1) / page * page }

/// Positions a stamp covers: 32 bytes at each end and one byte per page, so overlapping
/// or recycled memory is caught without touching every byte (debug builds are slow).
private func stampPositions(_ count: Int) -> [Int] {
  var positions = Array(0..<min(32, count)) + Array(max(0, count - 32)..<count)
  positions += stride(from: 0, to: count, by: page)
  return positions
}

func stamp(_ bytes: UnsafeMutableRawBufferPointer, seed: UInt8) {
  for i in stampPositions(bytes.count) { bytes[i] = seed &+ UInt8(truncatingIfNeeded: i) }
}

func hasStamp(_ bytes: UnsafeRawBufferPointer, seed: UInt8) -> Bool {
  stampPositions(bytes.count).allSatisfy { bytes[$0] == seed &+ UInt8(truncatingIfNeeded: $0) }
}

/// Resident bytes of a page-aligned range (mincore).
func residentBytes(_ address: UnsafeMutableRawPointer, _ length: Int) throws -> Int {
  var pages = 0
  let rc = erm_resident_pages(address, length, &pages)
  guard rc == 0 else { throw Errno(rawValue: rc) }
  return pages * page
}
