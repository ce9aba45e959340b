import Foundation

/// A command-line compressor run file to file through the page cache, as a user runs it.
struct Tool {
  let name: String
  let path: String
  let arguments: [String]

  static func find(_ names: [String]) -> String? {
    for name in names {
      for dir in ["/usr/bin", "/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
        return "\(dir)/\(name)"
      }
    }
    return nil
  }

  /// Runs the tool with `input` as its file argument and stdout redirected to `output`.
  func run(input: URL, output: URL) {
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    guard let outHandle = try? FileHandle(forWritingTo: output) else { fail("cannot open \(output.path)") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments + [input.path]
    process.standardOutput = outHandle
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { fail("cannot run \(path): \(error)") }
    process.waitUntilExit()
    try? outHandle.close()
    guard process.terminationStatus == 0 else { fail("\(name) exited with \(process.terminationStatus)") }
  }
}

/// The compressors and decompressors ErmCompress is compared with, those installed.
enum Baselines {
  static func compressors() -> [Tool] {
    var tools: [Tool] = []
    if let gzip = Tool.find(["gzip"]) {
      tools.append(Tool(name: "gzip -6", path: gzip, arguments: ["-6", "-c", "-n"]))
      tools.append(Tool(name: "gzip -1", path: gzip, arguments: ["-1", "-c", "-n"]))
    }
    if let pigz = Tool.find(["pigz"]) {
      tools.append(Tool(name: "pigz -6 -p2", path: pigz, arguments: ["-6", "-p", "2", "-c", "-n"]))
    }
    if let igzip = Tool.find(["igzip"]) {
      tools.append(Tool(name: "igzip -1", path: igzip, arguments: ["-1", "-c", "-n"]))
      tools.append(Tool(name: "igzip -3", path: igzip, arguments: ["-3", "-c", "-n"]))
    }
    if let ld = Tool.find(["libdeflate-gzip"]) {
      tools.append(Tool(name: "libdeflate-gzip -6", path: ld, arguments: ["-6", "-c"]))
    }
    return tools
  }

  static func decompressors() -> [Tool] {
    var tools: [Tool] = []
    if let gzip = Tool.find(["gzip"]) { tools.append(Tool(name: "gzip -d", path: gzip, arguments: ["-d", "-c"])) }
    if let pigz = Tool.find(["pigz"]) { tools.append(Tool(name: "pigz -d", path: pigz, arguments: ["-d", "-c"])) }
    if let igzip = Tool.find(["igzip"]) { tools.append(Tool(name: "igzip -d", path: igzip, arguments: ["-d", "-c"])) }
    if let ld = Tool.find(["libdeflate-gunzip"]) {
      tools.append(Tool(name: "libdeflate-gunzip", path: ld, arguments: ["-d", "-c"]))
    }
    return tools
  }
}
