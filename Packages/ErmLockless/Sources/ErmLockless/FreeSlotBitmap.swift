import Synchronization

/// Hands out the lowest free number below a fixed capacity, without locks.
///
/// Two levels of bits, 1 = free: `words` has one bit per number, `summary` one bit per
/// word meaning "this word may have a free bit". Taking a number scans the summary from
/// the bottom, then claims the lowest bit of the first word with a CAS; a word seen full
/// has its summary bit cleared and re-checked, and a freed number sets its word bit before
/// its summary bit, so a free number is never hidden from later scans.
///
/// Under concurrency "lowest" means: every lower number was seen taken during the scan
/// (a number freed behind the scan may be passed over, as if the free came later).
final class FreeSlotBitmap: Sendable {
  let capacity: Int
  private let words: AtomicWords
  private let summary: AtomicWords

  init(capacity: Int) {
    precondition(capacity > 0)
    self.capacity = capacity
    let wordCount = (capacity + 63) / 64
    words = AtomicWords(count: wordCount, initialValue: ~0)
    let tail = capacity % 64
    if tail != 0 { words[wordCount - 1].store((1 << UInt(tail)) - 1, ordering: .relaxed) }
    let summaryCount = (wordCount + 63) / 64
    summary = AtomicWords(count: summaryCount, initialValue: ~0)
    let summaryTail = wordCount % 64
    if summaryTail != 0 {
      summary[summaryCount - 1].store((1 << UInt(summaryTail)) - 1, ordering: .relaxed)
    }
  }

  deinit {
    words.deallocate()
    summary.deallocate()
  }

  /// Takes the lowest free number, or nil when every number is taken.
  func take() -> Int? {
    for group in 0..<summary.count {
      var skipBelow = 0
      while true {
        let candidates = summary[group].load(ordering: .sequentiallyConsistent) & (~0 << UInt(skipBelow))
        if candidates == 0 { break }
        let bit = candidates.trailingZeroBitCount
        let wordIndex = group * 64 + bit
        if let number = take(inWord: wordIndex) { return number }
        // Seen full: clear its summary bit, then re-check for a free that raced with us.
        summary[group].bitwiseAnd(~(1 << UInt(bit)), ordering: .sequentiallyConsistent)
        if words[wordIndex].load(ordering: .sequentiallyConsistent) != 0 {
          summary[group].bitwiseOr(1 << UInt(bit), ordering: .sequentiallyConsistent)
          continue  // try the same word again
        }
        if bit == 63 { break }
        skipBelow = bit + 1
      }
    }
    return nil
  }

  private func take(inWord wordIndex: Int) -> Int? {
    var bits = words[wordIndex].load(ordering: .sequentiallyConsistent)
    while bits != 0 {
      let bit = bits.trailingZeroBitCount
      let (exchanged, current) = words[wordIndex].compareExchange(
        expected: bits, desired: bits & ~(1 << UInt(bit)), ordering: .sequentiallyConsistent)
      if exchanged { return wordIndex * 64 + bit }
      bits = current
    }
    return nil
  }

  /// Gives `number` back (it must have come from `take`).
  func free(_ number: Int) {
    let wordIndex = number / 64
    let old = words[wordIndex].bitwiseOr(1 << UInt(number % 64), ordering: .sequentiallyConsistent).oldValue
    precondition(old & (1 << UInt(number % 64)) == 0, "number \(number) freed twice")
    summary[wordIndex / 64].bitwiseOr(1 << UInt(wordIndex % 64), ordering: .sequentiallyConsistent)
  }

  /// Whether `number` is free now (a momentary answer).
  func isFree(_ number: Int) -> Bool {
    words[number / 64].load(ordering: .acquiring) & (1 << UInt(number % 64)) != 0
  }
}
