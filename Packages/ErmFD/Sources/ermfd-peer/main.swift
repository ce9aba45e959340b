// A second process for ErmFD's fd-passing tests (not installed anywhere):
//   ermfd-peer get SOCKET PATH [sealed]   fetch PATH, write its bytes to stdout;
//                                         with "sealed", also report whether a write
//                                         to the received memfd fails ("write: EPERM")
//   ermfd-peer serve SOCKET               serve an ErmFS holding /hello until stdin closes
import CErmFD
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

let args = CommandLine.arguments
guard args.count >= 3 else { fail("usage: ermfd-peer get SOCKET PATH [sealed] | serve SOCKET", 64) }

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

default:
  fail("unknown command \(args[1])", 64)
}
