import ArgumentParser

@main
struct ErmfsTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ermfs-tool",
        abstract: "ERMFS: a RAM-native, compress-on-close file system.",
        version: "0.4.0",
        subcommands: [
            DemoCommand.self, ExportCommand.self, ExecCommand.self, ServeCommand.self, GetCommand.self,
            ArenaCommand.self, WatchCommand.self, MountCommand.self, UnmountCommand.self, StatsCommand.self,
        ]
    )
}
