@testable import ArenaBPF
import Foundation
import Testing

/// A hook that loads and attaches is not yet a hook that runs: with BPF LSM compiled
/// in but missing from the kernel's `lsm=` list, attaching succeeds and the program is
/// never called. A hook counts as active only after it reported a canary file.
extension KernelTests {
  /// Tracepoint programs that attach fine but never see the canary (an openat): the
  /// situation of an LSM hook that is attached and silent, made real on this kernel.
  static let silentCandidate = FileCreationFeed.HookCandidate(
    hook: .tracepoint, programs: ["tp_enter_mknodat", "tp_exit_mknodat"])

  @Test func aHookThatAttachesButNeverRunsIsNotReportedActive() throws {
    let start = ContinuousClock.now
    let feed = try FileCreationFeed(
      candidates: [Self.silentCandidate, .init(hook: .tracepoint, programs: FileCreationHook.tracepoint.programs)],
      structure: .mpmc, capacity: 64, process: getpid(), pidNamespace: nil)
    defer { feed.close() }
    #expect(feed.fallbackReasons.count == 1)
    #expect(feed.fallbackReasons.first?.contains("canary") == true, "\(feed.fallbackReasons)")
    #expect(feed.activeHook == .tracepoint)
    #expect(feed.attachedPrograms.contains("tp_enter_openat"))
    print("silent hook rejected after \(ContinuousClock.now - start)")
  }

  @Test func aFeedWhoseOnlyHookIsSilentDoesNotStart() throws {
    #expect {
      _ = try FileCreationFeed(candidates: [Self.silentCandidate], structure: .mpmc, capacity: 64, process: nil, pidNamespace: nil)
    } throws: { error in
      guard let error = error as? ArenaError, case .silentHook = error else { return false }
      return true
    }
  }

  @Test func theCanaryLeavesNothingBehind() throws {
    // The proof's own event and counters are gone when the feed is handed out.
    let feed = try FileCreationFeed(structure: .msqueue, capacity: 64, process: getpid())
    defer { feed.close() }
    let counters = feed.counters
    #expect(counters.published == 0 && counters.received == 0 && counters.polls == 0)
    #expect(try feed.verify() == 0)
  }
}
