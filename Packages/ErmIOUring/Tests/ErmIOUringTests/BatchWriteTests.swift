import CErmIOUring
import ErmIOUring
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IOUringTests {

  /// Writes `count` buffers of varied length into `count` fresh memfds through a ring of
  /// depth 16 and checks every result and every file's contents.
  func writeBatchIntoMemfds(count: Int) throws {
    let ring = try IOUring(depth: 16)
    #expect(ring.depth == 16)
    let buffers = BufferSet()
    var files: [FileDescriptor] = []
    defer { files.forEach { try? $0.close() } }
    var expected: [[UInt8]] = []
    var requests: [WriteRequest] = []
    for i in 0..<count {
      let fd = try makeMemfd("batch-\(i)")
      files.append(fd)
      let bytes = pattern(count: 1 + (i * 937) % 9000, seed: i)
      expected.append(bytes)
      requests.append(WriteRequest(descriptor: fd, bytes: buffers.add(bytes), offset: 0))
    }
    let results = try ring.write(requests)
    #expect(results.count == count)
    for i in 0..<count {
      #expect(results[i] == IOResult(bytesTransferred: expected[i].count), "operation \(i)")
      #expect(try contents(of: files[i]) == expected[i], "file \(i)")
    }
    #expect(ring.statistics.entriesSubmitted == count)
    // Never more than `depth` in flight: each io_uring_enter carries at most 16 entries.
    #expect(ring.statistics.enterCalls >= (count + 15) / 16)
  }

  @Test func batchOfOneWrite() throws { try writeBatchIntoMemfds(count: 1) }
  @Test func batchOfDepthMinusOneWrites() throws { try writeBatchIntoMemfds(count: 15) }
  @Test func batchOfExactlyDepthWrites() throws { try writeBatchIntoMemfds(count: 16) }
  @Test func batchOfTenTimesDepthWritesIsSplit() throws { try writeBatchIntoMemfds(count: 160) }

  @Test func ringOfDepthOneWritesABatchOneAtATime() throws {
    let ring = try IOUring(depth: 1)
    let fd = try makeMemfd()
    defer { try? fd.close() }
    let buffers = BufferSet()
    let pieces = (0..<7).map { pattern(count: 1000, seed: $0) }
    let requests = pieces.enumerated().map {
      WriteRequest(descriptor: fd, bytes: buffers.add($0.element), offset: Int64($0.offset * 1000))
    }
    let results = try ring.write(requests)
    #expect(results.allSatisfy { $0 == IOResult(bytesTransferred: 1000) })
    #expect(try contents(of: fd) == Array(pieces.joined()))
    #expect(ring.statistics.enterCalls == 7)
  }

  @Test func zeroLengthWriteSucceedsAndWritesNothing() throws {
    let ring = try IOUring(depth: 4)
    let fd = try makeMemfd()
    defer { try? fd.close() }
    let empty = UnsafeRawBufferPointer(start: nil, count: 0)
    let results = try ring.write([
      WriteRequest(descriptor: fd, bytes: empty, offset: 0),
      WriteRequest(descriptor: fd, bytes: empty, offset: 4096),
    ])
    #expect(results == [IOResult(bytesTransferred: 0), IOResult(bytesTransferred: 0)])
    #expect(try contents(of: fd).isEmpty)
  }

  @Test func zeroLengthWriteToBadDescriptorFailsWithEBADF() throws {
    let ring = try IOUring(depth: 4)
    let empty = UnsafeRawBufferPointer(start: nil, count: 0)
    let results = try ring.write([WriteRequest(descriptor: FileDescriptor(rawValue: 9999), bytes: empty)])
    #expect(results == [IOResult(bytesTransferred: 0, error: .badFileDescriptor)])
  }

  @Test func badDescriptorInTheMiddleFailsOnlyThatOperation() throws {
    let ring = try IOUring(depth: 8)
    let buffers = BufferSet()
    var files: [FileDescriptor?] = []
    defer { files.forEach { try? $0?.close() } }
    for i in 0..<11 { files.append(i == 5 ? nil : try makeMemfd("target-\(i)")) }
    // A descriptor number closed after all others were opened, so nothing owns it.
    let closed = try makeMemfd()
    try closed.close()
    let requests = (0..<11).map { i in
      WriteRequest(descriptor: files[i] ?? closed, bytes: buffers.add(pattern(count: 3000, seed: i)))
    }
    let results = try ring.write(requests)
    for i in 0..<11 {
      if i == 5 {
        #expect(results[i] == IOResult(bytesTransferred: 0, error: .badFileDescriptor))
      } else {
        #expect(results[i] == IOResult(bytesTransferred: 3000), "operation \(i)")
        #expect(try contents(of: files[i]!) == pattern(count: 3000, seed: i), "file \(i)")
      }
    }
  }

  @Test func negativeOffsetFailsOnlyThatOperationWithEINVAL() throws {
    let ring = try IOUring(depth: 4)
    let fd = try makeMemfd()
    defer { try? fd.close() }
    let buffers = BufferSet()
    let a = buffers.add([1, 2, 3]), b = buffers.add([4, 5, 6])
    let results = try ring.write([
      WriteRequest(descriptor: fd, bytes: a, offset: -1),
      WriteRequest(descriptor: fd, bytes: b, offset: 0),
    ])
    #expect(results == [IOResult(bytesTransferred: 0, error: .invalidArgument), IOResult(bytesTransferred: 3)])
    #expect(try contents(of: fd) == [4, 5, 6])
  }

  @Test func sparseWritesAtOffsetsLeaveZeroHoles() throws {
    let ring = try IOUring(depth: 4)
    let fd = try makeRegularFile()
    defer { try? fd.close() }
    let buffers = BufferSet()
    let offsets: [Int] = [0, 1 << 20, 5_000_001, 10 << 20]
    let pieces = offsets.indices.map { pattern(count: 4097, seed: 100 + $0) }
    let requests = offsets.indices.map {
      WriteRequest(descriptor: fd, bytes: buffers.add(pieces[$0]), offset: Int64(offsets[$0]))
    }
    let results = try ring.write(requests)
    #expect(results.allSatisfy { $0 == IOResult(bytesTransferred: 4097) })
    var expected = [UInt8](repeating: 0, count: (10 << 20) + 4097)
    for (i, offset) in offsets.enumerated() {
      expected.replaceSubrange(offset..<offset + 4097, with: pieces[i])
    }
    #expect(try contents(of: fd) == expected)
  }

  @Test func tilesOfOneRegularFileAssembleInOrder() throws {
    let ring = try IOUring(depth: 8)
    let fd = try makeRegularFile()
    defer { try? fd.close() }
    let whole = pattern(count: 100 * 4096 + 123, seed: 7)
    let buffers = BufferSet()
    let source = buffers.add(whole)
    var requests: [WriteRequest] = []
    var at = 0
    while at < whole.count {
      let n = min(4096, whole.count - at)
      requests.append(WriteRequest(descriptor: fd, bytes: UnsafeRawBufferPointer(rebasing: source[at..<at + n]), offset: Int64(at)))
      at += n
    }
    let results = try ring.write(requests)
    #expect(results.reduce(0) { $0 + (try! $1.get()) } == whole.count)
    #expect(try contents(of: fd) == whole)
  }

  @Test func shortWritesIntoAPipeAreResubmittedForTheRemainder() throws {
    let pipe = try DrainedPipe(capacity: 4096)
    let ring = try IOUring(depth: 4)
    let first = pattern(count: 256 * 1024, seed: 1)
    let second = pattern(count: 100_000, seed: 2)
    let buffers = BufferSet()
    // Depth-ordered on one pipe: each write must finish before the next starts, so one
    // request per batch keeps the stream order defined.
    let r1 = try ring.write([WriteRequest(descriptor: pipe.writeEnd, bytes: buffers.add(first))])
    let r2 = try ring.write([WriteRequest(descriptor: pipe.writeEnd, bytes: buffers.add(second))])
    #expect(r1 == [IOResult(bytesTransferred: first.count)])
    #expect(r2 == [IOResult(bytesTransferred: second.count)])
    // A 4 KiB pipe cannot take 256 KiB in one go: the kernel returned short writes.
    #expect(ring.statistics.resubmissions > 0)
    #expect(try pipe.finish() == first + second)
  }

  @Test func failureAfterPartialWriteReportsBytesWrittenAndTheError() throws {
    // A memfd sealed against growth accepts the bytes inside its size, then EPERM.
    let fd = try makeMemfd(sealing: true)
    defer { try? fd.close() }
    #expect(ftruncate(fd.rawValue, 8192) == 0)
    #expect(erm_add_seals(fd.rawValue, ERM_SEAL_GROW) == 0)
    let ring = try IOUring(depth: 4)
    let bytes = pattern(count: 12288, seed: 3)
    let buffers = BufferSet()
    let results = try ring.write([WriteRequest(descriptor: fd, bytes: buffers.add(bytes))])
    #expect(results == [IOResult(bytesTransferred: 8192, error: .notPermitted)])
    #expect(try contents(of: fd) == Array(bytes.prefix(8192)))
  }

  @Test func fileSizeLimitStopsAWriteWithEFBIGAfterTheAllowedBytes() throws {
    let fd = try makeRegularFile()
    defer { try? fd.close() }
    var saved = rlimit()
    #expect(getrlimit(RLIMIT_FSIZE_VALUE, &saved) == 0)
    let oldHandler = signal(SIGXFSZ, SIG_IGN)  // else the kernel kills us with SIGXFSZ
    var limited = saved
    limited.rlim_cur = 65536
    #expect(setrlimit(RLIMIT_FSIZE_VALUE, &limited) == 0)
    defer {
      _ = setrlimit(RLIMIT_FSIZE_VALUE, &saved)
      _ = signal(SIGXFSZ, oldHandler)
    }
    let ring = try IOUring(depth: 4)
    let bytes = pattern(count: 100_000, seed: 4)
    let buffers = BufferSet()
    let results = try ring.write([WriteRequest(descriptor: fd, bytes: buffers.add(bytes))])
    #expect(results == [IOResult(bytesTransferred: 65536, error: .fileTooLarge)])
    #expect(try contents(of: fd) == Array(bytes.prefix(65536)))
  }
}

