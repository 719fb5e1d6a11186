import ArgumentParser

/// wstrace: a WebSocket protocol analyzer for captures and live traffic.
@main
struct WSTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wstrace",
        abstract: "Walk through every WebSocket connection in a capture: TCP handshake, HTTP Upgrade, frames, close, teardown.",
        discussion: """
            Exit status: 0 on success (also when violations were found), 1 on a fatal error \
            (unreadable or damaged capture, or one a directory had to leave out), 64 on bad usage.
            """,
        version: "0.1.0",
        subcommands: [
            Read.self,
            Follow.self,
            Report.self,
            Stats.self,
            CaptureCommand.self,
            Interfaces.self,
            Fields.self,
        ])
}
