import ErmIOUring
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IOUringTests {

  @Test func batchReadsReturnWhatBatchWritesStored() throws {
    let ring = try IOUring(depth: 8)
    let buffers = BufferSet()
    var files: [FileDescriptor] = []
    defer { files.forEach { try? $0.close() } }
    let payloads = (0..<30).map { pattern(count: 500 + $0 * 301, seed: 50 + $0) }
    for i in payloads.indices { files.append(try makeMemfd("read-\(i)")) }
    let written = try ring.write(payloads.indices.map {
      WriteRequest(descriptor: files[$0], bytes: buffers.add(payloads[$0]))
    })
    #expect(written.allSatisfy { $0.error == nil })
    let targets = payloads.map { buffers.make(count: $0.count) }
    let read = try ring.read(payloads.indices.map {
      ReadRequest(descriptor: files[$0], buffer: targets[$0])
    })
    for i in payloads.indices {
      #expect(read[i] == IOResult(bytesTransferred: payloads[i].count))
      #expect(Array(targets[i]) == payloads[i], "file \(i)")
    }
  }

  @Test func readPastEndOfFileStopsShortWithoutError() throws {
    let ring = try IOUring(depth: 4)
    let fd = try makeMemfd()
    defer { try? fd.close() }
    let bytes = pattern(count: 1000, seed: 9)
    _ = try fd.writeAll(toAbsoluteOffset: 0, bytes)
    let buffers = BufferSet()
    let target = buffers.make(count: 4096)
    let results = try ring.read([
      ReadRequest(descriptor: fd, buffer: target, offset: 200),
      ReadRequest(descriptor: fd, buffer: buffers.make(count: 10), offset: 5000),
    ])
    #expect(results == [IOResult(bytesTransferred: 800), IOResult(bytesTransferred: 0)])
    #expect(Array(target.prefix(800)) == Array(bytes.dropFirst(200)))
  }

  @Test func readFromBadDescriptorFailsOnlyThatOperation() throws {
    let ring = try IOUring(depth: 4)
    let fd = try makeMemfd()
    defer { try? fd.close() }
    _ = try fd.writeAll(toAbsoluteOffset: 0, [7, 7, 7])
    let buffers = BufferSet()
    let results = try ring.read([
      ReadRequest(descriptor: FileDescriptor(rawValue: -1), buffer: buffers.make(count: 3)),
      ReadRequest(descriptor: fd, buffer: buffers.make(count: 3)),
    ])
    #expect(results == [IOResult(bytesTransferred: 0, error: .badFileDescriptor), IOResult(bytesTransferred: 3)])
  }
}
