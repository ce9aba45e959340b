import Foundation

/// Wall and CPU seconds of one timed run.
struct Sample {
  var wall: Double
  /// CPU of the whole process (all threads), user + system, plus reaped children.
  var cpu: Double
}

func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }

/// CPU time of this process plus its reaped children (the command-line tools).
func processCPU() -> Double {
  var mine = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mine)
  var children = rusage()
  getrusage(RUSAGE_CHILDREN.rawValue, &children)
  return seconds(mine) + seconds(children.ru_utime) + seconds(children.ru_stime)
}

/// CPU time of the calling thread only.
func threadCPU() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
  return seconds(t)
}

func wallNow() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return seconds(t)
}

/// Times `body` up to `runs` times (fewer once `budget` seconds are spent), with `prepare`
/// run untimed before each; returns the samples.
func timeRuns(runs: Int, budget: Double, prepare: () throws -> Void = {}, _ body: () throws -> Void) rethrows -> [Sample] {
  var samples: [Sample] = []
  var spent = 0.0
  for _ in 0..<runs {
    try prepare()
    let cpu0 = processCPU()
    let wall0 = wallNow()
    try body()
    let sample = Sample(wall: wallNow() - wall0, cpu: processCPU() - cpu0)
    samples.append(sample)
    spent += sample.wall
    if spent > budget { break }
  }
  return samples
}

func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}

/// MB/s (10^6 bytes) of `bytes` over the median of the samples' wall times.
func wallRate(_ bytes: Int, _ samples: [Sample]) -> Double { Double(bytes) / 1e6 / median(samples.map(\.wall)) }
/// MB/s of `bytes` over the median CPU time (all threads): throughput per busy core.
func cpuRate(_ bytes: Int, _ samples: [Sample]) -> Double { Double(bytes) / 1e6 / median(samples.map(\.cpu)) }

func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
