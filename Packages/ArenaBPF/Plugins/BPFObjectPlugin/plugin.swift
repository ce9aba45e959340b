import Foundation
import PackagePlugin

/// Compiles every `bpf/*.bpf.c` of the repository with the toolchain's clang (which has
/// the BPF back end; the distribution's clang 14 lacks arena and load-acquire support),
/// strips DWARF but keeps BTF, and embeds each object in the target as a Swift source.
/// No object file is ever committed; see docs/decisions/bpf-build.md.
@main
struct BPFObjectPlugin: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let bpfDirectory = context.package.directoryURL
      .appending(path: "../../bpf").standardizedFileURL
    let includeDirectory = bpfDirectory.appending(path: "include")
    let fileManager = FileManager.default
    let sources = try fileManager.contentsOfDirectory(atPath: bpfDirectory.path)
      .filter { $0.hasSuffix(".bpf.c") }
      .sorted()
    let headers = (try? fileManager.contentsOfDirectory(atPath: includeDirectory.path)) ?? []
    let headerURLs = headers.filter { $0.hasSuffix(".h") }.map { includeDirectory.appending(path: $0) }

    let clang = try context.tool(named: "clang").url
    let objcopy = try context.tool(named: "llvm-objcopy").url
    let embed = try context.tool(named: "bpf-embed").url
    let work = context.pluginWorkDirectoryURL

    #if arch(x86_64)
      let multiarch = "x86_64-linux-gnu"
      let targetArch = "x86"
    #elseif arch(arm64)
      let multiarch = "aarch64-linux-gnu"
      let targetArch = "arm64"
    #else
      #error("unsupported host architecture for BPF headers")
    #endif

    // One command for all programs, with the bpf/ directory itself among the inputs, so
    // a newly added program is compiled even by a build that did not re-plan.
    let swiftFile = work.appending(path: "EmbeddedBPFObjects.swift")
    let command = Command.buildCommand(
      displayName: "Compiling BPF programs in bpf/ with the toolchain's clang",
      executable: embed,
      arguments: [
        clang.path, objcopy.path, work.path, bpfDirectory.path, swiftFile.path, "--",
        "-target", "bpf", "-mcpu=v4", "-O2", "-g", "-Wall", "-Werror",
        "-D__TARGET_ARCH_\(targetArch)",
        "-I", includeDirectory.path,
        "-idirafter", "/usr/include/\(multiarch)",
      ],
      inputFiles: [bpfDirectory, includeDirectory, clang, objcopy]
        + sources.map { bpfDirectory.appending(path: $0) } + headerURLs,
      outputFiles: [swiftFile])
    return [command]
  }
}
