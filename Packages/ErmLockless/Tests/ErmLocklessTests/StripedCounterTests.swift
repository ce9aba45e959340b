import Synchronization
import XCTest

@testable import ErmLockless

final class StripedCounterTests: XCTestCase {
  func testUncontendedCounterStaysOneWord() {
    let counter = StripedCounter()
    for _ in 0..<1000 { counter.add(1, stripe: 0) }
    counter.add(-10, stripe: 3)
    XCTAssertEqual(counter.sum, 990)
    XCTAssertFalse(counter.isSpread)
  }

  func testContendedAddsAreNeverLost() {
    let counter = StripedCounter()
    let perThread = scaled(100_000)
    runThreads(4) { thread in
      for _ in 0..<perThread { counter.add(1, stripe: thread) }
      for _ in 0..<(perThread / 2) { counter.add(-1, stripe: thread) }
    }
    XCTAssertEqual(counter.sum, 4 * (perThread - perThread / 2))
  }
}
