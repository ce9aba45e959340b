/// A key as the map stores it: boxed once, so a slot holds it in one atomic word, with
/// its hash. Immutable; shared by a table and the tables it is copied into.
final class HashMapKey<Key: Hashable & Sendable>: Sendable {
  let key: Key
  let hash: Int

  init(_ key: Key, hash: Int) {
    self.key = key
    self.hash = hash
  }
}