/// RLIMIT_FSIZE imported as an enum case on Glibc; its raw value is what setrlimit takes.
let RLIMIT_FSIZE_VALUE = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)

extension IOUringTests {
  @Test func resultsFollowRequestOrderWhenASlowOperationCompletesLast() throws {
    // The pipe write needs many resubmissions and completes after the memfd writes.
    let pipe = try DrainedPipe(capacity: 4096)
    let ring = try IOUring(depth: 8)
    let buffers = BufferSet()
    var files: [FileDescriptor] = []
    defer { files.forEach { try? $0.close() } }
    let streamed = pattern(count: 512 * 1024, seed: 11)
    var requests = [WriteRequest(descriptor: pipe.writeEnd, bytes: buffers.add(streamed))]
    for i in 0..<20 {
      let fd = try makeMemfd("order-\(i)")
      files.append(fd)
      requests.append(WriteRequest(descriptor: fd, bytes: buffers.add(pattern(count: 100 + i, seed: 200 + i))))
    }
    let results = try ring.write(requests)
    #expect(results[0] == IOResult(bytesTransferred: streamed.count))
    for i in 0..<20 {
      #expect(results[i + 1] == IOResult(bytesTransferred: 100 + i), "operation \(i + 1)")
      #expect(try contents(of: files[i]) == pattern(count: 100 + i, seed: 200 + i))
    }
    #expect(try pipe.finish() == streamed)
  }
}
