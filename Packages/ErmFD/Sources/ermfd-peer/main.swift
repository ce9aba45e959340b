// A second process for ErmFD's fd-passing tests (not installed anywhere):
//   ermfd-peer get SOCKET PATH [sealed]   fetch PATH, write its bytes to stdout;
//                                         with "sealed", also report whether a write
//                                         to the received memfd fails ("write: EPERM")
//   ermfd-peer serve SOCKET               serve an ErmFS holding /hello until stdin closes
//   ermfd-peer fetch-each SOCKET PATH COUNT REPEAT
//                                         open COUNT connections one after another, fetch
//                                         PATH REPEAT times on each; print a line per
//                                         connection with each fetch's errno (0: a memfd),
//                                         then "ready"; keep them open until stdin closes
//   ermfd-peer as UID COMMAND ...         become UID (and gid UID) first, for good: a real
//                                         peer of another user (needs root)
import CErmFD
import CErmFDPeer
import ErmCore
import ErmFD
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

func fail(_ text: String, _ code: Int32 = 2) -> Never {
  var line = Array((text + "\n").utf8)
  _ = Glibc.write(2, &line, line.count)
  exit(code)
}

var args = CommandLine.arguments
if args.count >= 4 && args[1] == "as" {
  guard let uid = UInt32(args[2]) else { fail("as: bad uid \(args[2])", 64) }
  guard ermfd_peer_become_user(uid, uid) == 0 else { fail("as \(uid): errno \(errno)") }
  args.removeSubrange(1...2)
}
guard args.count >= 3 else {
  fail("usage: ermfd-peer [as UID] get SOCKET PATH [sealed] | serve SOCKET | fetch-each SOCKET PATH COUNT REPEAT", 64)
}

func say(_ text: String) {
  var line = Array((text + "\n").utf8)
  _ = Glibc.write(1, &line, line.count)
}

switch args[1] {
case "get" where args.count >= 4:
  let sealed = args.count >= 5 && args[4] == "sealed"
  let client: ExportClient
  do { client = try ExportClient(socketPath: args[2]) } catch { fail("connect: \(error.rawValue) \(error)") }
  let fd: FileDescriptor
  do {
    fd = try client.fetch(args[3], options: sealed ? .sealed : [])
  } catch {
    fail("errno \(error.rawValue): \(client.lastErrorMessage ?? "")")
  }
  var st = stat()
  guard fstat(fd.rawValue, &st) == 0 else { fail("fstat failed") }
  var buffer = [UInt8](repeating: 0, count: Int(st.st_size))
  let n = buffer.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress, $0.count, 0) }
  guard n == buffer.count else { fail("short read") }
  if sealed {
    var byte: UInt8 = 0
    let w = pwrite(fd.rawValue, &byte, 1, 0)
    buffer = Array((w < 0 && errno == EPERM ? "write: EPERM\n" : "write: allowed\n").utf8)
  }
  var done = 0
  while done < buffer.count {
    let w = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
    guard w > 0 else { fail("stdout write failed") }
    done += w
  }
  exit(0)

case "serve":
  do {
    let fs = try ErmFS()
    let fd = try fs.open("/hello", .writeOnly, options: .create)
    try fs.write(fd, bytes: Array("hello from the server process\n".utf8))
    try fs.close(fd)
    let server = try ExportServer(fs: fs, socketPath: args[2])
    stopWhenStandardInputCloses(server)
    server.run()
    exit(0)
  } catch {
    fail("serve: \(error)")
  }

case "fetch-each" where args.count >= 6:
  guard let count = Int(args[4]), let repeats = Int(args[5]) else { fail("fetch-each: bad numbers", 64) }
  var clients: [ExportClient] = []
  for _ in 0..<count {
    let client: ExportClient
    do { client = try ExportClient(socketPath: args[2]) } catch {
      say("connect=\(error.rawValue)")
      continue
    }
    var results: [String] = []
    for _ in 0..<repeats {
      do {
        let fd = try client.fetch(args[3])
        try? fd.close()
        results.append("0")
      } catch {
        results.append("\(error.rawValue)")
      }
    }
    say(results.joined(separator: " "))
    clients.append(client)
  }
  say("ready")
  var byte: UInt8 = 0
  while Glibc.read(0, &byte, 1) > 0 {}
  exit(0)

default:
  fail("unknown command \(args[1])", 64)
}
