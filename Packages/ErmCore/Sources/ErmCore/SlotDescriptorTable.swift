import ErmLockless
import SystemPackage

/// The lock-free mode's descriptor table: ErmLockless's `SlotTable` (a state+generation
/// word and an object word per number, lowest free number from a bitmap;
/// docs/decisions/lockless-descriptor-table.md). A lookup re-reads the slot's generation
/// after reading the object, so it never returns a description that was reserved but not
/// installed, nor a newer one installed under the same number while it looked; a removed
/// description is retired into the file system's epoch domain, so a lookup in flight can
/// still take its reference (`OpenFile.beginCall` then tells it that it was closed).
///
/// The table is allocated for the whole limit up front (16 bytes per number plus the
/// bitmap), so the lock-free mode takes at most `maximumCapacity` descriptors.
final class SlotDescriptorTable: DescriptorTable {
  /// Largest `maxDescriptors` the lock-free mode accepts (256 MiB of slots).
  static let maximumCapacity = 1 << 24

  private let slots: SlotTable<OpenFile>

  init(limit: Int, domain: EpochDomain) {
    slots = SlotTable(capacity: limit, domain: domain)
  }

  func reserve() throws(Errno) -> Int32 { try slots.reserve().number }

  func install(_ file: OpenFile, at descriptor: Int32) { slots.install(file, at: descriptor) }

  func cancel(_ descriptor: Int32) { slots.cancel(descriptor) }

  func file(for descriptor: Int32) -> OpenFile? { slots.lookup(descriptor) }

  func remove(_ descriptor: Int32) -> OpenFile? { slots.remove(descriptor) }

  var count: Int { slots.count }
}
